/* Loyalty from C: the program as JSON and TOML, orders earning, the typed earn / redeem /
 * adjust / event / balance calls with idempotency keys, expiry, the statement, tiers set
 * by hand and reviewed with their history, the simulator, and each promised error leaving
 * the ledger as it was. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "check.h"

#define T0 1767225600000000LL /* 2026-01-01T00:00:00Z in microseconds */
#define DAY 86400000000LL

static const char *PROGRAM =
    "{\"name\":\"Stars\",\"expiry_days\":30,"
    "\"rates\":{\"USD\":{\"points\":1,\"per_minor\":100}},"
    "\"rules\":[{\"name\":\"base\",\"kind\":\"base\"},"
    "{\"name\":\"welcome\",\"kind\":\"bonus\",\"event\":\"first_order\",\"points\":10}]}";

static const char *TIERED =
    "{\"name\":\"Stars\",\"expiry_days\":30,"
    "\"rates\":{\"USD\":{\"points\":1,\"per_minor\":100}},"
    "\"rules\":[{\"name\":\"base\",\"kind\":\"base\"},"
    "{\"name\":\"signup\",\"kind\":\"bonus\",\"event\":\"sign_up\",\"points\":25}],"
    "\"tiers\":{\"basis\":{\"by\":\"points\"},\"window_days\":365,"
    "\"levels\":[{\"name\":\"silver\",\"min\":100},{\"name\":\"gold\",\"min\":500}]}}";

static int64_t balance_of(crm_t *db, int64_t c) {
    int64_t b = -1;
    CHECK_OK(crm_points_balance(db, c, &b, NULL));
    return b;
}

int main(void) {
    crm_t *db = NULL;
    char *json = NULL;
    int64_t ada = 0, bal = 0, avail = 0, lots = 0, pts = 0;
    bool replayed = false;

    CHECK_OK(crm_open_in_memory(&db));
    CHECK_OK(crm_loyalty_program_get(db, &json));
    CHECK(json == NULL);
    CHECK_OK(crm_loyalty_program_set(db, PROGRAM, false));
    CHECK_OK(crm_loyalty_program_get(db, &json));
    CHECK(json != NULL && strstr(json, "\"name\":\"Stars\"") != NULL);
    crm_string_free(json);
    CHECK_OK(crm_loyalty_program_set(db,
                                     "name = \"Stars\"\nexpiry_days = 30\n"
                                     "[rates.USD]\npoints = 1\nper_minor = 100\n"
                                     "[[rules]]\nname = \"base\"\nkind = \"base\"\n"
                                     "[[rules]]\nname = \"welcome\"\nkind = \"bonus\"\nevent = \"first_order\"\npoints = 10\n",
                                     true));

    CHECK_OK(crm_customer_create(db, "{\"external_id\":\"C-1\",\"name\":\"Ada\"}", &ada, NULL));

    /* An order earns once: 42.50 USD gives 42 points and the first-order bonus. */
    int64_t now = (int64_t)time(NULL) * 1000000LL;
    crm_order_in o = {"O-1", ada, NULL, now - DAY, CRM_ORDER_COMPLETED, "USD", 4250, NULL};
    CHECK_OK(crm_order_record(db, &o, NULL, 0, NULL, NULL));
    CHECK_OK(crm_order_record(db, &o, NULL, 0, NULL, NULL));
    CHECK(balance_of(db, ada) == 52);

    /* Typed earn and redeem, with replays. */
    CHECK_OK(crm_points_earn(db, ada, 100, "E-1", CRM_NO_TIME, &bal, &replayed));
    CHECK(bal == 152 && !replayed);
    CHECK_OK(crm_points_earn(db, ada, 100, "E-1", CRM_NO_TIME, &bal, &replayed));
    CHECK(bal == 152 && replayed);
    CHECK_OK(crm_points_redeem(db, ada, 50, "R-1", &bal));
    CHECK(bal == 102);
    CHECK_OK(crm_points_redeem(db, ada, 50, "R-1", &bal));
    CHECK(bal == 102);
    CHECK_OK(crm_points_balance(db, ada, &bal, &avail));
    CHECK(bal == 102 && avail == 102);

    /* Points earned a year ago expired after 30 days: the expiry run takes them, once. */
    CHECK_OK(crm_points_earn(db, ada, 7, "E-old", T0, &bal, NULL));
    CHECK_OK(crm_points_balance(db, ada, &bal, &avail));
    CHECK(bal == 109 && avail == 102);
    CHECK_OK(crm_points_expire(db, CRM_NO_TIME, &lots, &pts));
    CHECK(lots == 1 && pts == 7);
    CHECK_OK(crm_points_expire(db, CRM_NO_TIME, &lots, &pts));
    CHECK(lots == 0 && pts == 0);

    CHECK_OK(crm_points_statement(db, ada, &json));
    CHECK(json != NULL && strstr(json, "\"kind\":\"redeem\"") != NULL && strstr(json, "\"lots\"") != NULL);
    crm_string_free(json);

    /* The liability: 102 points owed, all in lots that expire within 30 days, none within 7. */
    CHECK_OK(crm_loyalty_liability(db, 7, &json));
    CHECK(json != NULL && strstr(json, "\"accounts\":1,\"holders\":1,\"outstanding\":102,\"debt\":0,\"expiring\":0,") != NULL);
    crm_string_free(json);
    CHECK_OK(crm_loyalty_liability(db, 30, &json));
    CHECK(json != NULL && strstr(json, "\"outstanding\":102,\"debt\":0,\"expiring\":102,") != NULL);
    crm_string_free(json);
    json = (char *)"untouched";
    CHECK_ERR(crm_loyalty_liability(db, 3651, &json), CRM_ERR_VALIDATION, "3651", "expiring_within_days");
    CHECK(json == NULL);
    CHECK_ERR(crm_loyalty_liability(db, 7, NULL), CRM_ERR_NULL_ARGUMENT, "NULL", "out_json");
    CHECK_ERR(crm_loyalty_liability(NULL, 7, &json), CRM_ERR_NULL_ARGUMENT, "NULL", "crm");
    CHECK(balance_of(db, ada) == 102);

    /* Errors: each typed, nothing written. */
    int64_t before = balance_of(db, ada);
    CHECK_ERR(crm_points_redeem(db, ada, 103, "R-2", &bal), CRM_ERR_INSUFFICIENT_POINTS, "103 requested", NULL);
    CHECK_ERR(crm_points_redeem(db, ada, 0, "R-3", NULL), CRM_ERR_VALIDATION, "0", "points");
    CHECK_ERR(crm_points_redeem(db, ada, -5, "R-3", NULL), CRM_ERR_VALIDATION, "-5", "points");
    CHECK_ERR(crm_points_redeem(db, 9999, 5, "R-3", NULL), CRM_ERR_NOT_FOUND, "customer", NULL);
    CHECK_ERR(crm_points_redeem(db, ada, 5, NULL, NULL), CRM_ERR_NULL_ARGUMENT, "NULL", "idempotency_key");
    CHECK_ERR(crm_points_redeem(db, ada, 7, "R-1", NULL), CRM_ERR_CONFLICT, "R-1", NULL);
    CHECK_ERR(crm_points_redeem(NULL, ada, 5, "R-3", NULL), CRM_ERR_NULL_ARGUMENT, "NULL", "crm");
    CHECK_ERR(crm_points_balance(db, ada, NULL, NULL), CRM_ERR_NULL_ARGUMENT, "NULL", "out_balance");
    CHECK_ERR(crm_loyalty_program_set(db, "{\"name\":\"P\",\"rates\":{\"USD\":{\"points\":-1,\"per_minor\":1}}}", false),
              CRM_ERR_VALIDATION, "-1", "rates.USD.points");
    CHECK_ERR(crm_loyalty_program_set(db, "{\"name\":\"P\",\"rules\":[{\"name\":\"b\",\"kind\":\"base\",\"when\":\"shoe_size > 3\"}]}",
                                      false),
              CRM_ERR_VALIDATION, "shoe_size", "rules[0].when.shoe_size");
    CHECK_ERR(crm_loyalty_program_set(db, "not = [toml", true), CRM_ERR_VALIDATION, "", "program");
    CHECK(balance_of(db, ada) == before);
    CHECK(strcmp(crm_status_name(CRM_ERR_INSUFFICIENT_POINTS), "CRM_ERR_INSUFFICIENT_POINTS") == 0);

    /* Adjustments, event bonuses, redemption at a time, the balance as of a time. */
    bool awarded = false;
    CHECK_OK(crm_loyalty_program_set(db, TIERED, false));
    CHECK_OK(crm_points_adjust(db, ada, -2, "A-1", "duplicate goodwill credit", &bal, &replayed));
    CHECK(bal == before - 2 && !replayed);
    CHECK_OK(crm_points_adjust(db, ada, -2, "A-1", "duplicate goodwill credit", &bal, &replayed));
    CHECK(bal == before - 2 && replayed);
    CHECK_OK(crm_points_award_event(db, ada, "sign_up", "signup:C-1", CRM_NO_TIME, &awarded, &bal, &replayed));
    CHECK(awarded && bal == before + 23 && !replayed);
    CHECK_OK(crm_points_award_event(db, ada, "sign_up", "signup:C-1", CRM_NO_TIME, &awarded, &bal, &replayed));
    CHECK(awarded && bal == before + 23 && replayed);
    bal = -1;
    CHECK_OK(crm_points_award_event(db, ada, "referral", "ref:C-1", CRM_NO_TIME, &awarded, &bal, NULL));
    CHECK(!awarded && bal == -1); /* no referral rule: nothing posted, outputs untouched */
    /* A redemption dated tomorrow: the balance as of now does not include it yet. */
    CHECK_OK(crm_points_redeem_at(db, ada, 3, "R-at", now + DAY, &bal));
    CHECK(bal == before + 20);
    CHECK_OK(crm_points_balance_as_of(db, ada, T0 - 1, &bal));
    CHECK(bal == 0);
    CHECK_OK(crm_points_balance_as_of(db, ada, T0, &bal));
    CHECK(bal == 7); /* the old lot, before it expired */
    CHECK_OK(crm_points_balance_as_of(db, ada, CRM_NO_TIME, &bal));
    CHECK(bal == before + 23);
    CHECK_OK(crm_points_balance_as_of(db, ada, now + DAY, &bal));
    CHECK(bal == before + 20);

    /* Tiers: set by hand, kept through a review (held for less than a window). A review
     * a window later drops a tier: see the end. */
    int64_t accounts = 0, up = 0, down = 0;
    CHECK_OK(crm_loyalty_tier_set(db, ada, "gold"));
    CHECK_OK(crm_loyalty_tiers_review(db, CRM_NO_TIME, &accounts, &up, &down));
    CHECK(accounts == 1 && up == 0 && down == 0);
    CHECK_OK(crm_loyalty_tier_set(db, ada, "silver"));
    CHECK_OK(crm_loyalty_tier_set(db, ada, NULL));
    CHECK_OK(crm_loyalty_tier_history(db, ada, &json));
    CHECK(json != NULL && strstr(json, "{\"tier\":\"gold\",") != NULL && strstr(json, "\"reason\":\"manual\"") != NULL &&
          strstr(json, "{\"tier\":\"silver\",") != NULL);
    char *history = json;

    /* Their errors: each typed, nothing written. */
    before = balance_of(db, ada);
    CHECK_ERR(crm_points_adjust(db, 9999, 5, "A-2", "r", &bal, NULL), CRM_ERR_NOT_FOUND, "customer", NULL);
    CHECK_ERR(crm_points_adjust(db, ada, 5, NULL, "r", NULL, NULL), CRM_ERR_NULL_ARGUMENT, "NULL", "idempotency_key");
    CHECK_ERR(crm_points_adjust(db, ada, -100000, "A-2", "r", NULL, NULL), CRM_ERR_INSUFFICIENT_POINTS, "100000", NULL);
    CHECK_ERR(crm_points_adjust(db, ada, 5, "A-2", "", NULL, NULL), CRM_ERR_VALIDATION, "", "reason");
    CHECK_ERR(crm_points_award_event(db, 9999, "sign_up", "S-2", CRM_NO_TIME, &awarded, NULL, NULL), CRM_ERR_NOT_FOUND,
              "customer", NULL);
    CHECK_ERR(crm_points_award_event(db, ada, "sign_up", NULL, CRM_NO_TIME, NULL, NULL, NULL), CRM_ERR_NULL_ARGUMENT,
              "NULL", "idempotency_key");
    CHECK_ERR(crm_points_award_event(db, ada, "anniversary", "S-2", CRM_NO_TIME, NULL, NULL, NULL), CRM_ERR_VALIDATION,
              "anniversary", "event");
    CHECK_ERR(crm_points_redeem_at(db, 9999, 1, "R-at-2", now, NULL), CRM_ERR_NOT_FOUND, "customer", NULL);
    CHECK_ERR(crm_points_redeem_at(db, ada, 1, NULL, now, NULL), CRM_ERR_NULL_ARGUMENT, "NULL", "idempotency_key");
    CHECK_ERR(crm_points_redeem_at(db, ada, 1, "R-at-2", INT64_MAX, NULL), CRM_ERR_VALIDATION, "", "as_of");
    CHECK_ERR(crm_points_balance_as_of(db, 9999, CRM_NO_TIME, &bal), CRM_ERR_NOT_FOUND, "customer", NULL);
    CHECK_ERR(crm_points_balance_as_of(db, ada, CRM_NO_TIME, NULL), CRM_ERR_NULL_ARGUMENT, "NULL", "out_balance");
    CHECK_ERR(crm_loyalty_tier_set(db, 9999, "gold"), CRM_ERR_NOT_FOUND, "customer", NULL);
    CHECK_ERR(crm_loyalty_tier_set(db, ada, "platinum"), CRM_ERR_VALIDATION, "platinum", "tier");
    CHECK_ERR(crm_loyalty_tier_set(NULL, ada, "gold"), CRM_ERR_NULL_ARGUMENT, "NULL", "crm");
    CHECK_ERR(crm_loyalty_tiers_review(db, INT64_MAX, NULL, NULL, NULL), CRM_ERR_VALIDATION, "", "as_of");
    json = (char *)1;
    CHECK_ERR(crm_loyalty_tier_history(db, 9999, &json), CRM_ERR_NOT_FOUND, "customer", NULL);
    CHECK(json == NULL);
    CHECK_ERR(crm_loyalty_tier_history(db, ada, NULL), CRM_ERR_NULL_ARGUMENT, "NULL", "out_json");
    CHECK(balance_of(db, ada) == before);
    CHECK_OK(crm_loyalty_tier_history(db, ada, &json));
    CHECK(json != NULL && strcmp(json, history) == 0);
    crm_string_free(json);
    crm_string_free(history);

    /* The simulator: the stored program, a candidate, options; a dry run. */
    int64_t bob = 0;
    char *statement = NULL;
    CHECK_OK(crm_customer_create(db, "{\"external_id\":\"C-2\",\"name\":\"Bob\"}", &bob, NULL));
    crm_order_in o2 = {"O-2", bob, NULL, T0 + 10 * DAY, CRM_ORDER_COMPLETED, "USD", 10000, NULL};
    CHECK_OK(crm_order_record(db, &o2, NULL, 0, NULL, NULL));
    CHECK_OK(crm_points_statement(db, ada, &statement));
    before = balance_of(db, ada);
    CHECK_OK(crm_loyalty_simulate(db, NULL, NULL, &json));
    CHECK(json != NULL && strstr(json, "\"program\":\"Stars\"") != NULL && strstr(json, "\"month\":\"2026-01\"") != NULL &&
          strstr(json, "\"tiers\":[{\"tier\":\"silver\"") != NULL);
    crm_string_free(json);
    /* Bob's order, under a candidate of two points per dollar, in January 2026 only. */
    CHECK_OK(crm_loyalty_simulate(db,
                                  "{\"name\":\"Double\",\"rates\":{\"USD\":{\"points\":2,\"per_minor\":100}},"
                                  "\"rules\":[{\"name\":\"base\",\"kind\":\"base\"}]}",
                                  "{\"from\":\"2026-01-01T00:00:00Z\",\"until\":\"2026-02-01T00:00:00Z\","
                                  "\"redemption\":{\"rate\":{\"permille\":500}}}",
                                  &json));
    CHECK(json != NULL && strstr(json, "\"months\":[{\"month\":\"2026-01\",\"orders\":1,\"earning_orders\":1,"
                                       "\"customers_earning\":1,\"issued\":200,\"redeemed\":100,\"expired\":0,"
                                       "\"outstanding\":100,\"accounts_with_balance\":1}]") != NULL &&
          strstr(json, "\"rules\":[{\"rule\":\"base\",\"points\":200,\"orders\":1}]") != NULL &&
          strstr(json, "\"tiers\":null") != NULL);
    crm_string_free(json);
    /* Its errors: each typed, the out string NULL, nothing written. */
    json = (char *)1;
    CHECK_ERR(crm_loyalty_simulate(db, "{\"name\":\"P\",\"rates\":{\"USD\":{\"points\":-1,\"per_minor\":1}}}", NULL, &json),
              CRM_ERR_VALIDATION, "-1", "rates.USD.points");
    CHECK(json == NULL);
    CHECK_ERR(crm_loyalty_simulate(db, "{\"name\":", NULL, &json), CRM_ERR_VALIDATION, "", "program");
    CHECK_ERR(crm_loyalty_simulate(db, NULL, "{\"redemption\":{\"rate\":{\"permille\":1001}}}", &json),
              CRM_ERR_VALIDATION, "1001", "redemption.rate.permille");
    CHECK_ERR(crm_loyalty_simulate(db, NULL, "{\"from\":\"2026-03-01T00:00:00Z\",\"until\":\"2026-02-01T00:00:00Z\"}", &json),
              CRM_ERR_VALIDATION, "not before", "from");
    CHECK_ERR(crm_loyalty_simulate(db, NULL, "{\"customers\":[9999]}", &json), CRM_ERR_NOT_FOUND, "9999", NULL);
    CHECK_ERR(crm_loyalty_simulate(db, NULL, "{\"since\":\"2026-01-01T00:00:00Z\"}", &json), CRM_ERR_INVALID_JSON, "since",
              "options_json");
    CHECK(json == NULL);
    CHECK_ERR(crm_loyalty_simulate(db, NULL, NULL, NULL), CRM_ERR_NULL_ARGUMENT, "NULL", "out_json");
    CHECK_ERR(crm_loyalty_simulate(NULL, NULL, NULL, &json), CRM_ERR_NULL_ARGUMENT, "NULL", "crm");
    CHECK(balance_of(db, ada) == before);
    CHECK_OK(crm_points_statement(db, ada, &json));
    CHECK(json != NULL && strcmp(json, statement) == 0);
    crm_string_free(json);
    crm_string_free(statement);

    crm_close(db);

    /* Without a stored program there is nothing to simulate. */
    CHECK_OK(crm_open_in_memory(&db));
    CHECK_ERR(crm_loyalty_simulate(db, NULL, NULL, &json), CRM_ERR_VALIDATION, "no loyalty program", "program");

    /* A refund undone gives the points back; a deleted order takes them with it and its
     * external id earns again; a deleted customer takes the ledger with them. */
    int64_t grace = 0, order_id = 0, next = 0;
    CHECK_OK(crm_loyalty_program_set(db, PROGRAM, false));
    CHECK_OK(crm_customer_create(db, "{\"external_id\":\"C-9\",\"name\":\"Grace\"}", &grace, NULL));
    crm_order_in g = {"G-1", grace, NULL, now - DAY, CRM_ORDER_COMPLETED, "USD", 10000, NULL};
    CHECK_OK(crm_order_record(db, &g, NULL, 0, &order_id, NULL));
    CHECK(balance_of(db, grace) == 110);
    g.status = CRM_ORDER_REFUNDED;
    CHECK_OK(crm_order_record(db, &g, NULL, 0, NULL, NULL));
    CHECK(balance_of(db, grace) == 0);
    g.status = CRM_ORDER_COMPLETED;
    CHECK_OK(crm_order_record(db, &g, NULL, 0, NULL, NULL));
    CHECK(balance_of(db, grace) == 110);
    CHECK_OK(crm_order_delete(db, order_id));
    CHECK(balance_of(db, grace) == 0);
    g.total_minor = 2000;
    CHECK_OK(crm_order_record(db, &g, NULL, 0, NULL, NULL));
    CHECK(balance_of(db, grace) == 20);
    CHECK_OK(crm_customer_delete(db, grace));
    CHECK_OK(crm_customer_create(db, "{\"external_id\":\"C-10\",\"name\":\"Hopper\"}", &next, NULL));
    CHECK(next == grace); /* SQLite gives the largest id again */
    CHECK(balance_of(db, next) == 0);

    /* An order of a year and a half ago earned gold: a review inside its window keeps the
     * tier, one now (a window later) drops it. */
    CHECK_OK(crm_loyalty_program_set(db, TIERED, false));
    crm_order_in old = {"H-1", next, NULL, now - 500 * DAY, CRM_ORDER_COMPLETED, "USD", 60000, NULL};
    CHECK_OK(crm_order_record(db, &old, NULL, 0, NULL, NULL));
    CHECK_OK(crm_loyalty_tiers_review(db, now - 400 * DAY, &accounts, &up, &down));
    CHECK(accounts == 1 && up == 0 && down == 0);
    CHECK_OK(crm_loyalty_tiers_review(db, CRM_NO_TIME, &accounts, &up, &down));
    CHECK(accounts == 1 && up == 0 && down == 1);
    CHECK_OK(crm_loyalty_tier_history(db, next, &json));
    CHECK(json != NULL && strstr(json, "\"reason\":\"upgrade\"") != NULL && strstr(json, "\"reason\":\"downgrade\"") != NULL);
    crm_string_free(json);
    crm_close(db);
    CHECK_DONE();
}
