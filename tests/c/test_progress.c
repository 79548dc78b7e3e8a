/* Progress of the long analytics calls from C: the callback sees each step, a NULL callback
 * changes nothing, and returning false stops the call with CRM_ERR_CANCELLED, handing nothing
 * out. Also: JSON errors name the path without quoting a position or repeating themselves.
 * Run under valgrind or AddressSanitizer. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

#define SUMMARY "{\"currency\":\"USD\",\"observation_end\":\"2026-10-31T23:59:59Z\"}"
#define FIT "\"fit\":{\"penalizer\":0.001}"

/* What the callback saw, and when to stop (stop_step at its stop_at-th report; NULL: never). */
typedef struct {
    int calls;
    int summary, fit_bgnbd, fit_gamma_gamma, score;
    int64_t score_total;
    uint64_t score_done;
    const char *stop_step;
    int stop_at;
    int seen_stop_step;
} watch;

static bool on_progress(const char *step, uint64_t done, int64_t total, void *user) {
    watch *w = user;
    w->calls++;
    if (strcmp(step, "summary") == 0) w->summary++;
    else if (strcmp(step, "fit_bgnbd") == 0) w->fit_bgnbd++;
    else if (strcmp(step, "fit_gamma_gamma") == 0) w->fit_gamma_gamma++;
    else if (strcmp(step, "score") == 0) {
        w->score++;
        w->score_done = done;
        w->score_total = total;
    }
    if (w->stop_step != NULL && strcmp(step, w->stop_step) == 0) {
        return w->seen_stop_step++ < w->stop_at;
    }
    return true;
}

/* The call stopped: CRM_ERR_CANCELLED, nothing handed out, nothing asked after the stop. */
#define CHECK_CANCELLED(call, w)                                                           \
    do {                                                                                   \
        char *out_ = (char *)"untouched";                                                  \
        CHECK_ERR(call(&out_), CRM_ERR_CANCELLED, "cancelled", NULL);                      \
        CHECK(out_ == NULL);                                                               \
        CHECK((w).seen_stop_step == (w).stop_at + 1);                                      \
    } while (0)

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : ".";
    char customers[4096], orders[4096];
    crm_t *db = NULL;
    char *json = NULL, *plain = NULL;
    uint64_t rows = 0;

    CHECK(strcmp(crm_status_name(CRM_ERR_CANCELLED), "CRM_ERR_CANCELLED") == 0);
    CHECK_OK(crm_open_in_memory(&db));
    const char *cfg = "{\"seed\":3,\"customers\":300}";
    snprintf(customers, sizeof customers, "%s/progress_customers.csv", dir);
    snprintf(orders, sizeof orders, "%s/progress_orders.csv", dir);
    CHECK_OK(crm_synth_write("customers", cfg, customers, &rows));
    CHECK_OK(crm_synth_write("orders", cfg, orders, &rows));
    CHECK_OK(crm_ingest_file(db, "customers", customers, NULL, NULL, NULL, &json));
    crm_string_free(json);
    CHECK_OK(crm_ingest_file(db, "orders", orders, NULL, NULL, NULL, &json));
    crm_string_free(json);
    remove(customers);
    remove(orders);
    uint64_t changes_before = 0;
    {
        char *feed = NULL;
        CHECK_OK(crm_changes_since(db, 0, 10000, &feed));
        changes_before = strlen(feed);
        crm_string_free(feed);
    }

    /* A summary: reports orders read; with a NULL callback, the plain call's result. */
    {
        watch w = {0};
        CHECK_OK(crm_analytics_summary(db, SUMMARY, &plain));
        CHECK_OK(crm_analytics_summary_with_progress(db, SUMMARY, on_progress, &w, &json));
        CHECK(w.summary >= 2 && w.calls == w.summary);
        CHECK(json != NULL && plain != NULL && strcmp(json, plain) == 0);
        crm_string_free(json);
        CHECK_OK(crm_analytics_summary_with_progress(db, SUMMARY, NULL, NULL, &json));
        CHECK(json != NULL && strcmp(json, plain) == 0);
        crm_string_free(json);
        crm_string_free(plain);
        watch stop = {.stop_step = "summary", .stop_at = 0};
#define SUMMARY_CALL(out) crm_analytics_summary_with_progress(db, SUMMARY, on_progress, &stop, out)
        CHECK_CANCELLED(SUMMARY_CALL, stop);
        watch stop_all = {.stop_step = "summary", .stop_at = 1};
#define SUMMARIES_CALL(out) crm_analytics_summaries_with_progress(db, SUMMARY, on_progress, &stop_all, out)
        CHECK_CANCELLED(SUMMARIES_CALL, stop_all);
    }

    /* Fits: the summary, then each model's likelihood evaluations; a stop in either fit. */
    {
        const char *input = "{\"summary\":" SUMMARY "," FIT "}";
        watch w = {0};
        CHECK_OK(crm_analytics_fit_with_progress(db, input, on_progress, &w, &json));
        CHECK(json != NULL && strstr(json, "\"bgnbd\"") != NULL);
        crm_string_free(json);
        CHECK(w.summary >= 2 && w.fit_bgnbd > 5 && w.fit_gamma_gamma > 5 && w.score == 0);
        watch in_bg = {.stop_step = "fit_bgnbd", .stop_at = 3};
#define FIT_CALL(out) crm_analytics_fit_with_progress(db, input, on_progress, &in_bg, out)
        CHECK_CANCELLED(FIT_CALL, in_bg);
        CHECK(in_bg.fit_gamma_gamma == 0);
        watch in_gg = {.stop_step = "fit_gamma_gamma", .stop_at = 0};
#define FIT_GG_CALL(out) crm_analytics_fit_with_progress(db, input, on_progress, &in_gg, out)
        CHECK_CANCELLED(FIT_GG_CALL, in_gg);

        const char *data = "{\"data\":[{\"frequency\":2,\"recency\":30.0,\"t\":40.0},"
                           "{\"frequency\":0,\"recency\":0.0,\"t\":40.0},"
                           "{\"frequency\":5,\"recency\":35.0,\"t\":39.0},"
                           "{\"frequency\":1,\"recency\":5.0,\"t\":38.0}]," FIT "}";
        watch bg = {.stop_step = "fit_bgnbd", .stop_at = 2};
#define BG_CALL(out) crm_analytics_bgnbd_fit_with_progress(data, on_progress, &bg, out)
        CHECK_CANCELLED(BG_CALL, bg);
        const char *spend = "{\"data\":[{\"frequency\":2,\"monetary_value\":2000.0},"
                            "{\"frequency\":1,\"monetary_value\":900.0},{\"frequency\":4,\"monetary_value\":3100.0}]}";
        watch gg = {.stop_step = "fit_gamma_gamma", .stop_at = 2};
#define GG_CALL(out) crm_analytics_gamma_gamma_fit_with_progress(spend, on_progress, &gg, out)
        CHECK_CANCELLED(GG_CALL, gg);
    }

    /* Scoring every customer: "score" counts up to the number of customers. */
    {
        const char *input = "{\"summary\":" SUMMARY "," FIT "}";
        watch w = {0};
        CHECK_OK(crm_analytics_customer_values_with_progress(db, input, on_progress, &w, &json));
        crm_string_free(json);
        CHECK(w.score >= 2 && w.score_total > 0 && w.score_done == (uint64_t)w.score_total);
        watch stop = {.stop_step = "score", .stop_at = 0};
#define VALUES_CALL(out) crm_analytics_customer_values_with_progress(db, input, on_progress, &stop, out)
        CHECK_CANCELLED(VALUES_CALL, stop);
        const char *churn = "{\"summary\":" SUMMARY ",\"params\":{\"r\":0.24,\"alpha\":4.41,\"a\":0.79,\"b\":2.43}}";
        watch c = {0};
        CHECK_OK(crm_analytics_churn_risk_with_progress(db, churn, on_progress, &c, &json));
        crm_string_free(json);
        CHECK(c.fit_bgnbd == 0 && c.score >= 2); /* given parameters: no fit */
        watch at_risk = {.stop_step = "score", .stop_at = 0};
#define AT_RISK_CALL(out) crm_analytics_customers_at_risk_with_progress(db, churn, on_progress, &at_risk, out)
        CHECK_CANCELLED(AT_RISK_CALL, at_risk);
        watch churn_stop = {.stop_step = "summary", .stop_at = 0};
#define CHURN_CALL(out) crm_analytics_churn_risk_with_progress(db, churn, on_progress, &churn_stop, out)
        CHECK_CANCELLED(CHURN_CALL, churn_stop);
    }

    /* Nothing was written by any of it. */
    {
        char *feed = NULL;
        CHECK_OK(crm_changes_since(db, 0, 10000, &feed));
        CHECK(strlen(feed) == changes_before);
        crm_string_free(feed);
    }

    /* JSON errors: the path of the value at fault, no position, said once. */
    CHECK_ERR(crm_analytics_summary(db, "{\"currency\":\"XYZ\",\"observation_end\":\"2026-01-01T00:00:00Z\"}", &json),
              CRM_ERR_INVALID_JSON, "input_json: currency: \"XYZ\"", "input_json");
    CHECK(strstr(crm_last_error_message(), "line") == NULL);
    CHECK(strstr(crm_last_error_message(), "invalid currency") == NULL);
    CHECK_ERR(crm_customer_create(db, "{\"name\":\"Ada\",\"email\":5}", NULL, NULL), CRM_ERR_INVALID_JSON,
              "customer_json: email: invalid type: integer `5`", "customer_json");
    CHECK(strstr(crm_last_error_message(), "column") == NULL);
    /* Malformed text has no path: its position is the only guide, and stays. */
    CHECK_ERR(crm_customer_create(db, "{\"name\":\"Ada\",,}", NULL, NULL), CRM_ERR_INVALID_JSON, "at column 15",
              "customer_json");

    CHECK_OK(crm_close(db));
    CHECK_DONE();
}
