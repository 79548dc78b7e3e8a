/* Idempotency through the C API, on a real SQLite file: a seeded random loop over every entry
 * point that takes a key or an external id (upserts, identities, orders and their corrections,
 * refunds, interactions, points, ingest of files, merges and unmerges, and the set calls of
 * the configuration). Each call is made twice with the same arguments: the second returns the
 * same status, the same JSON and out-values (an outcome of CRM_OUTCOME_UNCHANGED, a replayed
 * flag), and leaves the database as it was: the change feed (crm_changes_since) shows nothing
 * new, and neither customers, statistics, ledgers, identities, merges nor orders change. A
 * call that fails changes nothing; a key of the ledger or of refunds reused for another
 * request is CRM_ERR_CONFLICT and changes nothing.
 *
 * The seed is printed; set CRM_IDEM_SEED to replay a run, CRM_IDEM_STEPS for its length, and
 * CRM_IDEM_VERBOSE to print each call with its status.
 * Every string handed out is freed (valgrind or ASan). */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"

#define CUSTOMERS 4
#define ORDERS 4
#define KEYS 24 /* ledger keys; refunds use four of them */
#define USED_MAX 64

/* 2026-03-01T12:00:00Z and a day, in microseconds since the epoch. */
static const int64_t T0_US = INT64_C(1772366400000000);
static const int64_t DAY_US = INT64_C(86400000000);

static uint64_t rng_state;

static uint32_t rnd(uint32_t n) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % n);
}

/* ---- a growing string ---------------------------------------------------------------- */

typedef struct {
    char *s;
    size_t len, cap;
} buf;

static void put(buf *b, const char *text) {
    size_t n = strlen(text);
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1) cap *= 2;
        char *s = realloc(b->s, cap);
        if (s == NULL) abort();
        b->s = s;
        b->cap = cap;
    }
    memcpy(b->s + b->len, text, n + 1);
    b->len += n;
}

/* Appends a JSON answer and frees it (or the status, when the call failed). The call is
 * made before: an argument's order of evaluation is unspecified. */
static void put_json(buf *b, const char *what, crm_status st, char *json) {
    char head[96];
    snprintf(head, sizeof head, "\n%s %d ", what, (int)st);
    put(b, head);
    if (json != NULL) put(b, json);
    crm_string_free(json);
}

/* Everything a host can read back: the whole feed, the counts, each customer with its
 * statistics, ledger, identities and merges, each pooled order with its refunds. */
static char *snapshot(const crm_t *db) {
    buf b = {0};
    char *json = NULL, what[64];
    crm_status st = crm_changes_since(db, 0, 10000, &json);
    put_json(&b, "feed", st, json);
    crm_counts n = {0};
    st = crm_counts_get(db, &n);
    snprintf(what, sizeof what, "\ncounts %d %" PRId64 " %" PRId64 " %" PRId64, (int)st, n.customers, n.orders,
             n.interactions);
    put(&b, what);
    /* No call here deletes a customer: ids run from 1 to the count. */
    for (int64_t id = 1; id <= n.customers; id++) {
        json = NULL;
        snprintf(what, sizeof what, "customer %" PRId64, id);
        st = crm_customer_get(db, id, &json);
        put_json(&b, what, st, json);
        json = NULL;
        st = crm_customer_stats_json(db, id, &json);
        put_json(&b, "stats", st, json);
        json = NULL;
        st = crm_points_statement(db, id, &json);
        put_json(&b, "points", st, json);
        json = NULL;
        st = crm_customer_identities(db, id, &json);
        put_json(&b, "identities", st, json);
        json = NULL;
        st = crm_customer_merge_history(db, id, &json);
        put_json(&b, "merges", st, json);
    }
    for (int o = 0; o < ORDERS; o++) {
        char ext[16];
        snprintf(ext, sizeof ext, "O-%d", o);
        json = NULL;
        st = crm_order_get_by_external_id(db, ext, &json);
        put_json(&b, ext, st, json);
        int64_t oid = 0;
        if (crm_order_id_by_external_id(db, ext, &oid) == CRM_OK) {
            json = NULL;
            st = crm_order_refunds(db, oid, &json);
            put_json(&b, "refunds", st, json);
        }
    }
    return b.s;
}

/* Prints the first line where two snapshots differ. */
static void show_diff(const char *a, const char *b) {
    size_t i = 0, line = 0;
    while (a[i] && a[i] == b[i]) {
        if (a[i] == '\n') line = i + 1;
        i++;
    }
    fprintf(stderr, "  was: %.300s\n  now: %.300s\n", a + line, b + line);
}

/* ---- the calls ------------------------------------------------------------------------ */

/* What one call answered. */
typedef struct {
    crm_status st;
    char *json;        /* a JSON out-value, if the call has one (freed with crm_string_free) */
    int64_t n;         /* an id or a balance */
    crm_outcome outcome;
    bool has_outcome;  /* the call reports an outcome: the repeat must be UNCHANGED */
    bool replayed;
    bool has_replayed; /* the call reports a replay: the repeat must be one */
    char message[256];
} answer;

/* One call, with what chooses its key and payload. */
typedef struct {
    int kind, c, c2, o, key, v;
} op;

enum {
    OP_UPSERT,
    OP_UPSERT_REPLACE,
    OP_UPSERT_FROM,
    OP_IDENTITY,
    OP_ORDER,
    OP_ORDER_UPDATE,
    OP_ORDER_STATUS,
    OP_REFUND,
    OP_INTERACTION,
    OP_EARN,
    OP_REDEEM,
    OP_ADJUST,
    OP_AWARD,
    OP_INGEST,
    OP_MERGE,
    OP_UNMERGE,
    OP_PROGRAM,
    OP_POLICY,
    OP_LIFECYCLE,
    OP_PLAN,
    OP_TIERS,
    OP_KINDS
};

static const char *PROGRAMS[2] = {
    "{\"name\":\"Stars\",\"rates\":{\"USD\":{\"points\":1,\"per_minor\":100}},"
    "\"rules\":[{\"name\":\"base\",\"kind\":\"base\"},"
    "{\"name\":\"signup\",\"kind\":\"bonus\",\"event\":\"sign_up\",\"points\":25}],\"expiry_days\":365}",
    "{\"name\":\"Stars 2\",\"rates\":{\"USD\":{\"points\":2,\"per_minor\":100}},"
    "\"rules\":[{\"name\":\"base\",\"kind\":\"base\"},"
    "{\"name\":\"signup\",\"kind\":\"bonus\",\"event\":\"sign_up\",\"points\":30}],\"expiry_days\":400}",
};

static int64_t ids[CUSTOMERS]; /* the store id of C-i once created (0: not yet) */
static char dir_path[4000];
static int files;

/* The id of pooled customer `c`, or one no customer has. */
static int64_t cid(int c) {
    return ids[c] ? ids[c] : 1000000 + c;
}

static void customer_json(char *out, size_t size, const char *ext, int v) {
    switch (v) {
    case 0:
        snprintf(out, size, "{\"external_id\":\"%s\",\"name\":\"Ada\",\"email\":\"ada@example.com\",\"tags\":[\"vip\"]}",
                 ext);
        break;
    case 1:
        snprintf(out, size,
                 "{\"external_id\":\"%s\",\"name\":\"Ada L\",\"address\":{\"country\":\"SG\"},"
                 "\"attributes\":{\"plan\":\"gold\"}}",
                 ext);
        break;
    default:
        snprintf(out, size, "{\"external_id\":\"%s\",\"name\":\"Bob\",\"phone\":\"+6591234567\"}", ext);
    }
}

static void order_json(char *out, size_t size, int o, int c, int v) {
    switch (v) {
    case 0:
        snprintf(out, size,
                 "{\"external_id\":\"O-%d\",\"customer_external_id\":\"C-%d\",\"occurred_at\":\"2026-03-01T12:00:00Z\","
                 "\"currency\":\"USD\",\"total_minor\":5000,\"items\":[{\"sku\":\"A\",\"quantity\":2,"
                 "\"unit_price_minor\":1500},{\"sku\":\"B\",\"quantity\":1,\"unit_price_minor\":2000}]}",
                 o, c);
        break;
    case 1:
        snprintf(out, size,
                 "{\"external_id\":\"O-%d\",\"customer_external_id\":\"C-%d\",\"occurred_at\":\"2026-03-02T12:00:00Z\","
                 "\"currency\":\"USD\",\"total_minor\":12000,\"channel\":\"web\"}",
                 o, c);
        break;
    default:
        snprintf(out, size,
                 "{\"external_id\":\"O-%d\",\"customer_external_id\":\"C-%d\",\"occurred_at\":\"2026-03-01T12:00:00Z\","
                 "\"currency\":\"USD\",\"total_minor\":5000,\"status\":\"cancelled\"}",
                 o, c);
    }
}

static void refund_json(char *out, size_t size, int key, int v) {
    if (v == 0) snprintf(out, size, "{\"key\":\"R-%d\",\"amount_minor\":1000}", key);
    else if (v == 1) snprintf(out, size, "{\"key\":\"R-%d\",\"lines\":[{\"sku\":\"A\",\"quantity\":1}]}", key);
    else snprintf(out, size, "{\"key\":\"R-%d\",\"amount_minor\":500}", key);
}

/* The file an OP_INGEST reads: rows of customers (v 0), orders (1) or interactions (2). */
static void write_rows(char *path, size_t size, const op *p) {
    snprintf(path, size, "%s/idem-%d.jsonl", dir_path, ++files);
    FILE *f = fopen(path, "w");
    if (f == NULL) return;
    char row[1024];
    for (int r = 0; r < 1 + p->key % 3; r++) {
        int c = (p->c + r) % CUSTOMERS, o = (p->o + r) % ORDERS;
        char ext[16];
        snprintf(ext, sizeof ext, "C-%d", c);
        if (p->v == 0) customer_json(row, sizeof row, ext, r % 3);
        else if (p->v == 1) order_json(row, sizeof row, o, c, r % 3);
        else
            snprintf(row, sizeof row,
                     "{\"external_id\":\"I-%d\",\"customer_external_id\":\"C-%d\",\"kind\":\"call\","
                     "\"occurred_at\":\"2026-03-01T1%d:00:00Z\"}",
                     o, c, r);
        fputs(row, f);
        fputc('\n', f);
    }
    fclose(f);
}

/* Makes the call `p` stands for; `file` is the file an OP_INGEST reads. */
static answer call(const crm_t *db, const op *p, const char *file) {
    answer a;
    memset(&a, 0, sizeof a);
    char body[2048], ext[32], key[32];
    snprintf(key, sizeof key, "K-%d", p->key);
    switch (p->kind) {
    case OP_UPSERT:
    case OP_UPSERT_REPLACE:
        snprintf(ext, sizeof ext, "C-%d", p->c);
        customer_json(body, sizeof body, ext, p->v);
        a.st = (p->kind == OP_UPSERT ? crm_customer_upsert : crm_customer_upsert_replace)(db, body, &a.n, &a.outcome,
                                                                                           &a.json);
        a.has_outcome = true;
        break;
    case OP_UPSERT_FROM:
        snprintf(ext, sizeof ext, "P-%d", p->key % 3);
        customer_json(body, sizeof body, ext, p->v);
        a.st = crm_customer_upsert_from(db, p->c % 2 ? "web" : "pos", body, &a.n, &a.outcome, &a.json);
        a.has_outcome = true;
        break;
    case OP_IDENTITY:
        snprintf(ext, sizeof ext, "P-%d", p->key % 3);
        a.st = crm_identity_add(db, cid(p->c), p->v % 2 ? "web" : "pos", ext);
        break;
    case OP_ORDER:
        order_json(body, sizeof body, p->o, p->c, p->v);
        a.st = crm_order_record_json(db, body, &a.n, &a.outcome, &a.json);
        a.has_outcome = true;
        break;
    case OP_ORDER_UPDATE:
        snprintf(ext, sizeof ext, "O-%d", p->o);
        snprintf(body, sizeof body, "%s",
                 p->v == 0 ? "{\"total_minor\":4000}"
                 : p->v == 1 ? "{\"status\":\"completed\",\"channel\":\"store\"}"
                             : "{\"occurred_at\":\"2026-03-03T12:00:00Z\",\"channel\":null}");
        a.st = crm_order_update_by_external_id(db, ext, body, &a.outcome, &a.json);
        a.has_outcome = true;
        break;
    case OP_ORDER_STATUS:
        snprintf(ext, sizeof ext, "O-%d", p->o);
        a.st = crm_order_set_status(db, ext, p->v % 3, &a.outcome);
        a.has_outcome = true;
        break;
    case OP_REFUND:
        snprintf(ext, sizeof ext, "O-%d", p->o);
        refund_json(body, sizeof body, p->key % 4, p->v);
        a.st = crm_order_refund(db, ext, body, &a.outcome, &a.json);
        a.has_outcome = true;
        break;
    case OP_INTERACTION:
        snprintf(body, sizeof body,
                 "{\"external_id\":\"I-%d\",\"customer_external_id\":\"C-%d\",\"kind\":\"%s\","
                 "\"occurred_at\":\"2026-03-01T12:00:00Z\"%s}",
                 p->o % 3, p->c, p->v ? "email" : "call", p->v == 2 ? ",\"subject\":\"Hello\"" : "");
        a.st = crm_interaction_add(db, body, &a.n, &a.outcome, &a.json);
        a.has_outcome = true;
        break;
    case OP_EARN:
        a.st = crm_points_earn(db, cid(p->c), 10 * (1 + p->v % 2), key, T0_US + 30 * DAY_US, &a.n, &a.replayed);
        a.has_replayed = true;
        break;
    case OP_REDEEM:
        a.st = crm_points_redeem_at(db, cid(p->c), 10 * (1 + p->v % 2), key, T0_US + 60 * DAY_US, &a.n);
        break;
    case OP_ADJUST:
        a.st = crm_points_adjust(db, cid(p->c), p->v == 0 ? -10 : 10 * p->v, key, "goodwill", &a.n, &a.replayed);
        a.has_replayed = true;
        break;
    case OP_AWARD: {
        bool awarded = false;
        a.st = crm_points_award_event(db, cid(p->c), p->v % 2 ? "birthday" : "sign_up", key, T0_US + 10 * DAY_US,
                                      &awarded, &a.n, &a.replayed);
        a.has_replayed = awarded;
        break;
    }
    case OP_INGEST: {
        static const char *const KIND[3] = {"customers", "orders", "interactions"};
        a.st = crm_ingest_file(db, KIND[p->v % 3], file, NULL, NULL, NULL, &a.json);
        break;
    }
    case OP_MERGE:
        snprintf(body, sizeof body, "{\"actor\":\"c-test\",\"reason\":\"reason %d\"}", p->v);
        a.st = crm_customer_merge(db, cid(p->c), cid(p->c2), body, &a.json);
        break;
    case OP_UNMERGE:
        a.st = crm_customer_unmerge(db, cid(p->c), NULL, &a.json);
        break;
    case OP_PROGRAM:
        a.st = crm_loyalty_program_set(db, PROGRAMS[p->v % 2], false);
        break;
    case OP_POLICY:
        snprintf(body, sizeof body, "{\"mode\":\"off\",\"threshold\":%s,\"max_block_size\":500}",
                 p->v % 2 ? "0.9" : "0.95");
        a.st = crm_match_policy_set(db, body);
        break;
    case OP_LIFECYCLE:
        snprintf(body, sizeof body, "{\"rules\":[{\"stage\":\"loyal\",\"when\":\"%s\"}]}",
                 p->v % 2 ? "\\\"vip\\\" in tags" : "country = \\\"SG\\\"");
        a.st = crm_lifecycle_rules_set(db, body);
        break;
    case OP_PLAN:
        snprintf(body, sizeof body, "{\"name\":\"lead\",\"rules\":[{\"when\":\"email is not null\",\"points\":%d}]}",
                 p->v % 2 ? 20 : 10);
        a.st = crm_scoring_plan_put(db, body);
        break;
    default:
        snprintf(body, sizeof body,
                 "{\"basis\":{\"by\":\"spend\",\"currency\":\"USD\",\"tiers\":[{\"name\":\"high\",\"min_minor\":%d},"
                 "{\"name\":\"medium\",\"min_minor\":%d}]},\"default\":\"low\"}",
                 p->v % 2 ? 200000 : 100000, p->v % 2 ? 20000 : 10000);
        a.st = crm_tier_config_set(db, body);
    }
    if (a.st != CRM_OK) snprintf(a.message, sizeof a.message, "%s", crm_last_error_message());
    return a;
}

/* A merge or unmerge answers with the merge and both customers, and counts of what moved,
 * which a replay reports as 0: compared up to "orders_moved". */
static size_t comparable_len(const op *p, const char *json) {
    if (p->kind == OP_MERGE || p->kind == OP_UNMERGE) {
        const char *cut = strstr(json, "\"orders_moved\"");
        if (cut != NULL) return (size_t)(cut - json);
    }
    return strlen(json);
}

/* An ingest report repeated: every row unchanged (or failed as before). */
static bool all_unchanged(const char *report) {
    return strstr(report, "\"created\":0") != NULL && strstr(report, "\"updated\":0") != NULL;
}

/* Whether customers rows of an ingest name one customer through two external ids (a merged
 * customer and its survivor): written once per row, as single upserts are, so its repeat
 * writes again; left out of the check (see crm-core/tests/idempotency_prop.rs). */
static bool one_customer_twice(const crm_t *db, const op *p) {
    if (p->kind != OP_INGEST || p->v % 3 != 0) return false;
    int64_t seen[3] = {0};
    for (int r = 0; r < 1 + p->key % 3; r++) {
        char ext[16];
        snprintf(ext, sizeof ext, "C-%d", (p->c + r) % CUSTOMERS);
        int64_t id = 0;
        if (crm_customer_id_by_external_id(db, ext, &id) != CRM_OK) continue;
        for (int q = 0; q < r; q++)
            if (seen[q] == id && (p->c + q) % CUSTOMERS != (p->c + r) % CUSTOMERS) return true;
        seen[r] = id;
    }
    return false;
}

/* ---- keys used, for the conflicts ------------------------------------------------------ */

typedef struct {
    int key;
    int64_t customer, points;
} used_points;

static used_points earned[USED_MAX];
static int n_earned;

typedef struct {
    int key, o, v;
} used_refund;

static used_refund refunded[USED_MAX];
static int n_refunded;

static const char *const OP_NAMES[OP_KINDS] = {
    "upsert", "upsert_replace", "upsert_from", "identity_add", "order_record", "order_update", "order_set_status",
    "order_refund", "interaction_add", "points_earn", "points_redeem_at", "points_adjust", "points_award_event",
    "ingest_file", "customer_merge", "customer_unmerge", "loyalty_program_set", "match_policy_set",
    "lifecycle_rules_set", "scoring_plan_put", "tier_config_set"};

static void free_answer(answer *a) {
    crm_string_free(a->json);
    a->json = NULL;
}

/* Makes `p` twice and checks the rules of the file's comment; returns the first status. */
static crm_status twice(const crm_t *db, const op *p, int step) {
    char file[4096] = "";
    if (p->kind == OP_INGEST) write_rows(file, sizeof file, p);
    bool lenient = one_customer_twice(db, p);
    char *before = snapshot(db);
    answer first = call(db, p, file);
    char *after = snapshot(db);
    if (first.st != CRM_OK && strcmp(before, after) != 0) {
        fprintf(stderr, "step %d %s failed (%s: %s) but wrote:\n", step, OP_NAMES[p->kind],
                crm_status_name((int)first.st), first.message);
        show_diff(before, after);
        check_failures++;
    }
    if (getenv("CRM_IDEM_VERBOSE") != NULL)
        printf("step %d %s c=%d c2=%d o=%d key=%d v=%d: %s %s\n", step, OP_NAMES[p->kind], p->c, p->c2, p->o, p->key,
               p->v, crm_status_name((int)first.st), first.message);
    answer second = call(db, p, file);
    char *again = snapshot(db);
    bool same = second.st == first.st && strcmp(second.message, first.message) == 0 && second.n == first.n &&
                (first.json == NULL) == (second.json == NULL);
    if (same && first.json != NULL) {
        size_t len = comparable_len(p, first.json);
        same = len == comparable_len(p, second.json) && strncmp(first.json, second.json, len) == 0;
        if (p->kind == OP_INGEST) {
            /* Created and updated rows are unchanged the second time: compare rows and failures. */
            same = lenient || all_unchanged(second.json);
        }
    }
    if (second.st == CRM_OK && second.has_outcome && second.outcome != CRM_OUTCOME_UNCHANGED) same = false;
    if (second.st == CRM_OK && second.has_replayed && !second.replayed) same = false;
    if (!same) {
        fprintf(stderr, "step %d %s: the repeat answered otherwise: %s %" PRId64 " %d %s / %s %" PRId64 " %d %s\n",
                step, OP_NAMES[p->kind], crm_status_name((int)first.st), first.n, (int)first.outcome,
                first.json ? first.json : first.message, crm_status_name((int)second.st), second.n,
                (int)second.outcome, second.json ? second.json : second.message);
        check_failures++;
    }
    if (!lenient && strcmp(after, again) != 0) {
        fprintf(stderr, "step %d %s repeated wrote:\n", step, OP_NAMES[p->kind]);
        show_diff(after, again);
        check_failures++;
    }
    /* Keys used, for the conflicts below. */
    if (first.st == CRM_OK && p->kind == OP_EARN && n_earned < USED_MAX)
        earned[n_earned++] = (used_points){p->key, cid(p->c), 10 * (1 + p->v % 2)};
    if (first.st == CRM_OK && p->kind == OP_REFUND && first.outcome != CRM_OUTCOME_UNCHANGED && n_refunded < USED_MAX)
        refunded[n_refunded++] = (used_refund){p->key % 4, p->o, p->v};
    crm_status st = first.st;
    free_answer(&first);
    free_answer(&second);
    free(before);
    free(after);
    free(again);
    return st;
}

/* A key of the ledger or of refunds used again for another request. */
static void conflicts(const crm_t *db) {
    char *before = snapshot(db);
    char key[32], ext[16], body[256];
    int64_t balance = -1;
    bool replayed = false;
    for (int i = 0; i < n_earned; i++) {
        snprintf(key, sizeof key, "K-%d", earned[i].key);
        CHECK_ERR(crm_points_earn(db, earned[i].customer, earned[i].points + 1, key, T0_US + 30 * DAY_US, &balance,
                                  &replayed),
                  CRM_ERR_CONFLICT, "was used for", NULL);
        CHECK_ERR(crm_points_adjust(db, earned[i].customer, earned[i].points, key, "another kind", &balance, &replayed),
                  CRM_ERR_CONFLICT, "was used for", NULL);
    }
    for (int i = 0; i < n_refunded; i++) {
        snprintf(ext, sizeof ext, "O-%d", refunded[i].o);
        snprintf(body, sizeof body, "{\"key\":\"R-%d\",\"amount_minor\":1}", refunded[i].key);
        CHECK_ERR(crm_order_refund(db, ext, body, NULL, NULL), CRM_ERR_CONFLICT, "was used for", NULL);
    }
    char *after = snapshot(db);
    if (strcmp(before, after) != 0) {
        fprintf(stderr, "a refused reuse of a key wrote:\n");
        show_diff(before, after);
        check_failures++;
    }
    printf("conflicts checked: %d points keys, %d refund keys\n", n_earned, n_refunded);
    free(before);
    free(after);
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : ".";
    char path[4096];
    crm_t *db = NULL;
    snprintf(dir_path, sizeof dir_path, "%s", dir);
    const char *seed_env = getenv("CRM_IDEM_SEED");
    const char *steps_env = getenv("CRM_IDEM_STEPS");
    uint64_t seed = seed_env ? strtoull(seed_env, NULL, 10) : (uint64_t)time(NULL);
    int steps = steps_env ? atoi(steps_env) : 120;
    printf("test_idempotency: CRM_IDEM_SEED=%" PRIu64 " CRM_IDEM_STEPS=%d\n", seed, steps);
    rng_state = seed * 2654435761u + 1;

    snprintf(path, sizeof path, "%s/idempotency.db", dir);
    remove(path);
    CHECK_OK(crm_open(path, &db));
    CHECK_OK(crm_loyalty_program_set(db, PROGRAMS[0], false));
    /* Half the pooled customers, each with an order; the calls create the rest. */
    for (int c = 0; c < CUSTOMERS / 2; c++) {
        op p = {OP_UPSERT, c, 0, 0, 0, 0};
        answer a = call(db, &p, NULL);
        CHECK(a.st == CRM_OK);
        free_answer(&a);
        p = (op){OP_ORDER, c, 0, c, 0, 0};
        a = call(db, &p, NULL);
        CHECK(a.st == CRM_OK);
        free_answer(&a);
    }

    int made[OP_KINDS] = {0}, ok[OP_KINDS] = {0};
    for (int step = 0; step < steps; step++) {
        op p = {(int)rnd(OP_KINDS), (int)rnd(CUSTOMERS), (int)rnd(CUSTOMERS), (int)rnd(ORDERS), (int)rnd(KEYS),
                (int)rnd(3)};
        for (int c = 0; c < CUSTOMERS; c++) {
            char ext[16];
            snprintf(ext, sizeof ext, "C-%d", c);
            if (ids[c] == 0 && crm_customer_id_by_external_id(db, ext, &ids[c]) != CRM_OK) ids[c] = 0;
        }
        ok[p.kind] += twice(db, &p, step) == CRM_OK;
        made[p.kind]++;
    }
    /* Calls made and calls that succeeded, by kind. */
    for (int k = 0; k < OP_KINDS; k++) printf("%s %d/%d ", OP_NAMES[k], ok[k], made[k]);
    printf("\n");
    conflicts(db);

    CHECK_OK(crm_close(db));
    remove(path);
    for (int f = 1; f <= files; f++) {
        snprintf(path, sizeof path, "%s/idem-%d.jsonl", dir, f);
        remove(path);
    }
    CHECK_DONE();
}
