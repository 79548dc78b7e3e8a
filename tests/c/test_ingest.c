/* Bulk import cancelled from the progress callback: the batches committed before the
 * callback said stop stay, nothing after them is read, the report says "cancelled", and a
 * second import of the same file completes the rest. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check.h"

struct stop_at {
    uint64_t rows;    /* cancel once this many rows are done */
    uint64_t calls;   /* calls seen */
    int64_t total;    /* last total reported */
};

static bool stop_at(uint64_t done, int64_t total, void *user) {
    struct stop_at *s = user;
    s->calls++;
    s->total = total;
    return done < s->rows;
}

/* Checks that `json` contains `needle`, then frees it. */
static void expect_and_free(char *json, const char *needle) {
    CHECK(json != NULL && strstr(json, needle) != NULL);
    if (json && !strstr(json, needle)) fprintf(stderr, "  in: %s\n  wanted: %s\n", json, needle);
    crm_string_free(json);
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : ".";
    char path[4096], csv[4096];
    crm_t *db = NULL;
    char *json = NULL;
    crm_counts n;

    snprintf(path, sizeof path, "%s/ingest.db", dir);
    remove(path);
    snprintf(csv, sizeof csv, "%s/ingest_customers.csv", dir);
    FILE *f = fopen(csv, "w");
    CHECK(f != NULL);
    if (!f) CHECK_DONE();
    fputs("external_id,name\n", f);
    for (int i = 1; i <= 10; i++) fprintf(f, "C-%d,Customer %d\n", i, i);
    fclose(f);
    CHECK_OK(crm_open(path, &db));

    /* Batches of 3: the callback stops after the second batch (6 rows). */
    struct stop_at s = {6, 0, 0};
    CHECK_OK(crm_ingest_file(db, "customers", csv, "{\"batch_size\":3}", stop_at, &s, &json));
    CHECK(s.calls == 2 && s.total == 10);
    CHECK(json && strstr(json, "\"rows\":6,\"created\":6"));
    expect_and_free(json, "\"cancelled\":true");
    CHECK_OK(crm_counts_get(db, &n));
    CHECK(n.customers == 6);

    /* The same file again in one batch, the callback saying stop after it: no row was
     * left, so nothing is cancelled. The first six are unchanged, the rest created. */
    struct stop_at rest = {0, 0, 0};
    CHECK_OK(crm_ingest_file(db, "customers", csv, "{\"batch_size\":20}", stop_at, &rest, &json));
    CHECK(rest.calls == 1);
    CHECK(json && strstr(json, "\"created\":4") && strstr(json, "\"unchanged\":6"));
    expect_and_free(json, "\"cancelled\":false");
    CHECK_OK(crm_counts_get(db, &n));
    CHECK(n.customers == 10);

    CHECK_OK(crm_close(db));
    remove(csv);
    CHECK_DONE();
}
