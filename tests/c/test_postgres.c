/* A PostgreSQL database opened by URL through crm_open, as an ERP host on several
 * application servers would: the same calls as on a SQLite file, two handles sharing one
 * database, and the errors a wrong URL, wrong credentials or no server give.
 * The URL of an empty scratch database comes from CRM_TEST_PG (make test-c sets it);
 * without it the program says so and exits 0. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

int main(void) {
    const char *url = getenv("CRM_TEST_PG");
    if (url == NULL || url[0] == '\0') {
        printf("CRM_TEST_PG is not set: skipped\n");
        return 0;
    }
    crm_t *a = NULL, *b = NULL;
    int64_t id = 0, order = 0;
    enum crm_outcome outcome;

    CHECK_OK(crm_open(url, &a));
    CHECK_OK(crm_open(url, &b));
    CHECK(a != NULL && b != NULL);

    crm_customer_in c = {"C-1", "Ada", "ada@example.com", NULL, NULL, NULL};
    CHECK_OK(crm_customer_upsert_basic(a, &c, &id, &outcome));
    CHECK(id > 0);
    const char *o = "{\"external_id\":\"O-1\",\"customer_external_id\":\"C-1\","
                    "\"occurred_at\":\"2026-03-01T10:00:00Z\",\"currency\":\"EUR\",\"total_minor\":1250}";
    /* Written through one handle, sent again through the other: one order. */
    CHECK_OK(crm_order_record_json(a, o, &order, &outcome, NULL));
    CHECK(outcome == CRM_OUTCOME_CREATED);
    CHECK_OK(crm_order_record_json(b, o, NULL, &outcome, NULL));
    CHECK(outcome == CRM_OUTCOME_UNCHANGED);
    crm_customer_stats st;
    CHECK_OK(crm_customer_stats_get(b, id, &st));
    CHECK(st.order_count == 1);
    crm_counts n;
    CHECK_OK(crm_counts_get(a, &n));
    CHECK(n.customers == 1 && n.orders == 1);
    crm_close(a);
    crm_close(b);

    /* A malformed URL names the argument; an unknown scheme too. */
    crm_t *db = NULL;
    CHECK_ERR(crm_open("postgresql://localhost:notaport/db", &db), CRM_ERR_VALIDATION, "url", "url");
    CHECK(db == NULL);
    CHECK_ERR(crm_open("mysql://localhost/db", &db), CRM_ERR_VALIDATION, "scheme", "url");
    /* No server listening: unavailable (a retry later may work). */
    CHECK_ERR(crm_open("postgresql://crm:pw@127.0.0.1:1/db", &db), CRM_ERR_UNAVAILABLE, "storage error (unavailable)",
              NULL);
    /* Wrong credentials: a storage error of kind auth, and the password is not echoed. */
    char wrong[4096];
    const char *at = strchr(url, '@');
    const char *scheme_end = strstr(url, "://");
    if (at != NULL && scheme_end != NULL) {
        const char *user = scheme_end + 3;
        const char *colon = memchr(user, ':', (size_t)(at - user));
        size_t user_len = colon ? (size_t)(colon - user) : (size_t)(at - user);
        int w = snprintf(wrong, sizeof wrong, "%.*s:not-the-password%s", (int)(user - url + user_len), url, at);
        CHECK(w > 0 && (size_t)w < sizeof wrong);
        CHECK_ERR(crm_open(wrong, &db), CRM_ERR_STORAGE, "storage error (auth)", NULL);
        CHECK(strstr(crm_last_error_message(), "not-the-password") == NULL);
    }
    CHECK(db == NULL);
    CHECK_DONE();
}
