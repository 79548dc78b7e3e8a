/* Four threads share one handle: each records orders and reads; totals must add up. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#include "check.h"

#define THREADS 4
#define ORDERS 50

typedef struct {
    crm_t *db;
    int index;
    int failures;
} job;

static void *work(void *arg) {
    job *j = arg;
    char ext[64];
    for (int i = 0; i < ORDERS; i++) {
        snprintf(ext, sizeof ext, "T%d-O%d", j->index, i);
        crm_order_in o = {ext, 0, "C-1", 1767225600000000LL + i, CRM_ORDER_COMPLETED, "USD", 100, NULL};
        crm_outcome outcome;
        if (crm_order_record(j->db, &o, NULL, 0, NULL, &outcome) != CRM_OK || outcome != CRM_OUTCOME_CREATED)
            j->failures++;
        /* A failing call on this thread: its last error is this thread's own. */
        if (crm_customer_get(j->db, -j->index - 1, &(char *){NULL}) != CRM_ERR_NOT_FOUND ||
            crm_last_error_code() != CRM_ERR_NOT_FOUND)
            j->failures++;
        crm_counts n;
        if (crm_counts_get(j->db, &n) != CRM_OK) j->failures++;
    }
    return NULL;
}

int main(void) {
    crm_t *db = NULL;
    char path[] = "threads.db";
    remove(path);
    CHECK_OK(crm_open(path, &db));
    CHECK_OK(crm_customer_upsert(db, "{\"external_id\":\"C-1\",\"name\":\"Ada\"}", NULL, NULL, NULL));
    pthread_t t[THREADS];
    job jobs[THREADS];
    for (int i = 0; i < THREADS; i++) {
        jobs[i] = (job){db, i, 0};
        CHECK(pthread_create(&t[i], NULL, work, &jobs[i]) == 0);
    }
    for (int i = 0; i < THREADS; i++) {
        CHECK(pthread_join(t[i], NULL) == 0);
        CHECK(jobs[i].failures == 0);
    }
    crm_counts n;
    CHECK_OK(crm_counts_get(db, &n));
    CHECK(n.orders == THREADS * ORDERS);
    crm_customer_stats s;
    CHECK_OK(crm_customer_stats_get(db, 1, &s));
    CHECK(s.order_count == THREADS * ORDERS);
    /* The main thread's last error is untouched by the workers' failures. */
    CHECK(crm_last_error_code() == CRM_OK);
    CHECK_OK(crm_close(db));
    remove(path);
    remove("threads.db-wal");
    remove("threads.db-shm");
    CHECK_DONE();
}
