/* RFM from C: compute, refresh, the stored model, one customer (JSON and typed) and segment
 * sizes on a hand-computed example with ties (crm-core's tests/rfm.rs), then every kind of bad
 * input, each with its code and field and nothing changed. Every string handed out is freed
 * (run under valgrind or AddressSanitizer). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

#define AS_OF 1780272000000000LL /* 2026-06-01T00:00:00Z in microseconds */
#define DAY 86400000000LL
#define HOUR 3600000000LL
#define CONFIG "{\"currency\":\"EUR\",\"as_of\":\"2026-06-01T00:00:00Z\"}"

/* Ten EUR customers with ties in every dimension: days since the last order, completed EUR
 * orders, EUR spend; and what crm-core computes for them as of AS_OF. */
static const struct {
    int64_t days, orders, spend;
    int64_t recency_days, frequency, monetary_minor;
    uint8_t r, f, m;
    const char *segment;
} TEN[10] = {
    {1, 9, 50000, 1, 10, 50000, 5, 5, 5, "Champions"},
    {1, 8, 50000, 1, 8, 50000, 5, 4, 5, "Champions"},
    {5, 8, 20000, 5, 8, 20000, 4, 4, 3, "Loyal"},
    {5, 1, 1000, 5, 1, 1000, 4, 1, 1, "Promising"},
    {30, 3, 20000, 30, 3, 20000, 3, 3, 3, "Need Attention"},
    {30, 3, 5000, 30, 3, 5000, 3, 3, 2, "Need Attention"},
    {60, 2, 5000, 60, 2, 5000, 2, 2, 2, "Hibernating"},
    {90, 1, 1000, 90, 1, 1000, 2, 1, 1, "Hibernating"},
    {200, 5, 30000, 200, 5, 30000, 1, 4, 4, "Can't Lose Them"},
    {200, 1, 500, 200, 1, 500, 1, 1, 1, "Lost"},
};

static void order(crm_t *db, const char *ext, int64_t customer, int64_t at, int32_t status, const char *currency,
                  int64_t minor) {
    crm_order_in o = {ext, customer, NULL, at, status, currency, minor, NULL};
    CHECK_OK(crm_order_record(db, &o, NULL, 0, NULL, NULL));
}

/* The customers and orders of crm-core's `ten_customers()`: ids 1 to 10 in the EUR population;
 * 11 (USD only), 12 (refunded only), 13 (no orders) and 14 (zero spend) outside it. */
static void load(crm_t *db) {
    char ext[64], name[16];
    for (int n = 1; n <= 14; n++) {
        snprintf(ext, sizeof ext, "C%d", n);
        snprintf(name, sizeof name, "Customer %d", n);
        crm_customer_in c = {ext, name, NULL, NULL, NULL, NULL};
        int64_t id = 0;
        CHECK_OK(crm_customer_upsert_basic(db, &c, &id, NULL));
        CHECK(id == n);
    }
    for (int n = 0; n < 10; n++) {
        int64_t last = AS_OF - TEN[n].days * DAY - 3 * HOUR;
        for (int64_t j = 0; j < TEN[n].orders; j++) {
            int64_t minor = TEN[n].spend / TEN[n].orders + (j == 0 ? TEN[n].spend % TEN[n].orders : 0);
            snprintf(ext, sizeof ext, "O%d-%lld", n + 1, (long long)j);
            order(db, ext, n + 1, last - j * 2 * DAY, CRM_ORDER_COMPLETED, "EUR", minor);
        }
    }
    order(db, "O1-usd", 1, AS_OF - 100 * DAY, CRM_ORDER_COMPLETED, "USD", 999);
    order(db, "O4-refund", 4, AS_OF - HOUR, CRM_ORDER_REFUNDED, "EUR", 1000000);
    order(db, "O10-cancel", 10, AS_OF - HOUR, CRM_ORDER_CANCELLED, "EUR", 1000000);
    order(db, "O11", 11, AS_OF - 3 * DAY, CRM_ORDER_COMPLETED, "USD", 7000);
    order(db, "O12", 12, AS_OF - 3 * DAY, CRM_ORDER_REFUNDED, "EUR", 7000);
    order(db, "O14", 14, AS_OF - 3 * DAY, CRM_ORDER_COMPLETED, "EUR", 0);
}

/* Customer n's expected score as crm-core serialises it. */
static void expected_json(int n, char *buf, size_t size) {
    snprintf(buf, size,
             "{\"customer_id\":%d,\"recency_days\":%lld,\"frequency\":%lld,\"monetary_minor\":%lld,\"r\":%u,"
             "\"f\":%u,\"m\":%u,\"segment\":\"%s\"}",
             n + 1, (long long)TEN[n].recency_days, (long long)TEN[n].frequency, (long long)TEN[n].monetary_minor,
             TEN[n].r, TEN[n].f, TEN[n].m, TEN[n].segment);
}

static int same_score(const crm_rfm_customer *s, int n) {
    return s->customer_id == n + 1 && s->recency_days == TEN[n].recency_days && s->frequency == TEN[n].frequency &&
           s->monetary_minor == TEN[n].monetary_minor && s->r == TEN[n].r && s->f == TEN[n].f && s->m == TEN[n].m &&
           strcmp(s->segment, TEN[n].segment) == 0;
}

/* Checks that `json` is exactly `want` (when `exact`) or contains it, then frees it. */
static void expect_and_free(char *json, const char *want, int exact) {
    int ok = json != NULL && (exact ? strcmp(json, want) == 0 : strstr(json, want) != NULL);
    CHECK(ok);
    if (!ok) fprintf(stderr, "  wanted %s\n  got    %s\n", want, json ? json : "(NULL)");
    crm_string_free(json);
}

/* A copy of the stored model and the segment sizes, to show that failures change neither. */
static char *stored_state(crm_t *db) {
    char *model = NULL, *sizes = NULL;
    CHECK_OK(crm_rfm_model(db, &model));
    CHECK_OK(crm_rfm_segment_sizes(db, &sizes));
    size_t n = (model ? strlen(model) : 0) + (sizes ? strlen(sizes) : 0) + 2;
    char *both = malloc(n);
    snprintf(both, n, "%s|%s", model ? model : "", sizes ? sizes : "");
    crm_string_free(model);
    crm_string_free(sizes);
    return both;
}

/* Every failing call: its code and field, and the stored state unchanged. */
static void bad_input(crm_t *db) {
    char *json = (char *)"untouched";
    crm_rfm_customer s;
    bool found = true;
    char *before = stored_state(db);

    /* NULL arguments. */
    CHECK_ERR(crm_rfm_compute(NULL, CONFIG, &json), CRM_ERR_NULL_ARGUMENT, "crm must not be NULL", "crm");
    CHECK(json == NULL);
    CHECK_ERR(crm_rfm_compute(db, NULL, &json), CRM_ERR_NULL_ARGUMENT, "config_json", "config_json");
    CHECK_ERR(crm_rfm_compute(db, CONFIG, NULL), CRM_ERR_NULL_ARGUMENT, "out_json", "out_json");
    CHECK_ERR(crm_rfm_refresh(db, NULL, NULL), CRM_ERR_NULL_ARGUMENT, "config_json", "config_json");
    CHECK_ERR(crm_rfm_refresh(NULL, CONFIG, &json), CRM_ERR_NULL_ARGUMENT, "crm", "crm");
    CHECK(json == NULL);
    CHECK_ERR(crm_rfm_model(db, NULL), CRM_ERR_NULL_ARGUMENT, "out_json", "out_json");
    CHECK_ERR(crm_rfm_of(db, 1, NULL), CRM_ERR_NULL_ARGUMENT, "out_json", "out_json");
    CHECK_ERR(crm_rfm_of_typed(db, 1, NULL, &found), CRM_ERR_NULL_ARGUMENT, "out", "out");
    CHECK_ERR(crm_rfm_of_typed(db, 1, &s, NULL), CRM_ERR_NULL_ARGUMENT, "out_found", "out_found");
    CHECK_ERR(crm_rfm_score(db, 1, CRM_NO_TIME, NULL), CRM_ERR_NULL_ARGUMENT, "out_json", "out_json");
    CHECK_ERR(crm_rfm_score_typed(NULL, 1, CRM_NO_TIME, &s, &found), CRM_ERR_NULL_ARGUMENT, "crm", "crm");
    CHECK(!found);
    CHECK_ERR(crm_rfm_segment_sizes(NULL, &json), CRM_ERR_NULL_ARGUMENT, "crm", "crm");

    /* Configurations: not JSON, wrong shape, bad values, bad text. */
    CHECK_ERR(crm_rfm_compute(db, "{\"currency\":", &json), CRM_ERR_INVALID_JSON, "EOF", "config_json");
    CHECK_ERR(crm_rfm_compute(db, "{\"currency\":\"EUR\",\"colour\":1}", &json), CRM_ERR_INVALID_JSON, "colour",
              "config_json");
    CHECK_ERR(crm_rfm_compute(db, "{\"as_of\":null}", &json), CRM_ERR_INVALID_JSON, "currency", "config_json");
    CHECK_ERR(crm_rfm_compute(db, "{\"currency\":\"EUR\",\"grid\":5}", &json), CRM_ERR_INVALID_JSON, "invalid type",
              "config_json");
    CHECK_ERR(crm_rfm_compute(db, "{\"currency\":\"XYZ\"}", &json), CRM_ERR_VALIDATION, "XYZ", "currency");
    CHECK_ERR(crm_rfm_refresh(db, "{\"currency\":\"XYZ\"}", &json), CRM_ERR_VALIDATION, "XYZ", "currency");
    CHECK_ERR(crm_rfm_refresh(db, "{\"currency\":\"EUR\",\"as_of\":\"yesterday\"}", &json), CRM_ERR_VALIDATION,
              "yesterday", "as_of");
    CHECK_ERR(crm_rfm_refresh(db, "{\"currency\":\"EUR\",\"as_of\":\"2999-01-01T00:00:00Z\"}", &json),
              CRM_ERR_VALIDATION, "in the future", "as_of");
    CHECK_ERR(crm_rfm_refresh(db, "{\"currency\":\"EUR\",\"grid\":[[\"A\"]]}", &json), CRM_ERR_VALIDATION, "rows",
              "grid");
    CHECK_ERR(crm_rfm_refresh(db,
                              "{\"currency\":\"EUR\",\"grid\":[[\"a\",\"b\",\"c\",\"d\",\"e\"],[\"a\",\"b\",\"c\","
                              "\"d\",\"e\"],[\"a\",\"b\",\" \",\"d\",\"e\"],[\"a\",\"b\",\"c\",\"d\",\"e\"],[\"a\","
                              "\"b\",\"c\",\"d\",\"e\"]]}",
                              &json),
              CRM_ERR_VALIDATION, "empty", "grid[2][2]");
    CHECK_ERR(crm_rfm_refresh(db, "{\"currency\":\"\xff\"}", &json), CRM_ERR_INVALID_UTF8, "UTF-8", "config_json");
    CHECK(json == NULL);

    /* Customers: unknown is CRM_ERR_NOT_FOUND for reading and scoring; as-of out of range. */
    CHECK_ERR(crm_rfm_of(db, 999, &json), CRM_ERR_NOT_FOUND, "999", NULL);
    CHECK(json == NULL);
    found = true;
    CHECK_ERR(crm_rfm_of_typed(db, 999, &s, &found), CRM_ERR_NOT_FOUND, "999", NULL);
    CHECK(!found);
    CHECK_ERR(crm_rfm_score(db, 1, INT64_MAX, &json), CRM_ERR_VALIDATION, "as_of", "as_of");
    CHECK_ERR(crm_rfm_score(db, 1, -DAY, &json), CRM_ERR_VALIDATION, "1970", "as_of");

    char *after = stored_state(db);
    CHECK(strcmp(before, after) == 0);
    free(before);
    free(after);
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : ".";
    char path[4096], want[512];
    crm_t *db = NULL;
    char *json = NULL, *model = NULL;
    crm_rfm_customer s;
    bool found = true;

    snprintf(path, sizeof path, "%s/rfm.db", dir);
    remove(path);
    CHECK_OK(crm_open(path, &db));
    load(db);

    /* Before any refresh: no model, no stored scores, no sizes; scoring needs a model. */
    CHECK_OK(crm_rfm_model(db, &json));
    expect_and_free(json, "null", 1);
    CHECK_OK(crm_rfm_of(db, 1, &json));
    expect_and_free(json, "null", 1);
    CHECK_OK(crm_rfm_of_typed(db, 1, &s, &found));
    CHECK(!found);
    CHECK_OK(crm_rfm_segment_sizes(db, &json));
    expect_and_free(json, "[]", 1);
    CHECK_ERR(crm_rfm_score(db, 1, CRM_NO_TIME, &json), CRM_ERR_VALIDATION, "refresh_rfm", "rfm_model");
    CHECK(json == NULL);
    found = true;
    CHECK_ERR(crm_rfm_score_typed(db, 1, AS_OF, &s, &found), CRM_ERR_VALIDATION, "no RFM model", "rfm_model");
    CHECK(!found);
    bad_input(db);

    /* Compute: the whole table, with ties sharing scores; nothing stored. */
    CHECK_OK(crm_rfm_compute(db, CONFIG, &json));
    CHECK(json != NULL);
    if (json) {
        CHECK(strstr(json, "\"population\":10,") != NULL);
        CHECK(strstr(json, "\"source\":\"stats\"") != NULL);
        CHECK(strstr(json, "\"recency_days\":[90,30,5,1]") != NULL);
        for (int n = 0; n < 10; n++) {
            expected_json(n, want, sizeof want);
            CHECK(strstr(json, want) != NULL);
        }
        CHECK(strstr(json, "\"customer_id\":11,") == NULL);
        crm_string_free(json);
    }
    CHECK_OK(crm_rfm_compute(db, "{\"currency\":\"usd\",\"as_of\":\"2026-06-01T00:00:00Z\"}", &json));
    expect_and_free(json, "\"customer_id\":11,\"recency_days\":3,\"frequency\":1,\"monetary_minor\":7000", 0);
    CHECK_OK(crm_rfm_model(db, &json));
    expect_and_free(json, "null", 1);

    /* Refresh: the model comes back and is stored; each member's score is stored. */
    CHECK_OK(crm_rfm_refresh(db, CONFIG, &model));
    CHECK(model != NULL && strstr(model, "\"population\":10,") != NULL);
    CHECK_OK(crm_rfm_model(db, &json));
    if (model) expect_and_free(json, model, 1);
    for (int n = 0; n < 10; n++) {
        expected_json(n, want, sizeof want);
        CHECK_OK(crm_rfm_of(db, n + 1, &json));
        expect_and_free(json, want, 1);
        CHECK_OK(crm_rfm_score(db, n + 1, AS_OF, &json));
        expect_and_free(json, want, 1);
        found = false;
        CHECK_OK(crm_rfm_of_typed(db, n + 1, &s, &found));
        CHECK(found && same_score(&s, n));
        found = false;
        CHECK_OK(crm_rfm_score_typed(db, n + 1, AS_OF, &s, &found));
        CHECK(found && same_score(&s, n));
    }
    for (int n = 11; n <= 14; n++) {
        CHECK_OK(crm_rfm_of(db, n, &json));
        expect_and_free(json, "null", 1);
        CHECK_OK(crm_rfm_score(db, n, AS_OF, &json));
        expect_and_free(json, "null", 1);
        found = true;
        CHECK_OK(crm_rfm_score_typed(db, n, CRM_NO_TIME, &s, &found));
        CHECK(!found);
    }
    /* Now: later than the model, so recency grows; the same customer and currency. */
    CHECK_OK(crm_rfm_score_typed(db, 3, CRM_NO_TIME, &s, &found));
    CHECK(found && s.customer_id == 3 && s.recency_days >= 5 && s.frequency == 8 && s.monetary_minor == 20000);
    CHECK_OK(crm_rfm_segment_sizes(db, &json));
    {
        const char *first = "[{\"segment\":\"New Customers\",\"members\":0},";
        CHECK(json != NULL && strncmp(json, first, strlen(first)) == 0);
    }
    expect_and_free(json, "{\"segment\":\"Champions\",\"members\":2}", 0);

    /* Every failure again, now against a stored model. */
    bad_input(db);
    CHECK_ERR(crm_rfm_score(db, 999, AS_OF, &json), CRM_ERR_NOT_FOUND, "999", NULL);
    found = true;
    CHECK_ERR(crm_rfm_score_typed(db, 999, AS_OF, &s, &found), CRM_ERR_NOT_FOUND, "999", NULL);
    CHECK(!found);
    CHECK_OK(crm_rfm_model(db, &json));
    if (model) expect_and_free(json, model, 1);
    crm_string_free(model);

    /* A closed handle is reported, not used. */
    CHECK_OK(crm_close(db));
    CHECK_ERR(crm_rfm_compute(db, CONFIG, &json), CRM_ERR_INVALID_HANDLE, "closed", "crm_t handle");
    CHECK_ERR(crm_rfm_of_typed(db, 1, &s, &found), CRM_ERR_INVALID_HANDLE, "closed", "crm_t handle");
    remove(path);
    CHECK_DONE();
}
