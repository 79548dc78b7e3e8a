/* Identities from C on a real SQLite file: a customer linked to a till's key, upserted
 * through it (keeping its own external id), a new customer created from a web shop's key,
 * a CSV of till orders ingested with the source, the identities listed; then bad input,
 * each with its code and field. Every string handed out is freed (valgrind or ASan). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check.h"

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : ".";
    char path[4096], csv[4096], want[64];
    crm_t *db = NULL;
    char *out = NULL;
    int64_t id = 0, web = 0;
    crm_outcome outcome;

    snprintf(path, sizeof path, "%s/sources.db", dir);
    remove(path);
    CHECK_OK(crm_open(path, &db));
    CHECK_OK(crm_customer_upsert(db, "{\"external_id\":\"C-1\",\"name\":\"Ada\"}", &id, NULL, NULL));
    CHECK_OK(crm_identity_add(db, id, "pos", "P-77"));
    CHECK_OK(crm_identity_add(db, id, "pos", "P-77")); /* again: the same */

    int64_t got = 0;
    CHECK_OK(crm_customer_upsert_from(db, "pos", "{\"external_id\":\"P-77\",\"email\":\"ada@example.com\"}", &got,
                                      &outcome, &out));
    CHECK(got == id && outcome == CRM_OUTCOME_UPDATED);
    CHECK(out != NULL && strstr(out, "\"external_id\":\"C-1\"") != NULL && strstr(out, "ada@example.com") != NULL);
    crm_string_free(out);
    out = NULL;
    CHECK_OK(crm_customer_upsert_from(db, "webshop", "{\"external_id\":\"W-9\",\"name\":\"Bo\"}", &web, &outcome, NULL));
    CHECK(web != id && outcome == CRM_OUTCOME_CREATED);
    CHECK_OK(crm_customer_get_by_identity(db, "webshop", "W-9", &out));
    snprintf(want, sizeof want, "{\"id\":%lld,\"external_id\":null", (long long)web);
    CHECK(out != NULL && strncmp(out, want, strlen(want)) == 0);
    crm_string_free(out);
    out = NULL;

    /* Till orders, keyed by the till's customer ids. */
    snprintf(csv, sizeof csv, "%s/till_orders.csv", dir);
    FILE *f = fopen(csv, "w");
    CHECK(f != NULL);
    if (f != NULL) {
        fputs("external_id,customer_external_id,occurred_at,currency,total_minor\n"
              "T-1,P-77,2026-03-01T10:00:00Z,EUR,1200\n"
              "T-2,P-404,2026-03-01T11:00:00Z,EUR,900\n",
              f);
        fclose(f);
    }
    CHECK_OK(crm_ingest_file(db, "orders", csv, "{\"source\":\"pos\"}", NULL, NULL, &out));
    CHECK(out != NULL && strstr(out, "\"created\":1") != NULL && strstr(out, "\"failed\":1") != NULL);
    crm_string_free(out);
    out = NULL;
    crm_customer_stats s;
    CHECK_OK(crm_customer_stats_get(db, id, &s));
    CHECK(s.order_count == 1);

    CHECK_OK(crm_customer_identities(db, id, &out));
    CHECK(out != NULL && strstr(out, "{\"source\":\"pos\",\"external_id\":\"P-77\"") != NULL);
    crm_string_free(out);
    out = NULL;

    /* Bad input. */
    CHECK_ERR(crm_identity_add(db, web, "pos", "P-77"), CRM_ERR_CONFLICT, "unlink it first", NULL);
    CHECK_ERR(crm_identity_add(db, id, "point of sale", "K"), CRM_ERR_VALIDATION, "letters", "source");
    CHECK_ERR(crm_identity_add(db, id, "", "K"), CRM_ERR_VALIDATION, "letters", "source");
    CHECK_ERR(crm_identity_add(db, 999, "pos", "K"), CRM_ERR_NOT_FOUND, "not found", NULL);
    CHECK_ERR(crm_identity_add(db, id, NULL, "K"), CRM_ERR_NULL_ARGUMENT, "source", "source");
    CHECK_ERR(crm_customer_upsert_from(db, "a/b", "{\"external_id\":\"K\",\"name\":\"X\"}", NULL, NULL, NULL),
              CRM_ERR_VALIDATION, "letters", "source");
    CHECK_ERR(crm_ingest_file(db, "orders", csv, "{\"source\":\"point of sale\"}", NULL, NULL, &out), CRM_ERR_VALIDATION,
              "letters", "source");
    CHECK(out == NULL);
    CHECK_ERR(crm_customer_get_by_identity(db, "pos", "nobody", &out), CRM_ERR_NOT_FOUND, "not found", NULL);
    CHECK_OK(crm_identity_remove(db, "pos", "P-77"));
    CHECK_ERR(crm_identity_remove(db, "pos", "P-77"), CRM_ERR_NOT_FOUND, "not found", NULL);

    remove(csv);
    crm_close(db);
    CHECK_DONE();
}
