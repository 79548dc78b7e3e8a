/* Order corrections from C, as an ERP sends them: an order sent again without its lines
 * keeps them, a status-only update, a JSON patch, partial refunds by lines and by amount
 * (with a retry, a conflicting key and each refusal leaving everything as it was), an
 * order moved to another customer taking its points along, and the bounds on every
 * loyalty time (dates far ahead or before 1970 refused, naming the field). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "check.h"

#define DAY 86400000000LL

static const char *PROGRAM =
    "{\"name\":\"Stars\",\"expiry_days\":365,"
    "\"rates\":{\"USD\":{\"points\":1,\"per_minor\":100}},"
    "\"rules\":[{\"name\":\"base\",\"kind\":\"base\"},"
    "{\"name\":\"shoes\",\"kind\":\"multiplier\",\"by\":\"category\",\"value\":\"shoes\",\"multiplier\":3.0}]}";

static int64_t balance_of(crm_t *db, int64_t c) {
    int64_t b = -1;
    CHECK_OK(crm_points_balance(db, c, &b, NULL));
    return b;
}

static int64_t orders_of(crm_t *db, int64_t c) {
    crm_customer_stats s;
    CHECK_OK(crm_customer_stats_get(db, c, &s));
    return s.order_count;
}

/* The feed's length: a refused call must not add to it. */
static int64_t feed_len(crm_t *db) {
    char *json = NULL;
    CHECK_OK(crm_changes_since(db, 0, 10000, &json));
    int64_t n = 0;
    for (const char *p = json; p != NULL && (p = strstr(p, "\"seq\"")) != NULL; p++) n++;
    crm_string_free(json);
    return n;
}

int main(void) {
    crm_t *db = NULL;
    char *json = NULL;
    int64_t ada = 0, bob = 0, order_id = 0;
    crm_outcome outcome = CRM_OUTCOME_CREATED;
    int64_t now = (int64_t)time(NULL) * 1000000LL;

    CHECK_OK(crm_open_in_memory(&db));
    CHECK_OK(crm_loyalty_program_set(db, PROGRAM, false));
    CHECK_OK(crm_customer_create(db, "{\"external_id\":\"C-1\",\"name\":\"Ada\"}", &ada, NULL));
    CHECK_OK(crm_customer_create(db, "{\"external_id\":\"C-2\",\"name\":\"Bob\"}", &bob, NULL));

    /* Two shoes and four socks: base 120 + shoes 2 x 100. */
    crm_line_item_in items[2] = {{"SHOE", "shoes", 2, 5000}, {"SOCK", "socks", 4, 500}};
    crm_order_in o = {"O-1", ada, NULL, now - 10 * DAY, CRM_ORDER_COMPLETED, "USD", 12000, "web"};
    CHECK_OK(crm_order_record(db, &o, items, 2, &order_id, &outcome));
    CHECK(outcome == CRM_OUTCOME_CREATED && balance_of(db, ada) == 320);

    /* Sent again without lines (NULL) and without a channel: both kept, nothing changes. */
    o.channel = NULL;
    CHECK_OK(crm_order_record(db, &o, NULL, 0, NULL, &outcome));
    CHECK(outcome == CRM_OUTCOME_UNCHANGED);
    CHECK_OK(crm_order_get(db, order_id, &json));
    CHECK(json != NULL && strstr(json, "\"sku\":\"SHOE\"") != NULL && strstr(json, "\"channel\":\"web\"") != NULL);
    crm_string_free(json);

    /* A status-only update: statistics and points follow; the lines stay. */
    CHECK_OK(crm_order_set_status(db, "O-1", CRM_ORDER_REFUNDED, &outcome));
    CHECK(outcome == CRM_OUTCOME_UPDATED && balance_of(db, ada) == 0 && orders_of(db, ada) == 0);
    CHECK_OK(crm_order_set_status(db, "O-1", CRM_ORDER_REFUNDED, &outcome));
    CHECK(outcome == CRM_OUTCOME_UNCHANGED);
    CHECK_OK(crm_order_update(db, order_id, "{\"status\":\"completed\"}", &outcome, &json));
    CHECK(outcome == CRM_OUTCOME_UPDATED && json != NULL && strstr(json, "\"sku\":\"SOCK\"") != NULL);
    crm_string_free(json);
    CHECK(balance_of(db, ada) == 320 && orders_of(db, ada) == 1);

    /* A partial refund by lines: one shoe back. Then by amount. Retries change nothing. */
    CHECK_OK(crm_order_refund(db, "O-1", "{\"key\":\"RF-1\",\"lines\":[{\"sku\":\"SHOE\",\"quantity\":1}]}", &outcome, &json));
    CHECK(outcome == CRM_OUTCOME_UPDATED && json != NULL && strstr(json, "\"minor\":7000") != NULL);
    crm_string_free(json);
    CHECK(balance_of(db, ada) == 70 + 100);
    CHECK_OK(crm_order_refund(db, "O-1", "{\"key\":\"RF-1\",\"lines\":[{\"sku\":\"SHOE\",\"quantity\":1}]}", &outcome, NULL));
    CHECK(outcome == CRM_OUTCOME_UNCHANGED && balance_of(db, ada) == 170);
    CHECK_OK(crm_order_refund(db, "O-1", "{\"key\":\"RF-2\",\"amount_minor\":2000}", &outcome, NULL));
    CHECK(balance_of(db, ada) == 50 + 100);
    CHECK_OK(crm_order_refunds(db, order_id, &json));
    CHECK(json != NULL && strstr(json, "\"key\":\"RF-1\"") != NULL && strstr(json, "\"amount_minor\":2000") != NULL);
    crm_string_free(json);

    /* The ERP sends the order again as it sold it: the refunds stand, nothing changes. */
    o.channel = "web";
    CHECK_OK(crm_order_record(db, &o, items, 2, NULL, &outcome));
    CHECK(outcome == CRM_OUTCOME_UNCHANGED && balance_of(db, ada) == 150);
    CHECK_ERR(crm_order_refund(db, "O-1", "{\"key\":\"RF-3\",\"amount_minor\":12000}", NULL, NULL), CRM_ERR_VALIDATION,
              "more than the order's total", "amount_minor");

    /* Refusals: each typed, naming the field; nothing written. */
    int64_t feed = feed_len(db), before = balance_of(db, ada);
    json = (char *)1;
    CHECK_ERR(crm_order_refund(db, "O-1", "{\"key\":\"RF-1\",\"amount_minor\":5}", NULL, &json), CRM_ERR_CONFLICT, "RF-1", NULL);
    CHECK(json == NULL);
    CHECK_ERR(crm_order_refund(db, "O-1", "{\"key\":\"X\",\"amount_minor\":999999}", NULL, NULL), CRM_ERR_VALIDATION,
              "more than the order's total", "amount_minor");
    CHECK_ERR(crm_order_refund(db, "O-1", "{\"key\":\"X\",\"lines\":[{\"sku\":\"HAT\",\"quantity\":1}]}", NULL, NULL),
              CRM_ERR_VALIDATION, "HAT", "lines[0].sku");
    CHECK_ERR(crm_order_refund(db, "O-1", "{\"key\":\"X\"}", NULL, NULL), CRM_ERR_VALIDATION, "amount or lines", "amount_minor");
    CHECK_ERR(crm_order_refund(db, "O-1", "{\"key\":\"X\",\"amount\":5}", NULL, NULL), CRM_ERR_INVALID_JSON, "amount",
              "refund_json");
    CHECK_ERR(crm_order_refund(db, "O-404", "{\"key\":\"X\",\"amount_minor\":5}", NULL, NULL), CRM_ERR_NOT_FOUND, "O-404", NULL);
    CHECK_ERR(crm_order_refund(db, NULL, "{\"key\":\"X\",\"amount_minor\":5}", NULL, NULL), CRM_ERR_NULL_ARGUMENT, "NULL",
              "external_id");
    CHECK_ERR(crm_order_set_status(db, "O-1", 7, NULL), CRM_ERR_VALIDATION, "7", "status");
    CHECK_ERR(crm_order_update(db, order_id, "{\"total_minor\":-1}", NULL, NULL), CRM_ERR_VALIDATION, "-1", "total_minor");
    CHECK_ERR(crm_order_update(db, 9999, "{\"status\":\"refunded\"}", NULL, NULL), CRM_ERR_NOT_FOUND, "9999", NULL);
    CHECK_ERR(crm_order_refunds(db, order_id, NULL), CRM_ERR_NULL_ARGUMENT, "NULL", "out_json");
    CHECK(feed_len(db) == feed && balance_of(db, ada) == before);

    /* JSON must be one object: trailing text and arrays are refused. */
    CHECK_ERR(crm_order_refund(db, "O-1", "{\"key\":\"RF-9\",\"amount_minor\":1} trailing", NULL, NULL),
              CRM_ERR_INVALID_JSON, "after the JSON document", "refund_json");
    CHECK_ERR(crm_order_refund(db, "O-1", "[\"RF-9\", 1]", NULL, NULL), CRM_ERR_INVALID_JSON, "expected a JSON object",
              "refund_json");
    CHECK(feed_len(db) == feed && balance_of(db, ada) == before);

    /* Re-sent with CRM_ORDER_KEEP_STATUS, a typed order keeps a status set on its own. */
    crm_order_in o2 = {"O-2", ada, NULL, now - 5 * DAY, CRM_ORDER_COMPLETED, "USD", 1000, NULL};
    CHECK_OK(crm_order_record(db, &o2, NULL, 0, NULL, NULL));
    CHECK_OK(crm_order_set_status(db, "O-2", CRM_ORDER_CANCELLED, NULL));
    o2.status = CRM_ORDER_KEEP_STATUS;
    CHECK_OK(crm_order_record(db, &o2, NULL, 0, NULL, &outcome));
    CHECK(outcome == CRM_OUTCOME_UNCHANGED);
    CHECK_ERR(crm_order_set_status(db, "O-2", CRM_ORDER_KEEP_STATUS, NULL), CRM_ERR_VALIDATION, "keep", "status");
    CHECK_OK(crm_order_get_by_external_id(db, "O-2", &json));
    CHECK(json != NULL && strstr(json, "\"status\":\"cancelled\"") != NULL);
    crm_string_free(json);

    /* Moved to another customer: the points go along, the statistics too. */
    CHECK_OK(crm_order_update_by_external_id(db, "O-1", "{\"customer_external_id\":\"C-2\"}", &outcome, NULL));
    CHECK(balance_of(db, ada) == 0 && balance_of(db, bob) == 150);
    CHECK(orders_of(db, ada) == 0 && orders_of(db, bob) == 1);

    /* Every loyalty time is bounded like an order's: far ahead or before 1970 is refused. */
    int64_t far = now + 400 * DAY, y1969 = -200 * DAY;
    int64_t lots = -1, pts = -1;
    feed = feed_len(db);
    CHECK_ERR(crm_points_earn(db, bob, 5, "E-far", far, NULL, NULL), CRM_ERR_VALIDATION, "outside", "at");
    CHECK_ERR(crm_points_earn(db, bob, 5, "E-old", y1969, NULL, NULL), CRM_ERR_VALIDATION, "outside", "at");
    CHECK_ERR(crm_points_redeem_at(db, bob, 5, "R-far", far, NULL), CRM_ERR_VALIDATION, "outside", "at");
    CHECK_ERR(crm_points_expire(db, far, &lots, &pts), CRM_ERR_VALIDATION, "outside", "as_of");
    CHECK_ERR(crm_points_balance_as_of(db, bob, far, &pts), CRM_ERR_VALIDATION, "outside", "at");
    CHECK(feed_len(db) == feed && balance_of(db, bob) == 150);
    /* A forecast may look ahead: the 150 points expire within 400 days. */
    CHECK_OK(crm_points_expire_dry_run(db, far, &lots, &pts));
    CHECK(lots == 1 && pts == 150);
    CHECK(feed_len(db) == feed && balance_of(db, bob) == 150);
    CHECK_ERR(crm_points_expire_dry_run(db, CRM_NO_TIME, &lots, &pts), CRM_ERR_VALIDATION, "", "as_of");

    crm_close(db);
    CHECK_DONE();
}
