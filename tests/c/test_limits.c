/* Limits and domains from C: rules at the checker's size and list limits run (count, saved
 * segment, lifecycle) and one over is CRM_ERR_VALIDATION on "rule" naming the limit, short
 * and without SQL, writing nothing; a JSON tree nested 5,000 deep is the same kind of error
 * naming the JSON limit; BG/NBD predictions with a + b < 1 match the published formulas
 * (crm-core/tests/fixtures/bgnbd_a_plus_b_below_1.csv); summaries take a freq multiplier and
 * warn of orders after the observation end that a whole week takes in. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

#define ABS(x) ((x) < 0 ? -(x) : (x))

/* Appends printf-style text to a growing buffer of our own (freed with free()). */
static void add(char **buf, size_t *len, size_t *cap, const char *piece) {
    size_t n = strlen(piece);
    if (*len + n + 1 > *cap) {
        size_t want = (*cap ? *cap * 2 : 4096) + n;
        char *grown = realloc(*buf, want);
        if (!grown) abort();
        *buf = grown;
        *cap = want;
    }
    memcpy(*buf + *len, piece, n + 1);
    *len += n;
}

/* `country = "X0" or ... or country = "SG"`: `n` conditions (1 + 3n nodes as the checker
 * counts them). `q` is the quote as written: `"` for rule text, `\"` inside JSON. */
static char *long_or(int n, const char *q) {
    char *buf = NULL, piece[64];
    size_t len = 0, cap = 0;
    add(&buf, &len, &cap, "");
    for (int i = 0; i < n - 1; i++) {
        snprintf(piece, sizeof piece, "country = %sX%d%s or ", q, i, q);
        add(&buf, &len, &cap, piece);
    }
    snprintf(piece, sizeof piece, "country = %sSG%s", q, q);
    add(&buf, &len, &cap, piece);
    return buf;
}

/* `country in ["Z0", ..., "SG"]` with `n` values. */
static char *big_list(int n) {
    char *buf = NULL, piece[32];
    size_t len = 0, cap = 0;
    add(&buf, &len, &cap, "country in [");
    for (int i = 0; i < n - 1; i++) {
        snprintf(piece, sizeof piece, "\"Z%d\",", i);
        add(&buf, &len, &cap, piece);
    }
    add(&buf, &len, &cap, "\"SG\"]");
    return buf;
}

/* The last error is short, names `limit` and holds no SQL. */
static void short_error(const char *limit) {
    const char *msg = crm_last_error_message();
    CHECK(strlen(msg) < 400);
    CHECK(strstr(msg, limit) != NULL);
    CHECK(strstr(msg, "SELECT") == NULL);
}

static void rules(void) {
    crm_t *db = NULL;
    int64_t n = -1;
    char *json = NULL, *before = NULL, *after = NULL;
    const char *countries[] = {"SG", "US", "SG", "DE"};
    for (int i = 0; i < 4; i++) {
        char c[128];
        snprintf(c, sizeof c, "{\"external_id\":\"C%d\",\"name\":\"C%d\",\"address\":{\"country\":\"%s\"}}", i, i,
                 countries[i]);
        if (!db) CHECK_OK(crm_open_in_memory(&db));
        CHECK_OK(crm_customer_upsert(db, c, NULL, NULL, NULL));
    }

    /* 3,333 conditions: 10,000 nodes, the size limit. */
    char *at = long_or(3333, "\"");
    char *over = long_or(3334, "\"");
    CHECK_OK(crm_rule_count(db, at, CRM_NO_TIME, &n));
    CHECK(n == 2);
    CHECK_ERR(crm_rule_count(db, over, CRM_NO_TIME, &n), CRM_ERR_VALIDATION, "10000", "rule");
    short_error("10000");

    /* As a saved segment and as lifecycle rules (the JSON quotes the rule's quotes). */
    char *at_json = long_or(3333, "\\\"");
    char *over_json = long_or(3334, "\\\"");
    size_t size = strlen(over_json) + 256;
    char *seg = malloc(size);
    snprintf(seg, size, "{\"name\":\"big\",\"rule\":\"%s\"}", at_json);
    CHECK_OK(crm_segment_create(db, seg, NULL));
    CHECK_OK(crm_segment_count(db, "big", &n));
    CHECK(n == 2);
    CHECK_OK(crm_segment_list(db, &before));
    snprintf(seg, size, "{\"name\":\"over\",\"rule\":\"%s\"}", over_json);
    CHECK_ERR(crm_segment_create(db, seg, NULL), CRM_ERR_VALIDATION, "10000", "rule");
    short_error("10000");
    CHECK_OK(crm_segment_list(db, &after));
    CHECK(before && after && strcmp(before, after) == 0);
    crm_string_free(before);
    crm_string_free(after);
    snprintf(seg, size, "{\"rules\":[{\"stage\":\"loyal\",\"when\":\"%s\"}]}", at_json);
    CHECK_OK(crm_lifecycle_rules_set(db, seg));
    CHECK_OK(crm_lifecycle_refresh(db, CRM_NO_TIME, &json));
    CHECK(json && strstr(json, "\"loyal\":2") != NULL);
    crm_string_free(json);
    snprintf(seg, size, "{\"rules\":[{\"stage\":\"loyal\",\"when\":\"%s\"}]}", over_json);
    CHECK_ERR(crm_lifecycle_rules_set(db, seg), CRM_ERR_VALIDATION, "10000", "rules[0].when.rule");
    free(seg);
    free(at);
    free(over);
    free(at_json);
    free(over_json);

    /* 100,000 list values, the list limit; one more is refused on the field tested. */
    char *list = big_list(100000);
    CHECK_OK(crm_rule_count(db, list, CRM_NO_TIME, &n));
    CHECK(n == 2);
    free(list);
    list = big_list(100001);
    CHECK_ERR(crm_rule_count(db, list, CRM_NO_TIME, &n), CRM_ERR_VALIDATION, "100000", "country");
    short_error("100000");
    free(list);

    /* A JSON tree nested 5,000 deep: the crate's error naming the JSON limit. */
    size_t deep_len = 5000 * 30 + 16;
    char *deep = malloc(deep_len), *p = deep;
    for (int i = 0; i < 5000; i++) p += sprintf(p, "{\"op\":\"not\",\"arg\":");
    p += sprintf(p, "{\"op\":\"bool\",\"value\":true}");
    for (int i = 0; i < 5000; i++) *p++ = '}';
    *p = '\0';
    char *text = NULL;
    CHECK_ERR(crm_rule_format(deep, &text), CRM_ERR_VALIDATION, "127", "rule_json");
    CHECK(text == NULL);
    short_error("127");
    free(deep);

    /* A JSON shape error quoting a megabyte value: the message is cut short. */
    size_t big_len = 1000000 + 64;
    char *big = malloc(big_len);
    p = big + sprintf(big, "{\"name\":\"s\",\"members\":\"");
    memset(p, 'x', 1000000);
    strcpy(p + 1000000, "\"}");
    CHECK_ERR(crm_segment_create(db, big, NULL), CRM_ERR_INVALID_JSON, "invalid type", "segment_json");
    CHECK(strlen(crm_last_error_message()) <= 700);
    free(big);
    CHECK_OK(crm_close(db));
}

/* Reads `"key":<number>` from JSON text (the first occurrence after `from`). */
static double number_after(const char *json, const char *from, const char *key) {
    const char *at = from ? strstr(json, from) : json;
    if (!at) return -1e300;
    at = strstr(at, key);
    return at ? strtod(at + strlen(key), NULL) : -1e300;
}

static void bgnbd_a_plus_b_below_one(void) {
    char *json = NULL;
    CHECK_OK(crm_analytics_bgnbd_predict("{\"params\":{\"r\":0.5,\"alpha\":10,\"a\":0.3,\"b\":0.5},\"t\":52,"
                                         "\"histories\":[{\"frequency\":0,\"recency\":0,\"t\":30},"
                                         "{\"frequency\":4,\"recency\":25,\"t\":30}]}",
                                         &json));
    CHECK(json != NULL);
    if (!json) return;
    double e_new = number_after(json, NULL, "\"expected_purchases_new_customer\":");
    double e0 = number_after(json, "\"rows\"", "\"expected_purchases\":");
    double e4 = number_after(json, "},{", "\"expected_purchases\":");
    CHECK(ABS(e_new - 1.5144337056042257513) < 1e-10);
    CHECK(ABS(e0 - 0.51080508313625739912) < 1e-10);
    CHECK(ABS(e4 - 4.3321351874955635236) < 1e-10);
    crm_string_free(json);
}

static void summaries(void) {
    crm_t *db = NULL;
    char *json = NULL;
    CHECK_OK(crm_open_in_memory(&db));
    CHECK_OK(crm_customer_upsert(db, "{\"external_id\":\"ada\",\"name\":\"Ada\"}", NULL, NULL, NULL));
    const char *at[] = {"2026-03-02T10:00:00Z", "2026-03-16T10:00:00Z", "2026-03-20T10:00:00Z"};
    for (int i = 0; i < 3; i++) {
        char o[256];
        snprintf(o, sizeof o,
                 "{\"external_id\":\"O%d\",\"customer_external_id\":\"ada\",\"occurred_at\":\"%s\","
                 "\"currency\":\"USD\",\"total_minor\":1000}",
                 i, at[i]);
        CHECK_OK(crm_order_record_json(db, o, NULL, NULL, NULL));
    }
    /* Weekly, ending on a Wednesday: the Friday order after the end is counted, and said. */
    CHECK_OK(crm_analytics_summary(
        db, "{\"currency\":\"USD\",\"period\":\"week\",\"observation_end\":\"2026-03-18T12:00:00Z\"}", &json));
    CHECK(json && strstr(json, "\"warnings\":[{\"field\":\"observation_end\",\"orders\":1,") != NULL);
    CHECK(json && strstr(json, "\"repeat_spend_minor\":2000") != NULL);
    crm_string_free(json);
    /* Days told in weeks: recency 14 / 7, T 16 / 7; no order after the end counted. */
    CHECK_OK(crm_analytics_summary(db,
                                   "{\"currency\":\"USD\",\"freq_multiplier\":7,"
                                   "\"observation_end\":\"2026-03-18T12:00:00Z\"}",
                                   &json));
    CHECK(json && strstr(json, "\"freq_multiplier\":7") != NULL && strstr(json, "\"recency\":2.0,") != NULL);
    CHECK(json && ABS(number_after(json, NULL, "\"t\":") - 16.0 / 7.0) < 1e-12);
    CHECK(json && strstr(json, "warnings") == NULL);
    crm_string_free(json);
    json = NULL;
    CHECK_ERR(crm_analytics_summary(db,
                                    "{\"currency\":\"USD\",\"freq_multiplier\":0,"
                                    "\"observation_end\":\"2026-03-18T12:00:00Z\"}",
                                    &json),
              CRM_ERR_VALIDATION, "freq_multiplier", "freq_multiplier");
    CHECK(json == NULL);
    CHECK_OK(crm_close(db));
}

int main(void) {
    rules();
    bgnbd_a_plus_b_below_one();
    summaries();
    CHECK_DONE();
}
