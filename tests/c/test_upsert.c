/* Upserts never lose what the host did not send (JSON: absent keeps, null clears; typed:
 * NULL keeps), replace only on request; external ids have one normal form on the way in and
 * in lookups (typed id lookups with CRM_ERR_NOT_FOUND); national phone numbers are read with
 * the record's country; an import with duplicate ids, upper-case headers and extra columns
 * reports the duplicates and re-imports without any change. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* Checks that `json` contains `needle` (or, with `want` 0, does not), then frees it. */
static void expect_and_free(char *json, const char *needle, int want) {
    int found = json != NULL && strstr(json, needle) != NULL;
    CHECK(json != NULL && found == want);
    if (json && found != want) fprintf(stderr, "  in: %s\n  %s: %s\n", json, want ? "wanted" : "unwanted", needle);
    crm_string_free(json);
}

/* The customer with this store id, as JSON (freed by expect_and_free). */
static char *customer(crm_t *db, int64_t id) {
    char *json = NULL;
    CHECK_OK(crm_customer_get(db, id, &json));
    return json;
}

/* Number of change-feed entries. */
static size_t feed_len(crm_t *db) {
    char *json = NULL;
    size_t n = 0;
    CHECK_OK(crm_changes_since(db, 0, 10000, &json));
    for (const char *p = json; p && (p = strstr(p, "\"seq\"")) != NULL; p++) n++;
    crm_string_free(json);
    return n;
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : ".";
    char path[4096], csv[4096];
    crm_t *db = NULL;
    int64_t id = 0, again = 0, other = 0;
    crm_outcome outcome;
    char *json = NULL;
    crm_counts n;

    snprintf(path, sizeof path, "%s/upsert.db", dir);
    remove(path);
    CHECK_OK(crm_open(path, &db));

    /* Marketing data set elsewhere, then the ERP's typed sync with its few fields. */
    CHECK_OK(crm_customer_upsert(db,
        "{\"external_id\": \"C-1\", \"name\": \"Ada\", \"title\": \"CEO\", \"tags\": [\"vip\"],"
        " \"attributes\": {\"plan\": \"gold\", \"n\": 1}, \"address\": {\"country\": \"GB\", \"city\": \"London\"},"
        " \"consents\": {\"email\": {\"granted\": true, \"at\": \"2026-01-01T00:00:00Z\"}}}",
        &id, &outcome, NULL));
    CHECK(outcome == CRM_OUTCOME_CREATED);
    crm_customer_in erp = {"C-1", "Ada Lovelace", "ada@example.com", NULL, NULL, NULL};
    CHECK_OK(crm_customer_upsert_basic(db, &erp, &again, &outcome));
    CHECK(again == id && outcome == CRM_OUTCOME_UPDATED);
    json = customer(db, id);
    CHECK(json && strstr(json, "\"tags\":[\"vip\"]") && strstr(json, "\"plan\":\"gold\"") &&
          strstr(json, "\"email\":{\"granted\":true") && strstr(json, "\"title\":\"CEO\"") &&
          strstr(json, "\"city\":\"London\""));
    expect_and_free(json, "\"name\":\"Ada Lovelace\"", 1);
    CHECK_OK(crm_customer_upsert_basic(db, &erp, &again, &outcome));
    CHECK(outcome == CRM_OUTCOME_UNCHANGED);
    /* A NULL name keeps the stored one; a new customer needs one, and nothing is written. */
    crm_customer_in no_name = {"C-1", NULL, NULL, NULL, "Analytical Engines", NULL};
    CHECK_OK(crm_customer_upsert_basic(db, &no_name, NULL, &outcome));
    expect_and_free(customer(db, id), "\"name\":\"Ada Lovelace\"", 1);
    size_t feed = feed_len(db);
    crm_customer_in new_no_name = {"C-2", NULL, "b@example.com", NULL, NULL, NULL};
    CHECK_ERR(crm_customer_upsert_basic(db, &new_no_name, NULL, NULL), CRM_ERR_VALIDATION, "required", "name");
    CHECK_OK(crm_counts_get(db, &n));
    CHECK(n.customers == 1 && feed_len(db) == feed);

    /* JSON: null clears, objects merge member by member. */
    CHECK_OK(crm_customer_upsert(db,
        "{\"external_id\": \"C-1\", \"title\": null, \"attributes\": {\"n\": null}, \"address\": {\"city\": null}}",
        NULL, &outcome, &json));
    CHECK(outcome == CRM_OUTCOME_UPDATED);
    CHECK(json && strstr(json, "\"title\":null") && strstr(json, "\"attributes\":{\"plan\":\"gold\"}") &&
          strstr(json, "\"country\":\"GB\"") && strstr(json, "\"city\":null"));
    expect_and_free(json, "\"tags\":[\"vip\"]", 1);
    /* Replace only on request: what the body leaves out is cleared. */
    CHECK_OK(crm_customer_upsert_replace(db, "{\"external_id\": \"C-1\", \"name\": \"Ada\"}", NULL, &outcome, &json));
    CHECK(json && strstr(json, "\"tags\":[]") && strstr(json, "\"attributes\":{}"));
    expect_and_free(json, "\"email\":null", 1);

    /* External ids: the "C-1" followed by U+200B, a BOM in front, an NBSP behind. */
    CHECK_OK(crm_customer_upsert(db, "{\"external_id\": \"C-1\\u200b\", \"name\": \"Ada\"}", &again, &outcome, NULL));
    CHECK(again == id && outcome == CRM_OUTCOME_UNCHANGED);
    CHECK_OK(crm_customer_id_by_external_id(db, "\xef\xbb\xbf" "C-1\xc2\xa0", &again));
    CHECK(again == id);
    CHECK_OK(crm_customer_get_by_external_id(db, "C-1\xe2\x80\x8b", &json));
    expect_and_free(json, "\"external_id\":\"C-1\"", 1);
    CHECK_ERR(crm_customer_id_by_external_id(db, "C-404", &other), CRM_ERR_NOT_FOUND, "C-404", NULL);
    CHECK_ERR(crm_customer_id_by_external_id(db, "C\x01" "1", &other), CRM_ERR_VALIDATION, "control", "external_id");
    CHECK_ERR(crm_customer_id_by_external_id(db, "C-1", NULL), CRM_ERR_NULL_ARGUMENT, "out_id", "out_id");
    CHECK_OK(crm_counts_get(db, &n));
    CHECK(n.customers == 1);
    crm_order_in order = {"O-1\xe2\x80\x8b", 0, " C-1", 1767225600000000, CRM_ORDER_COMPLETED, "EUR", 500, NULL};
    int64_t order_id = 0, found = 0;
    CHECK_OK(crm_order_record(db, &order, NULL, 0, &order_id, NULL));
    CHECK_OK(crm_order_id_by_external_id(db, "O-1", &found));
    CHECK(found == order_id);
    CHECK_ERR(crm_order_id_by_external_id(db, "O-2", &found), CRM_ERR_NOT_FOUND, "O-2", NULL);
    int64_t interaction_id = 0;
    CHECK_OK(crm_interaction_add(db,
        "{\"external_id\": \"I-1\", \"customer_external_id\": \"C-1\\u2060\", \"kind\": \"call\","
        " \"occurred_at\": \"2026-01-01T00:00:00Z\"}", &interaction_id, NULL, NULL));
    CHECK_OK(crm_interaction_id_by_external_id(db, "\xe2\x80\x8bI-1", &found));
    CHECK(found == interaction_id);
    CHECK_ERR(crm_interaction_id_by_external_id(db, "I-2", &found), CRM_ERR_NOT_FOUND, "I-2", NULL);

    /* A national number is read with the record's country (no default region is set). */
    crm_customer_in sg = {"C-SG", "Siew", NULL, "9123 4567", NULL, "SG"};
    CHECK_OK(crm_customer_upsert_basic(db, &sg, &other, NULL));
    expect_and_free(customer(db, other), "\"phone\":\"+6591234567\"", 1);
    crm_customer_in gb = {"C-GB", "Gil", NULL, "9123 4567", NULL, "GB"};
    CHECK_ERR(crm_customer_upsert_basic(db, &gb, NULL, NULL), CRM_ERR_VALIDATION, "GB", "phone");

    /* An ERP export: upper-case headers, an extra column, a duplicate id. */
    snprintf(csv, sizeof csv, "%s/upsert_customers.csv", dir);
    write_file(csv, "EXTERNAL_ID,Name,Branch\nC-10,Ten,North\nC-11,Eleven,South\nC-10,Ten again,East\n");
    CHECK_ERR(crm_ingest_file(db, "customers", csv, NULL, NULL, NULL, &json), CRM_ERR_VALIDATION, "Branch", "header");
    CHECK(json == NULL);
    const char *opts = "{\"ignore_unknown_columns\": true, \"batch_size\": 2}";
    CHECK_OK(crm_ingest_file(db, "customers", csv, opts, NULL, NULL, &json));
    CHECK(json && strstr(json, "\"created\":2") && strstr(json, "\"failed\":1") &&
          strstr(json, "\"ignored_columns\":[\"Branch\"]"));
    expect_and_free(json, "duplicate external_id \\\"C-10\\\": row 2 was applied", 1);
    feed = feed_len(db);
    CHECK_OK(crm_ingest_file(db, "customers", csv, opts, NULL, NULL, &json));
    CHECK(json && strstr(json, "\"created\":0,\"updated\":0,\"unchanged\":2,\"failed\":1"));
    expect_and_free(json, "row 2 was applied", 1);
    CHECK(feed_len(db) == feed);
    CHECK_OK(crm_customer_get_by_external_id(db, "C-10", &json));
    expect_and_free(json, "\"name\":\"Ten\"", 1);

    CHECK_OK(crm_close(db));
    remove(csv);
    CHECK_DONE();
}
