/* Merging and unmerging customers from C on a real SQLite file: a merge moves the orders and
 * statistics, fills the survivor's profile, and makes the merged id and external id read the
 * survivor; orders sent through the merged external id afterwards go back with it on unmerge;
 * the history logs both; a repeat is a replay. Then every kind of bad input, each with its
 * code and field and out_json left NULL, and nothing written. Every string handed out is
 * freed (run under valgrind or AddressSanitizer). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check.h"

static int64_t upsert(crm_t *db, const char *json) {
    int64_t id = 0;
    CHECK_OK(crm_customer_upsert(db, json, &id, NULL, NULL));
    return id;
}

static void order(crm_t *db, const char *ext, const char *customer, int64_t minor) {
    char json[512];
    snprintf(json, sizeof json,
             "{\"external_id\":\"%s\",\"customer_external_id\":\"%s\",\"occurred_at\":\"2026-03-01T10:00:00Z\","
             "\"currency\":\"EUR\",\"total_minor\":%lld}",
             ext, customer, (long long)minor);
    CHECK_OK(crm_order_record_json(db, json, NULL, NULL, NULL));
}

static int64_t orders_of(crm_t *db, int64_t id) {
    crm_customer_stats s;
    memset(&s, 0, sizeof s);
    CHECK_OK(crm_customer_stats_get(db, id, &s));
    return s.order_count;
}

/* Whether the customer `id` reads as the customer `want` (its JSON starts with its id). */
static int reads_as(crm_t *db, int64_t id, int64_t want) {
    char *out = NULL, prefix[64];
    int ok = 0;
    CHECK_OK(crm_customer_get(db, id, &out));
    snprintf(prefix, sizeof prefix, "{\"id\":%lld,", (long long)want);
    ok = out != NULL && strncmp(out, prefix, strlen(prefix)) == 0;
    crm_string_free(out);
    return ok;
}

/* The length of the whole change feed as JSON: a write anywhere changes it. */
static size_t feed_len(crm_t *db) {
    char *out = NULL;
    size_t n = 0;
    CHECK_OK(crm_changes_since(db, 0, 10000, &out));
    if (out != NULL) n = strlen(out);
    crm_string_free(out);
    return n;
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : ".";
    char path[4096];
    crm_t *db = NULL;
    char *out = NULL;

    snprintf(path, sizeof path, "%s/merge.db", dir);
    remove(path);
    CHECK_OK(crm_open(path, &db));
    int64_t pos = upsert(db, "{\"external_id\":\"POS-1\",\"name\":\"Ada L.\",\"phone\":\"+6591234567\"}");
    int64_t web = upsert(db, "{\"external_id\":\"WEB-1\",\"name\":\"Ada Lovelace\",\"email\":\"ada@example.com\"}");
    int64_t other = upsert(db, "{\"external_id\":\"X-1\",\"name\":\"Bo\"}");
    order(db, "P1", "POS-1", 1000);
    order(db, "W1", "WEB-1", 2000);
    order(db, "W2", "WEB-1", 3000);

    /* Merge with a request: actor, reason, evidence, a survivorship rule. */
    CHECK_OK(crm_customer_merge(db, pos, web,
                                "{\"actor\":\"erp-sync\",\"reason\":\"same email\",\"evidence\":{\"score\":0.98},"
                                "\"survivorship\":{\"fields\":{\"name\":\"most_complete\"}}}",
                                &out));
    CHECK(out != NULL);
    if (out != NULL) {
        CHECK(strstr(out, "\"orders_moved\":2") != NULL);
        CHECK(strstr(out, "\"replayed\":false") != NULL);
        CHECK(strstr(out, "\"name\":\"Ada Lovelace\",\"email\":\"ada@example.com\",\"phone\":\"+6591234567\"") != NULL);
        CHECK(strstr(out, "\"actor\":\"erp-sync\"") != NULL);
    }
    crm_string_free(out);
    out = NULL;
    CHECK(orders_of(db, pos) == 3);
    CHECK(reads_as(db, web, pos));
    int64_t id = 0;
    CHECK_OK(crm_customer_id_by_external_id(db, "WEB-1", &id));
    CHECK(id == pos);
    order(db, "W3", "WEB-1", 500); /* through the merged external id: the survivor's, listed */
    CHECK(orders_of(db, pos) == 4);

    /* A repeat is a replay; NULL request: the defaults. */
    CHECK_OK(crm_customer_merge(db, pos, web, NULL, &out));
    CHECK(out != NULL && strstr(out, "\"replayed\":true") != NULL);
    crm_string_free(out);
    out = NULL;

    /* Bad input: a typed error, out_json NULL, nothing written. */
    size_t feed = feed_len(db);
    out = (char *)1; /* cleared on entry */
    CHECK_ERR(crm_customer_merge(db, other, other, NULL, &out), CRM_ERR_MERGE, "itself", "self_merge");
    CHECK(out == NULL);
    CHECK_ERR(crm_customer_merge(db, web, other, NULL, &out), CRM_ERR_MERGE, "merged into", "merged_away");
    CHECK_ERR(crm_customer_merge(db, other, web, NULL, &out), CRM_ERR_MERGE, "already merged", "merged_away");
    CHECK_ERR(crm_customer_merge(db, web, pos, NULL, &out), CRM_ERR_MERGE, "cycle", "cycle");
    CHECK_ERR(crm_customer_unmerge(db, other, NULL, &out), CRM_ERR_MERGE, "never merged", "not_merged");
    CHECK_ERR(crm_customer_merge(db, pos, 999999, NULL, &out), CRM_ERR_NOT_FOUND, "not found", NULL);
    CHECK_ERR(crm_customer_merge(db, other, pos, "{\"reason\":\"\"}", &out), CRM_ERR_VALIDATION, "characters", "reason");
    CHECK_ERR(crm_customer_merge(db, other, pos, "{\"survivorship\":{\"fields\":{\"shoe\":\"merged\"}}}", &out),
              CRM_ERR_VALIDATION, "unknown field", "survivorship.fields.shoe");
    CHECK_ERR(crm_customer_merge(db, other, pos, "{\"survivorship\":{\"default\":\"newest\"}}", &out),
              CRM_ERR_INVALID_JSON, "newest", "request_json");
    CHECK_ERR(crm_customer_merge(db, other, pos, "{\"who\":1}", &out), CRM_ERR_INVALID_JSON, "who", "request_json");
    CHECK_ERR(crm_customer_merge(db, other, pos, "not json", &out), CRM_ERR_INVALID_JSON, "", "request_json");
    CHECK_ERR(crm_customer_merge(db, other, pos, NULL, NULL), CRM_ERR_NULL_ARGUMENT, "out_json", "out_json");
    CHECK_ERR(crm_customer_merge(NULL, other, pos, NULL, &out), CRM_ERR_NULL_ARGUMENT, "crm must not be NULL", "crm");
    CHECK_ERR(crm_customer_merge_history(db, 999999, &out), CRM_ERR_NOT_FOUND, "not found", NULL);
    CHECK(out == NULL);
    CHECK(feed_len(db) == feed);

    /* History, then the unmerge: the web side's orders (W3 too) go back. */
    CHECK_OK(crm_customer_merge_history(db, web, &out));
    CHECK(out != NULL && out[0] == '[' && strstr(out, "\"reason\":\"same email\"") != NULL);
    crm_string_free(out);
    out = NULL;
    CHECK_OK(crm_customer_unmerge(db, web, "{\"actor\":\"clerk\",\"reason\":\"two people\"}", &out));
    CHECK(out != NULL && strstr(out, "\"unmerge_reason\":\"two people\"") != NULL);
    crm_string_free(out);
    out = NULL;
    CHECK(orders_of(db, pos) == 1);
    CHECK(orders_of(db, web) == 3);
    CHECK(reads_as(db, web, web));
    CHECK_OK(crm_customer_get(db, pos, &out));
    CHECK(out != NULL && strstr(out, "\"name\":\"Ada L.\"") != NULL && strstr(out, "ada@example.com") == NULL);
    crm_string_free(out);
    out = NULL;
    CHECK_OK(crm_customer_unmerge(db, web, NULL, &out));
    CHECK(out != NULL && strstr(out, "\"replayed\":true") != NULL);
    crm_string_free(out);
    CHECK(strcmp(crm_status_name(CRM_ERR_MERGE), "CRM_ERR_MERGE") == 0);

    crm_close(db);
    CHECK_DONE();
}
