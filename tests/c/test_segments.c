/* Segmentation from C: the rule language (parse, format, check, count, members, match), saved
 * segments and snapshots, scoring plans, lifecycle stages and value tiers; then every promised
 * error, each leaving the database as it was. Every string the library hands out is freed
 * (run under valgrind or AddressSanitizer, a missed or double free fails the test). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"

#define DAY_US 86400000000LL

/* Checks that `json` contains `needle`, then frees it. */
static void expect_and_free(char *json, const char *needle) {
    CHECK(json != NULL && strstr(json, needle) != NULL);
    if (json && !strstr(json, needle)) fprintf(stderr, "  no %s in: %s\n", needle, json);
    crm_string_free(json);
}

/* Appends `piece` and a newline to a growing buffer of our own (freed with free()). */
static void append(char **buf, size_t *len, const char *piece) {
    size_t n = strlen(piece);
    char *grown = realloc(*buf, *len + n + 2);
    CHECK(grown != NULL);
    if (!grown) return;
    memcpy(grown + *len, piece, n);
    grown[*len + n] = '\n';
    grown[*len + n + 1] = '\0';
    *buf = grown;
    *len += n + 1;
}

/* Appends a string from the library ("(null)" for none) and frees it. */
static void append_owned(char **buf, size_t *len, char *s) {
    append(buf, len, s ? s : "(null)");
    crm_string_free(s);
}

/* Everything a refused call must leave as it was: segments, plans, lifecycle and tier
 * settings, the whole change feed and the row counts. Free the result with free(). */
static char *state(crm_t *db) {
    char *buf = NULL, *s = NULL, counts[128];
    size_t len = 0;
    crm_counts n;
    CHECK_OK(crm_segment_list(db, &s));
    append_owned(&buf, &len, s);
    CHECK_OK(crm_scoring_plan_list(db, &s));
    append_owned(&buf, &len, s);
    CHECK_OK(crm_lifecycle_rules_get(db, &s));
    append_owned(&buf, &len, s);
    CHECK_OK(crm_tier_config_get(db, &s));
    append_owned(&buf, &len, s);
    CHECK_OK(crm_changes_since(db, 0, 10000, &s));
    append_owned(&buf, &len, s);
    CHECK_OK(crm_counts_get(db, &n));
    snprintf(counts, sizeof counts, "%lld %lld %lld", (long long)n.customers, (long long)n.orders,
             (long long)n.interactions);
    append(&buf, &len, counts);
    return buf;
}

/* The state is what it was. */
#define CHECK_UNCHANGED(db, before)                                                        \
    do {                                                                                   \
        char *now_ = state(db);                                                            \
        CHECK(now_ != NULL && (before) != NULL && strcmp(now_, (before)) == 0);            \
        free(now_);                                                                        \
    } while (0)

static int64_t customer(crm_t *db, const char *ext, const char *country, const char *tags) {
    char json[256];
    int64_t id = 0;
    snprintf(json, sizeof json, "{\"external_id\":\"%s\",\"name\":\"%s\",\"address\":{\"country\":\"%s\"},\"tags\":%s}",
             ext, ext, country, tags);
    CHECK_OK(crm_customer_create(db, json, &id, NULL));
    return id;
}

static void order(crm_t *db, const char *ext, int64_t customer_id, int64_t at_us, int64_t total, const char *currency) {
    crm_order_in o = {ext, customer_id, NULL, at_us, CRM_ORDER_COMPLETED, currency, total, NULL};
    CHECK_OK(crm_order_record(db, &o, NULL, 0, NULL, NULL));
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : ".";
    char path[4096], buf[1024];
    crm_t *db = NULL;
    char *json = NULL, *text = NULL;
    int64_t n = 0, ids[8];
    size_t len = 99, changed = 99;
    bool yes = false;
    const int64_t now = (int64_t)time(NULL) * 1000000LL;

    snprintf(path, sizeof path, "%s/segments.db", dir);
    remove(path);
    CHECK_OK(crm_open(path, &db));
    int64_t a = customer(db, "a", "CN", "[\"vip\"]");
    int64_t b = customer(db, "b", "SG", "[]");
    int64_t c = customer(db, "c", "US", "[\"vip\"]");
    order(db, "o1", a, now - 10 * DAY_US, 150000, "CNY");
    order(db, "o2", b, now - 400 * DAY_US, 150000, "CNY");

    /* The rule language: text to tree and back; syntax only, no handle. */
    CHECK_OK(crm_rule_parse("country  in  [\"CN\",\"SG\"]", &json));
    CHECK(json != NULL && strstr(json, "\"op\":\"in\"") != NULL);
    CHECK_OK(crm_rule_format(json, &text));
    CHECK(text != NULL && strcmp(text, "country in [\"CN\", \"SG\"]") == 0);
    crm_string_free(text);

    /* Ad-hoc rules: checked, counted, listed page by page, tested for one customer. */
    CHECK_OK(crm_rule_check(db, "total_spent >= 1000.00 CNY and last_order_at within 90 days"));
    CHECK_OK(crm_rule_count(db, "\"vip\" in tags", CRM_NO_TIME, &n));
    CHECK(n == 2);
    CHECK_OK(crm_rule_count(db, "last_order_at within 30 days", now - 60 * DAY_US, &n));
    CHECK(n == 0);
    /* An as-of time is bounded: before 1970 or centuries ahead is refused on `as_of`. */
    CHECK_ERR(crm_rule_count(db, "last_order_at within 30 days", -DAY_US, &n), CRM_ERR_VALIDATION, "outside", "as_of");
    CHECK_ERR(crm_rule_count(db, "last_order_at within 30 days", now + 100000 * DAY_US, &n), CRM_ERR_VALIDATION,
              "outside", "as_of");
    CHECK_OK(crm_rule_members(db, "\"vip\" in tags", now, 0, ids, 1, &len));
    CHECK(len == 1 && ids[0] == a);
    CHECK_OK(crm_rule_members(db, "\"vip\" in tags", now, ids[0], ids, 1, &len));
    CHECK(len == 1 && ids[0] == c);
    CHECK_OK(crm_rule_members(db, "\"vip\" in tags", now, c, ids, 1, &len));
    CHECK(len == 0);
    CHECK_OK(crm_rule_members(db, "true", CRM_NO_TIME, 0, ids, 8, &len));
    CHECK(len == 3 && ids[0] == a && ids[1] == b && ids[2] == c);
    CHECK_OK(crm_rule_matches(db, a, "country = \"CN\"", &yes));
    CHECK(yes);
    CHECK_OK(crm_rule_matches(db, b, "country = \"CN\"", &yes));
    CHECK(!yes);
    CHECK_OK(crm_rule_matches_at(db, a, "last_order_at within 30 days", now - 60 * DAY_US, &yes));
    CHECK(!yes);
    CHECK_OK(crm_rule_matches_at(db, a, "last_order_at within 30 days", CRM_NO_TIME, &yes));
    CHECK(yes);

    /* Saved segments: dynamic from text and from a tree, static from a list. */
    CHECK_OK(crm_segment_create(
        db, "{\"name\":\"asia big\",\"rule\":\"country in [\\\"CN\\\", \\\"SG\\\"] and total_spent >= 1000.00 CNY\"}",
        &text));
    expect_and_free(text, "\"kind\":\"dynamic\"");
    snprintf(buf, sizeof buf, "{\"name\":\"tree\",\"rule\":%s,\"description\":\"from a tree\"}", json);
    crm_string_free(json);
    CHECK_OK(crm_segment_create(db, buf, NULL));
    snprintf(buf, sizeof buf, "{\"name\":\"pilot\",\"members\":[%lld]}", (long long)a);
    CHECK_OK(crm_segment_create(db, buf, &json));
    expect_and_free(json, "\"kind\":\"static\"");
    CHECK_OK(crm_segment_get(db, "tree", &json));
    expect_and_free(json, "\"description\":\"from a tree\"");
    CHECK_OK(crm_segment_list(db, &json));
    CHECK(json && strstr(json, "\"asia big\"") && strstr(json, "\"pilot\""));
    expect_and_free(json, "\"tree\"");

    CHECK_OK(crm_segment_count(db, "asia big", &n));
    CHECK(n == 2);
    CHECK_OK(crm_segment_members(db, "asia big", 0, ids, 8, &len));
    CHECK(len == 2 && ids[0] == a && ids[1] == b);
    CHECK_OK(crm_segment_members(db, "asia big", a, ids, 8, &len));
    CHECK(len == 1 && ids[0] == b);
    CHECK_OK(crm_segment_is_member(db, a, "asia big", &yes));
    CHECK(yes);
    CHECK_OK(crm_segment_is_member(db, c, "asia big", &yes));
    CHECK(!yes);

    /* Static lists: add (duplicates once), remove, and use in a rule. */
    {
        int64_t add[3] = {a, b, b};
        CHECK_OK(crm_segment_add_members(db, "pilot", add, 3, &changed));
        CHECK(changed == 1);
        CHECK_OK(crm_segment_remove_members(db, "pilot", add, 1, &changed));
        CHECK(changed == 1);
        CHECK_OK(crm_segment_add_members(db, "pilot", NULL, 0, NULL));
        CHECK_OK(crm_segment_count(db, "pilot", &n));
        CHECK(n == 1);
        CHECK_OK(crm_rule_matches(db, b, "in segment \"pilot\" and country = \"SG\"", &yes));
        CHECK(yes);
    }

    /* Snapshots: the first records everyone as entering, later ones only the difference; the
     * feed carries each entry with the customer in ref_id. */
    {
        int64_t seq = 0;
        crm_change_cursor_t *feed = NULL;
        crm_change ch;
        bool has = false;
        int enters = 0, leaves = 0;
        CHECK_OK(crm_changes_since(db, 0, 10000, &json));
        for (char *p = json; p && (p = strstr(p, "\"seq\":")) != NULL; p++) seq = strtoll(p + 6, NULL, 10);
        crm_string_free(json);

        snprintf(buf, sizeof buf, "\"entered\":[%lld,%lld],\"left\":[]", (long long)a, (long long)b);
        CHECK_OK(crm_segment_snapshot(db, "asia big", &json));
        expect_and_free(json, buf);
        CHECK_OK(crm_segment_update(db, "asia big", "{\"rule\":\"last_order_at within 90 days\"}", &json));
        expect_and_free(json, "\"op\":\"within\"");
        snprintf(buf, sizeof buf, "\"members\":1,\"entered\":[],\"left\":[%lld]", (long long)b);
        CHECK_OK(crm_segment_snapshot(db, "asia big", &json));
        expect_and_free(json, buf);

        CHECK_OK(crm_change_cursor_open(db, seq, 100, &feed));
        for (;;) {
            CHECK_OK(crm_change_cursor_next(feed, &ch, &has));
            if (!has) break;
            if (ch.entity != CRM_ENTITY_SEGMENT) continue;
            if (ch.op == CRM_OP_ENTER) {
                enters++;
                CHECK(ch.ref_id == a || ch.ref_id == b);
            }
            if (ch.op == CRM_OP_LEAVE) {
                leaves++;
                CHECK(ch.ref_id == b);
            }
        }
        CHECK(enters == 2 && leaves == 1);
        CHECK_OK(crm_change_cursor_free(feed));
    }

    /* Update (rename, clear the description) and delete. */
    CHECK_OK(crm_segment_update(db, "tree", "{\"name\":\"renamed\",\"description\":null}", &json));
    expect_and_free(json, "\"description\":null");
    CHECK_OK(crm_segment_delete(db, "renamed"));
    CHECK_ERR(crm_segment_get(db, "renamed", &json), CRM_ERR_NOT_FOUND, "segment renamed not found", NULL);
    CHECK(json == NULL);

    /* Scoring plans: one customer, everyone, and scores in rules. */
    CHECK_OK(crm_scoring_plan_put(db, "{\"name\":\"engagement\",\"rules\":["
                                      "{\"when\":\"\\\"vip\\\" in tags\",\"points\":20},"
                                      "{\"when\":\"order_count >= 1\",\"points\":10},"
                                      "{\"when\":{\"op\":\"compare\",\"left\":{\"kind\":\"field\",\"name\":\"country\"},"
                                      "\"cmp\":\"=\",\"right\":{\"kind\":\"literal\",\"value\":{\"type\":\"text\","
                                      "\"value\":\"SG\"}}},\"points\":-5}]}"));
    CHECK_OK(crm_scoring_plan_list(db, &json));
    expect_and_free(json, "\"name\":\"engagement\"");
    CHECK_OK(crm_score_get(db, a, "engagement", &n));
    CHECK(n == 30);
    CHECK_OK(crm_score_get(db, b, "engagement", &n));
    CHECK(n == 5);
    CHECK_OK(crm_score_all(db, "engagement", &json));
    snprintf(buf, sizeof buf, "{\"customer_id\":%lld,\"score\":20}", (long long)c);
    expect_and_free(json, buf);
    CHECK_OK(crm_rule_count(db, "score.engagement >= 20", CRM_NO_TIME, &n));
    CHECK(n == 2);
    CHECK_OK(crm_scoring_plan_put(db, "{\"name\":\"spare\",\"rules\":[{\"when\":\"true\",\"points\":1}]}"));
    CHECK_OK(crm_scoring_plan_delete(db, "spare"));

    /* Two segments, one using the other, and one using the plan: for the errors below. */
    CHECK_OK(crm_segment_create(db, "{\"name\":\"cyc a\",\"rule\":\"order_count > 0\"}", NULL));
    CHECK_OK(crm_segment_create(db, "{\"name\":\"cyc b\",\"rule\":\"in segment \\\"cyc a\\\"\"}", NULL));
    CHECK_OK(crm_segment_create(db, "{\"name\":\"engaged\",\"rule\":\"score.engagement > 10\"}", NULL));

    /* ---- Errors: each one names what was wrong and changes nothing. ---- */
    char *before = state(db);

    /* NULL arguments, named. */
    CHECK_ERR(crm_rule_parse(NULL, &json), CRM_ERR_NULL_ARGUMENT, "rule must not be NULL", "rule");
    CHECK(json == NULL);
    CHECK_ERR(crm_rule_parse("true", NULL), CRM_ERR_NULL_ARGUMENT, "out_json", "out_json");
    CHECK_ERR(crm_rule_format(NULL, &text), CRM_ERR_NULL_ARGUMENT, "rule_json", "rule_json");
    CHECK_ERR(crm_rule_count(NULL, "true", CRM_NO_TIME, &n), CRM_ERR_NULL_ARGUMENT, "crm", "crm");
    CHECK_ERR(crm_rule_count(db, "true", CRM_NO_TIME, NULL), CRM_ERR_NULL_ARGUMENT, "out_count", "out_count");
    CHECK_ERR(crm_rule_matches(db, a, NULL, &yes), CRM_ERR_NULL_ARGUMENT, "rule", "rule");
    CHECK_ERR(crm_segment_is_member(db, a, NULL, &yes), CRM_ERR_NULL_ARGUMENT, "name", "name");
    CHECK_ERR(crm_segment_is_member(db, a, "pilot", NULL), CRM_ERR_NULL_ARGUMENT, "out_is_member", "out_is_member");
    CHECK_ERR(crm_segment_members(db, "pilot", 0, NULL, 8, &len), CRM_ERR_NULL_ARGUMENT, "out_ids", "out_ids");
    CHECK(len == 0);
    CHECK_ERR(crm_segment_members(db, "pilot", 0, ids, 8, NULL), CRM_ERR_NULL_ARGUMENT, "out_len", "out_len");
    CHECK_ERR(crm_segment_add_members(db, "pilot", NULL, 2, NULL), CRM_ERR_NULL_ARGUMENT, "ids", "ids");
    CHECK_ERR(crm_segment_create(db, NULL, NULL), CRM_ERR_NULL_ARGUMENT, "segment_json", "segment_json");
    CHECK_ERR(crm_scoring_plan_put(db, NULL), CRM_ERR_NULL_ARGUMENT, "plan_json", "plan_json");
    CHECK_ERR(crm_score_get(db, a, NULL, &n), CRM_ERR_NULL_ARGUMENT, "plan", "plan");
    CHECK_ERR(crm_tier_get(db, a, NULL), CRM_ERR_NULL_ARGUMENT, "out_tier", "out_tier");
    CHECK_UNCHANGED(db, before);

    /* Invalid UTF-8. */
    CHECK_ERR(crm_rule_check(db, "name = \"\xff\""), CRM_ERR_INVALID_UTF8, "not valid UTF-8", "rule");
    CHECK_ERR(crm_segment_count(db, "\xc3", &n), CRM_ERR_INVALID_UTF8, "not valid UTF-8", "name");
    CHECK_ERR(crm_segment_create(db, "{\"name\":\"\xfe\"}", NULL), CRM_ERR_INVALID_UTF8, "not valid UTF-8",
              "segment_json");

    /* Parse errors: code, message with line and column, field, position. */
    {
        size_t line = 0, column = 0;
        CHECK_ERR(crm_rule_count(db, "country = ", CRM_NO_TIME, &n), CRM_ERR_PARSE,
                  "parse error at line 1, column 11", "rule");
        CHECK(strstr(crm_last_error_message(), "end of input") != NULL);
        CHECK(crm_last_error_position(&line, &column) && line == 1 && column == 11);
        CHECK_ERR(crm_rule_parse("country = \"SG\" and\n  total_spent >=> 5", &json), CRM_ERR_PARSE,
                  "line 2, column 17", "rule");
        CHECK(json == NULL);
        CHECK(crm_last_error_position(&line, NULL) && line == 2);
        CHECK_ERR(crm_rule_matches(db, a, "country = = 1", &yes), CRM_ERR_PARSE, "column 11", "rule");
        CHECK_ERR(crm_rule_members(db, "(", CRM_NO_TIME, 0, ids, 8, &len), CRM_ERR_PARSE, "column 2", "rule");
        CHECK(len == 0);
        /* Inside a JSON record, rule text that does not parse makes the record invalid JSON. */
        CHECK_ERR(crm_segment_create(db, "{\"name\":\"bad\",\"rule\":\"country =\"}", NULL), CRM_ERR_INVALID_JSON,
                  "parse error at line 1, column 10", "segment_json");
        CHECK(!crm_last_error_position(&line, &column) && line == 0 && column == 0);
        CHECK_ERR(crm_rule_format("{\"op\":\"nope\"}", &text), CRM_ERR_INVALID_JSON, "rule_json", "rule_json");
        CHECK(text == NULL);
    }
    CHECK_UNCHANGED(db, before);

    /* Rules that parse but mean nothing: validation with the field, unknown references. */
    CHECK_ERR(crm_rule_check(db, "country > 5"), CRM_ERR_VALIDATION, "country", "country");
    CHECK_ERR(crm_rule_count(db, "colour = \"red\"", CRM_NO_TIME, &n), CRM_ERR_VALIDATION, "colour", "colour");
    CHECK_ERR(crm_rule_check(db, "in segment \"nope\""), CRM_ERR_NOT_FOUND, "segment nope not found", NULL);
    CHECK_ERR(crm_rule_check(db, "score.nope > 1"), CRM_ERR_NOT_FOUND, "nope", NULL);
    CHECK_ERR(crm_rule_count(db, "true", INT64_MAX, &n), CRM_ERR_VALIDATION, "as_of", "as_of");
    CHECK_ERR(crm_rule_members(db, "true", CRM_NO_TIME, 0, ids, 0, &len), CRM_ERR_VALIDATION, "limit", "limit");
    CHECK_ERR(crm_rule_matches(db, 999, "true", &yes), CRM_ERR_NOT_FOUND, "customer 999 not found", NULL);

    /* Unknown segments, plans and customers. */
    CHECK_ERR(crm_segment_count(db, "nope", &n), CRM_ERR_NOT_FOUND, "segment nope not found", NULL);
    CHECK_ERR(crm_segment_members(db, "nope", 0, ids, 8, &len), CRM_ERR_NOT_FOUND, "nope", NULL);
    CHECK_ERR(crm_segment_is_member(db, a, "nope", &yes), CRM_ERR_NOT_FOUND, "nope", NULL);
    CHECK_ERR(crm_segment_is_member(db, 999, "pilot", &yes), CRM_ERR_NOT_FOUND, "customer 999", NULL);
    CHECK_ERR(crm_segment_update(db, "nope", "{}", NULL), CRM_ERR_NOT_FOUND, "nope", NULL);
    CHECK_ERR(crm_segment_delete(db, "nope"), CRM_ERR_NOT_FOUND, "nope", NULL);
    CHECK_ERR(crm_segment_snapshot(db, "nope", &json), CRM_ERR_NOT_FOUND, "nope", NULL);
    CHECK(json == NULL);
    CHECK_ERR(crm_score_get(db, a, "nope", &n), CRM_ERR_NOT_FOUND, "scoring_plan nope not found", NULL);
    CHECK_ERR(crm_score_all(db, "nope", &json), CRM_ERR_NOT_FOUND, "nope", NULL);
    CHECK_ERR(crm_scoring_plan_delete(db, "nope"), CRM_ERR_NOT_FOUND, "nope", NULL);
    CHECK_ERR(crm_lifecycle_history(db, 999, &json), CRM_ERR_NOT_FOUND, "customer 999", NULL);
    CHECK_ERR(crm_tier_get(db, 999, &text), CRM_ERR_NOT_FOUND, "customer 999", NULL);
    CHECK_ERR(crm_tier_history(db, 999, &json), CRM_ERR_NOT_FOUND, "customer 999", NULL);
    {
        int64_t add[2] = {b, 999};
        CHECK_ERR(crm_segment_add_members(db, "pilot", add, 2, &changed), CRM_ERR_NOT_FOUND, "customer 999", NULL);
    }
    CHECK_UNCHANGED(db, before);

    /* Cycles are validation errors on the rule. */
    CHECK_ERR(crm_segment_update(db, "cyc a", "{\"rule\":\"in segment \\\"cyc b\\\"\"}", NULL), CRM_ERR_VALIDATION,
              "cyclic", "rule");
    CHECK_ERR(crm_segment_create(db, "{\"name\":\"self\",\"rule\":\"in segment \\\"self\\\"\"}", NULL),
              CRM_ERR_VALIDATION, "cyclic", "rule");
    CHECK_ERR(crm_scoring_plan_put(db, "{\"name\":\"engagement\",\"rules\":["
                                       "{\"when\":\"in segment \\\"engaged\\\"\",\"points\":1}]}"),
              CRM_ERR_VALIDATION, "cyclic", "rule");

    /* Conflicts: a taken name, a segment or plan another rule uses. */
    CHECK_ERR(crm_segment_create(db, "{\"name\":\"pilot\"}", NULL), CRM_ERR_CONFLICT, "pilot", NULL);
    CHECK_ERR(crm_segment_delete(db, "cyc a"), CRM_ERR_CONFLICT, "cyc b", NULL);
    CHECK_ERR(crm_segment_update(db, "cyc a", "{\"name\":\"cyc z\"}", NULL), CRM_ERR_CONFLICT, "cyc b", NULL);
    CHECK_ERR(crm_scoring_plan_delete(db, "engagement"), CRM_ERR_CONFLICT, "engaged", NULL);

    /* Other validation: names, kinds, limits, settings. */
    CHECK_ERR(crm_segment_create(db, "{\"name\":\"\"}", NULL), CRM_ERR_VALIDATION, "name", "name");
    CHECK_ERR(crm_segment_create(db, "{\"name\":\"x\",\"rule\":\"true\",\"members\":[1]}", NULL), CRM_ERR_VALIDATION,
              "member list", "members");
    CHECK_ERR(crm_segment_create(db, "{\"name\":\"x\",\"colour\":1}", NULL), CRM_ERR_INVALID_JSON, "colour",
              "segment_json");
    CHECK_ERR(crm_segment_update(db, "pilot", "{\"rule\":\"true\"}", NULL), CRM_ERR_VALIDATION, "static", "rule");
    CHECK_ERR(crm_segment_add_members(db, "asia big", &a, 1, NULL), CRM_ERR_VALIDATION, "dynamic", "segment");
    CHECK_ERR(crm_segment_snapshot(db, "pilot", NULL), CRM_ERR_VALIDATION, "static", "segment");
    CHECK_ERR(crm_segment_members(db, "pilot", 0, ids, 0, &len), CRM_ERR_VALIDATION, "limit", "limit");
    CHECK_ERR(crm_scoring_plan_put(db, "{\"name\":\"bad name\",\"rules\":[]}"), CRM_ERR_VALIDATION, "bad name",
              "name");
    CHECK_ERR(crm_scoring_plan_put(db, "{\"name\":\"p\",\"rules\":[{\"when\":\"true\",\"points\":2000000}]}"),
              CRM_ERR_VALIDATION, "2000000", "rules[0].points");
    CHECK_ERR(crm_lifecycle_rules_set(db, "{\"rules\":[]}"), CRM_ERR_VALIDATION, "1 to 100", "rules");
    CHECK_ERR(crm_lifecycle_rules_set(db, "{\"rules\":[{\"stage\":\"loyal\",\"when\":\"x = 1\"}]}"),
              CRM_ERR_VALIDATION, "x", "rules[0].when.x");
    CHECK_ERR(crm_lifecycle_rules_set(db, "{\"rules\":[{\"stage\":\"sleepy\",\"when\":\"true\"}]}"),
              CRM_ERR_INVALID_JSON, "sleepy", "rules_json");
    CHECK_ERR(crm_tier_config_set(db, "{\"basis\":{\"by\":\"spend\",\"currency\":\"USD\",\"tiers\":["
                                      "{\"name\":\"a\",\"min_minor\":10},{\"name\":\"b\",\"min_minor\":20}]}}"),
              CRM_ERR_VALIDATION, "overlap", "basis.tiers[1].min_minor");
    CHECK_ERR(crm_tier_refresh(db, CRM_NO_TIME, &json), CRM_ERR_VALIDATION, "set_tier_config", "tiers");
    CHECK(json == NULL);
    CHECK_ERR(crm_lifecycle_refresh(db, INT64_MIN + 1, NULL), CRM_ERR_VALIDATION, "as_of", "as_of");
    CHECK_UNCHANGED(db, before);
    free(before);

    /* Lifecycle stages: the default rules, a refresh, the history, custom rules. */
    CHECK_OK(crm_lifecycle_rules_get(db, &json));
    expect_and_free(json, "\"stage\":\"won_back\"");
    CHECK_OK(crm_lifecycle_refresh(db, CRM_NO_TIME, &json));
    CHECK(json && strstr(json, "\"customers\":3"));
    expect_and_free(json, "\"churned\":1");
    CHECK_OK(crm_lifecycle_history(db, b, &json));
    expect_and_free(json, "\"stage\":\"churned\"");
    CHECK_OK(crm_lifecycle_rules_set(db, "{\"rules\":[{\"stage\":\"loyal\",\"when\":\"country = \\\"CN\\\"\"}]}"));
    CHECK_OK(crm_lifecycle_refresh(db, CRM_NO_TIME, NULL));
    CHECK_OK(crm_customer_get(db, a, &json));
    expect_and_free(json, "\"lifecycle\":\"loyal\"");

    /* Value tiers: none yet, by spend with a default, then without one. */
    CHECK_OK(crm_tier_config_get(db, &json));
    CHECK(json == NULL);
    CHECK_OK(crm_tier_config_set(db, "{\"basis\":{\"by\":\"spend\",\"currency\":\"CNY\",\"tiers\":["
                                     "{\"name\":\"high\",\"min_minor\":100000}]},\"default\":\"low\"}"));
    CHECK_OK(crm_tier_config_get(db, &json));
    expect_and_free(json, "\"by\":\"spend\"");
    CHECK_OK(crm_tier_refresh(db, CRM_NO_TIME, &json));
    expect_and_free(json, "\"counts\":{\"high\":2,\"low\":1}");
    CHECK_OK(crm_tier_get(db, a, &text));
    CHECK(text != NULL && strcmp(text, "high") == 0);
    crm_string_free(text);
    CHECK_OK(crm_tier_history(db, a, &json));
    expect_and_free(json, "\"tier\":\"high\"");
    CHECK_OK(crm_rule_count(db, "tier = \"low\"", CRM_NO_TIME, &n));
    CHECK(n == 1);
    CHECK_OK(crm_tier_config_set(db, "{\"basis\":{\"by\":\"rules\",\"tiers\":["
                                     "{\"name\":\"top\",\"when\":\"total_spent >= 1000.00 CNY\"}]}}"));
    CHECK_OK(crm_tier_refresh(db, CRM_NO_TIME, NULL));
    CHECK_OK(crm_tier_get(db, c, &text));
    CHECK(text == NULL);

    /* A closed handle is reported, never used. */
    CHECK_OK(crm_close(db));
    CHECK_ERR(crm_segment_is_member(db, a, "pilot", &yes), CRM_ERR_INVALID_HANDLE, "closed", "crm_t handle");
    CHECK_ERR(crm_rule_count(db, "true", CRM_NO_TIME, &n), CRM_ERR_INVALID_HANDLE, "closed", "crm_t handle");
    CHECK(strcmp(crm_status_name(CRM_ERR_PARSE), "CRM_ERR_PARSE") == 0);
    remove(path);
    CHECK_DONE();
}
