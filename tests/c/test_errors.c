/* Every error path the API promises, from C: status code, message and field. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static const char *const CUSTOMER = "{\"external_id\":\"C-1\",\"name\":\"Ada\"}";

/* Sets PRAGMA user_version (big-endian u32 at offset 60 of the SQLite header) to 99, as a
 * newer crm would, without needing the sqlite3 tool. */
static int make_schema_too_new(const char *path) {
    crm_t *db = NULL;
    if (crm_open(path, &db) != CRM_OK) return 0;
    crm_close(db);
    FILE *f = fopen(path, "r+b");
    if (!f) return 0;
    unsigned char v[4] = {0, 0, 0, 99};
    int ok = fseek(f, 60, SEEK_SET) == 0 && fwrite(v, 1, 4, f) == 4;
    return fclose(f) == 0 && ok;
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : ".";
    char path[4096];
    crm_t *db = NULL;
    char *json = NULL;
    int64_t id = 0;

    /* Before any failure: no error. */
    CHECK(crm_last_error_code() == CRM_OK);
    CHECK(strcmp(crm_last_error_message(), "") == 0);
    CHECK(crm_last_error_field() == NULL);

    /* NULL arguments. */
    CHECK_ERR(crm_open(NULL, &db), CRM_ERR_NULL_ARGUMENT, "path must not be NULL", "path");
    CHECK_ERR(crm_open("x.db", NULL), CRM_ERR_NULL_ARGUMENT, "out must not be NULL", "out");
    CHECK_ERR(crm_customer_get(NULL, 1, &json), CRM_ERR_NULL_ARGUMENT, "crm must not be NULL", "crm");
    CHECK(json == NULL);

    CHECK_OK(crm_open_in_memory(&db));
    CHECK(db != NULL);
    CHECK_ERR(crm_customer_get(db, 1, NULL), CRM_ERR_NULL_ARGUMENT, "out_json", "out_json");
    CHECK_ERR(crm_customer_create(db, NULL, &id, NULL), CRM_ERR_NULL_ARGUMENT, "customer_json", "customer_json");
    CHECK_ERR(crm_order_record(db, NULL, NULL, 0, NULL, NULL), CRM_ERR_NULL_ARGUMENT, "order", "order");
    CHECK_ERR(crm_customer_upsert_basic(db, NULL, NULL, NULL), CRM_ERR_NULL_ARGUMENT, "customer", "customer");
    {
        crm_customer_in c = {"C-9", NULL, NULL, NULL, NULL, NULL};
        CHECK_ERR(crm_customer_upsert_basic(db, &c, NULL, NULL), CRM_ERR_VALIDATION, "required", "name");
    }
    CHECK_ERR(crm_counts_get(db, NULL), CRM_ERR_NULL_ARGUMENT, "out", "out");
    CHECK_ERR(crm_customer_stats_get(db, 1, NULL), CRM_ERR_NULL_ARGUMENT, "out", "out");
    CHECK_ERR(crm_changes_since(db, 0, 10, NULL), CRM_ERR_NULL_ARGUMENT, "out_json", "out_json");
    CHECK_ERR(crm_customer_cursor_next(NULL, &json), CRM_ERR_NULL_ARGUMENT, "cursor", "cursor");

    /* Invalid UTF-8. */
    CHECK_ERR(crm_customer_create(db, "{\"name\":\"\xff\xfe\"}", NULL, NULL), CRM_ERR_INVALID_UTF8,
              "not valid UTF-8", "customer_json");
    CHECK_ERR(crm_customer_get_by_external_id(db, "C-\xc3", &json), CRM_ERR_INVALID_UTF8, "not valid UTF-8",
              "external_id");

    /* Over-long input: a string argument past CRM_MAX_STRING_LEN, a JSON one past CRM_MAX_JSON_LEN. */
    {
        char *big = malloc(CRM_MAX_STRING_LEN + 2);
        CHECK(big != NULL);
        memset(big, 'a', CRM_MAX_STRING_LEN + 1);
        big[CRM_MAX_STRING_LEN + 1] = '\0';
        CHECK_ERR(crm_customer_get_by_external_id(db, big, &json), CRM_ERR_TOO_LONG, "longer than", "external_id");
        /* exactly at the limit: accepted at the boundary, then refused by the core's id limit */
        big[CRM_MAX_STRING_LEN] = '\0';
        CHECK_ERR(crm_customer_get_by_external_id(db, big, &json), CRM_ERR_VALIDATION, "limit is 128", "external_id");
        free(big);
        size_t n = (size_t)CRM_MAX_JSON_LEN + 1;
        char *huge = malloc(n + 1);
        CHECK(huge != NULL);
        memset(huge, ' ', n);
        huge[n] = '\0';
        CHECK_ERR(crm_customer_create(db, huge, NULL, NULL), CRM_ERR_TOO_LONG, "longer than", "customer_json");
        free(huge);
    }

    /* Bad JSON: syntax, shape, unknown key. */
    CHECK_ERR(crm_customer_create(db, "{\"name\":", NULL, NULL), CRM_ERR_INVALID_JSON, "customer_json", "customer_json");
    CHECK_ERR(crm_customer_create(db, "[1,2]", NULL, NULL), CRM_ERR_INVALID_JSON, "customer_json", "customer_json");
    CHECK_ERR(crm_customer_create(db, "{\"name\":\"A\",\"colour\":1}", NULL, NULL), CRM_ERR_INVALID_JSON, "colour",
              "customer_json");
    CHECK_ERR(crm_customer_query(db, "{\"limit\":\"ten\"}", &json), CRM_ERR_INVALID_JSON, "query_json", "query_json");
    /* A failed open clears its out-parameter: close the open handle first, or it would leak. */
    CHECK_OK(crm_close(db));
    CHECK_ERR(crm_open_with(":memory:", "{\"nope\":1}", &db), CRM_ERR_INVALID_JSON, "nope", "config_json");
    CHECK(db == NULL); /* out is cleared on failure */
    CHECK_OK(crm_open_in_memory(&db));

    /* Validation errors carry the field. */
    CHECK_ERR(crm_customer_create(db, "{\"name\":\"Ada\",\"email\":\"not-an-email\"}", NULL, NULL),
              CRM_ERR_VALIDATION, "invalid email", "email");
    CHECK_ERR(crm_customer_upsert(db, "{\"name\":\"Ada\"}", NULL, NULL, NULL), CRM_ERR_VALIDATION, "required",
              "external_id");
    CHECK_ERR(crm_customer_query(db, "{\"limit\":0}", &json), CRM_ERR_VALIDATION, "limit", "limit");
    CHECK_ERR(crm_customer_top_by_spend(db, "XYZ", 10, &json), CRM_ERR_VALIDATION, "ISO 4217", "currency");
    CHECK_OK(crm_customer_create(db, CUSTOMER, &id, NULL));
    {
        crm_order_in o = {"O-1", 0, "C-1", 1767225600000000LL, 7, "EUR", 100, NULL};
        CHECK_ERR(crm_order_record(db, &o, NULL, 0, NULL, NULL), CRM_ERR_VALIDATION, "crm_order_status", "status");
        o.status = CRM_ORDER_COMPLETED;
        o.currency = "EURO";
        CHECK_ERR(crm_order_record(db, &o, NULL, 0, NULL, NULL), CRM_ERR_VALIDATION, "ISO 4217", "currency");
        o.currency = "EUR";
        o.customer_external_id = "C-404";
        CHECK_ERR(crm_order_record(db, &o, NULL, 0, NULL, NULL), CRM_ERR_VALIDATION, "C-404", "customer_external_id");
        o.customer_external_id = "C-1";
        crm_line_item_in item = {"SKU-1", NULL, 0, 100};
        CHECK_ERR(crm_order_record(db, &o, &item, 1, NULL, NULL), CRM_ERR_VALIDATION, "quantity", "items[0].quantity");
        CHECK_ERR(crm_order_record(db, &o, NULL, 1, NULL, NULL), CRM_ERR_NULL_ARGUMENT, "items", "items");
        o.occurred_at_us = INT64_MAX;
        CHECK_ERR(crm_order_record(db, &o, NULL, 0, NULL, NULL), CRM_ERR_VALIDATION, "occurred_at", "occurred_at");
    }
    CHECK_ERR(crm_ingest_file(db, "widgets", "x.csv", NULL, NULL, NULL, &json), CRM_ERR_INVALID_ARGUMENT, "widgets",
              "kind");
    CHECK_ERR(crm_ingest_file(db, "customers", "x.txt", NULL, NULL, NULL, &json), CRM_ERR_VALIDATION, ".csv", "path");
    CHECK_ERR(crm_ingest_file(db, "customers", "/nonexistent/x.csv", NULL, NULL, NULL, &json), CRM_ERR_IO, "i/o",
              NULL);
    CHECK_ERR(crm_ingest_file(db, "customers", "/nonexistent/x.csv", "{\"batch\":1}", NULL, NULL, &json),
              CRM_ERR_INVALID_JSON, "batch", "options_json");

    /* Not found. */
    CHECK_ERR(crm_customer_get(db, 999, &json), CRM_ERR_NOT_FOUND, "customer 999 not found", NULL);
    CHECK(json == NULL);
    CHECK_ERR(crm_order_get_by_external_id(db, "O-404", &json), CRM_ERR_NOT_FOUND, "O-404", NULL);
    CHECK_ERR(crm_interaction_delete(db, 5), CRM_ERR_NOT_FOUND, "interaction 5 not found", NULL);
    CHECK_ERR(crm_customer_delete(db, 999), CRM_ERR_NOT_FOUND, "not found", NULL);
    CHECK_ERR(crm_customer_timeline(db, 999, 10, NULL, &json), CRM_ERR_NOT_FOUND, "not found", NULL);

    /* Conflict. */
    CHECK_ERR(crm_customer_create(db, CUSTOMER, NULL, NULL), CRM_ERR_CONFLICT, "C-1", NULL);

    /* A failure leaves earlier data alone; a success does not reset the last error. */
    {
        crm_counts n;
        CHECK_OK(crm_counts_get(db, &n));
        CHECK(n.customers == 1 && n.orders == 0);
        CHECK(crm_last_error_code() == CRM_ERR_CONFLICT);
    }

    /* Closed and bogus handles: reported, never dereferenced. */
    {
        crm_customer_cursor_t *cur = NULL;
        crm_change_cursor_t *feed = NULL;
        CHECK_OK(crm_customer_cursor_open(db, NULL, &cur));
        CHECK_OK(crm_change_cursor_open(db, 0, 10, &feed));
        CHECK_OK(crm_close(db));
        CHECK_ERR(crm_customer_get(db, id, &json), CRM_ERR_INVALID_HANDLE, "closed", "crm_t handle");
        CHECK_ERR(crm_close(db), CRM_ERR_INVALID_HANDLE, "closed", "crm_t handle");
        CHECK_ERR(crm_customer_cursor_next(cur, &json), CRM_ERR_INVALID_HANDLE, "closed", "crm_t handle");
        {
            crm_change ch;
            bool has = true;
            CHECK_ERR(crm_change_cursor_next(feed, &ch, &has), CRM_ERR_INVALID_HANDLE, "closed", "crm_t handle");
            CHECK(!has);
        }
        /* A cursor passed as a database handle, and a made-up pointer. */
        CHECK_ERR(crm_counts_get((crm_t *)cur, &(crm_counts){0, 0, 0}), CRM_ERR_INVALID_HANDLE, "closed",
                  "crm_t handle");
        CHECK_ERR(crm_counts_get((crm_t *)&json, &(crm_counts){0, 0, 0}), CRM_ERR_INVALID_HANDLE, "never opened",
                  "crm_t handle");
        CHECK_OK(crm_customer_cursor_free(cur));
        CHECK_ERR(crm_customer_cursor_free(cur), CRM_ERR_INVALID_HANDLE, "closed", "crm_customer_cursor_t");
        CHECK_OK(crm_change_cursor_free(feed));
        CHECK_ERR(crm_change_cursor_free(feed), CRM_ERR_INVALID_HANDLE, "closed", "crm_change_cursor_t");
        CHECK_OK(crm_close(NULL));
        CHECK_OK(crm_customer_cursor_free(NULL));
        CHECK_OK(crm_change_cursor_free(NULL));
    }

    /* A file written by a newer crm. */
    snprintf(path, sizeof path, "%s/too_new.db", dir);
    remove(path);
    CHECK(make_schema_too_new(path));
    CHECK_ERR(crm_open(path, &db), CRM_ERR_SCHEMA_TOO_NEW, "newer than this library supports", NULL);
    CHECK(db == NULL);
    remove(path);

    /* Storage: not a database. */
    snprintf(path, sizeof path, "%s/not_a_db.db", dir);
    {
        FILE *f = fopen(path, "wb");
        CHECK(f != NULL);
        for (int i = 0; i < 200; i++) fputs("this is not a database. ", f);
        fclose(f);
    }
    CHECK_ERR(crm_open(path, &db), CRM_ERR_STORAGE, "storage error (corrupt)", NULL);
    CHECK(db == NULL);
    remove(path);

    /* Storage: a directory that does not exist is unavailable (retry once it exists). */
    snprintf(path, sizeof path, "%s/no/such/directory/crm.db", dir);
    CHECK_ERR(crm_open(path, &db), CRM_ERR_UNAVAILABLE, "storage error (unavailable)", NULL);
    CHECK(db == NULL);
    CHECK(strcmp(crm_status_name(CRM_ERR_UNAVAILABLE), "CRM_ERR_UNAVAILABLE") == 0);
    CHECK(strcmp(crm_status_name(CRM_ERR_BUSY), "CRM_ERR_BUSY") == 0);

    /* Status names. */
    CHECK(strcmp(crm_status_name(CRM_ERR_NOT_FOUND), "CRM_ERR_NOT_FOUND") == 0);
    CHECK(strcmp(crm_status_name(12345), "CRM_UNKNOWN_STATUS") == 0);
    crm_string_free(NULL);

    CHECK_DONE();
}
