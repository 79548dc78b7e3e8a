/* Analytics from C: summaries, fits, predictions, lifetime value, churn risk, recommendations,
 * category affinity and reports on generated data, and bad input, freeing every string
 * (run under valgrind or AddressSanitizer). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

#define SUMMARY "{\"currency\":\"USD\",\"observation_end\":\"2026-10-31T23:59:59Z\"}"
/* 85 USD customers: without a small penalty the dropout Beta runs off to infinity. */
#define FIT "\"fit\":{\"penalizer\":0.001}"

/* Checks that `json` contains `needle`, then frees it. */
static void expect_and_free(char *json, const char *needle) {
    CHECK(json != NULL && strstr(json, needle) != NULL);
    if (json && !strstr(json, needle)) fprintf(stderr, "  in: %.400s\n", json);
    crm_string_free(json);
}

/* Copies the value of `"key":{...}` (one level of braces) out of `json` into `out`. */
static int object_of(const char *json, const char *key, char *out, size_t size) {
    const char *p = strstr(json, key);
    if (!p) return 0;
    p = strchr(p, '{');
    const char *end = p ? strchr(p, '}') : NULL;
    if (!p || !end || (size_t)(end - p + 2) > size) return 0;
    memcpy(out, p, (size_t)(end - p + 1));
    out[end - p + 1] = '\0';
    return 1;
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : ".";
    char customers[4096], orders[4096], input[8192], params[1024] = "null", gg[1024] = "null";
    crm_t *db = NULL;
    char *json = NULL;
    uint64_t rows = 0;

    CHECK_OK(crm_open_in_memory(&db));

    /* An empty store: nothing to summarise. */
    CHECK_ERR(crm_analytics_summary(db, SUMMARY, &json), CRM_ERR_VALIDATION, "no completed orders", "orders");
    CHECK(json == NULL);

    const char *cfg = "{\"seed\":3,\"customers\":300}";
    snprintf(customers, sizeof customers, "%s/analytics_customers.csv", dir);
    snprintf(orders, sizeof orders, "%s/analytics_orders.csv", dir);
    CHECK_OK(crm_synth_write("customers", cfg, customers, &rows));
    CHECK_OK(crm_synth_write("orders", cfg, orders, &rows));
    CHECK_OK(crm_ingest_file(db, "customers", customers, NULL, NULL, NULL, &json));
    crm_string_free(json);
    CHECK_OK(crm_ingest_file(db, "orders", orders, NULL, NULL, NULL, &json));
    expect_and_free(json, "\"failed\":0,");
    remove(customers);
    remove(orders);

    /* Summaries. */
    CHECK_OK(crm_analytics_summary(db, SUMMARY, &json));
    expect_and_free(json, "\"repeat_spend_minor\":");
    CHECK_OK(crm_analytics_summary(
        db, "{\"currency\":\"USD\",\"period\":\"week\",\"observation_end\":\"2026-10-31T00:00:00Z\","
            "\"calibration_end\":\"2026-06-30T00:00:00Z\"}",
        &json));
    expect_and_free(json, "\"frequency_holdout\":");
    CHECK_OK(crm_analytics_summaries(db, SUMMARY, &json));
    expect_and_free(json, "\"currency\":\"EUR\"");
    CHECK_ERR(crm_analytics_summary(db, "{\"currency\":\"USD\",\"observation_end\":\"2019-01-01T00:00:00Z\"}", &json),
              CRM_ERR_VALIDATION, "before every completed order", "observation_end");
    CHECK_ERR(crm_analytics_summary(db,
                                    "{\"currency\":\"USD\",\"observation_end\":\"2026-10-31T00:00:00Z\","
                                    "\"calibration_end\":\"2019-01-01T00:00:00Z\"}",
                                    &json),
              CRM_ERR_VALIDATION, "before every completed order", "calibration_end");
    CHECK_ERR(crm_analytics_summary(db, "{\"currency\":\"USD\"}", &json), CRM_ERR_INVALID_JSON, "observation_end",
              "input_json");
    CHECK_ERR(crm_analytics_summary(db, "{\"currency\":\"XYZ\",\"observation_end\":\"2026-01-01T00:00:00Z\"}", &json),
              CRM_ERR_INVALID_JSON, "XYZ", "input_json");
    CHECK_ERR(crm_analytics_summary(db, NULL, &json), CRM_ERR_NULL_ARGUMENT, "input_json", "input_json");
    CHECK_ERR(crm_analytics_summary(db, SUMMARY, NULL), CRM_ERR_NULL_ARGUMENT, "out_json", "out_json");
    CHECK_ERR(crm_analytics_summary(NULL, SUMMARY, &json), CRM_ERR_NULL_ARGUMENT, "crm", "crm");

    /* Without the penalty the likelihood has no interior maximum: an error, not NaN. */
    CHECK_ERR(crm_analytics_fit(db, "{\"summary\":" SUMMARY "}", &json), CRM_ERR_VALIDATION, "did not converge",
              "model");
    /* Fits on the store, then predictions and lifetime value from the fitted parameters. */
    CHECK_OK(crm_analytics_fit(db, "{\"summary\":" SUMMARY "," FIT "}", &json));
    CHECK(json != NULL && strstr(json, "\"log_likelihood\":") != NULL);
    {
        const char *bg = json ? strstr(json, "\"bgnbd\"") : NULL;
        const char *g = json ? strstr(json, "\"gamma_gamma\"") : NULL;
        CHECK(bg && g && object_of(bg, "\"params\"", params, sizeof params) &&
              object_of(g, "\"params\"", gg, sizeof gg));
    }
    crm_string_free(json);
    snprintf(input, sizeof input,
             "{\"params\":%s,\"t\":30.0,\"histories\":[{\"frequency\":2,\"recency\":100.0,\"t\":300.0},"
             "{\"frequency\":0,\"recency\":0.0,\"t\":50.0}]}",
             params);
    CHECK_OK(crm_analytics_bgnbd_predict(input, &json));
    expect_and_free(json, "\"expected_purchases_new_customer\":");
    snprintf(input, sizeof input,
             "{\"bgnbd\":%s,\"gamma_gamma\":%s,\"rows\":[{\"frequency\":2,\"recency\":100.0,\"t\":300.0,"
             "\"monetary_value\":5000.0}],\"months\":6}",
             params, gg);
    CHECK_OK(crm_analytics_clv(input, &json));
    expect_and_free(json, "\"clv_minor\":");
    CHECK_OK(crm_analytics_customer_values(db, "{\"summary\":" SUMMARY "," FIT ",\"months\":3}", &json));
    expect_and_free(json, "\"clv_minor\":");
    snprintf(input, sizeof input, "{\"params\":%s,\"customer_id\":2,\"summary\":%s}", params, SUMMARY);
    {
        crm_status st = crm_analytics_alive_path(db, input, &json);
        /* Customer 2 may have bought in another currency only. */
        CHECK(st == CRM_OK || (st == CRM_ERR_VALIDATION && same_field(crm_last_error_field(), "customer")));
        if (st == CRM_OK) expect_and_free(json, "\"p_alive\":");
    }

    /* Pure fits. */
    CHECK_OK(crm_analytics_bgnbd_fit("{\"data\":[{\"frequency\":2,\"recency\":30.43,\"t\":38.86},"
                                     "{\"frequency\":1,\"recency\":1.71,\"t\":38.86},"
                                     "{\"frequency\":0,\"recency\":0.0,\"t\":38.86},"
                                     "{\"frequency\":0,\"recency\":0.0,\"t\":38.86},"
                                     "{\"frequency\":5,\"recency\":24.43,\"t\":38.71},"
                                     "{\"frequency\":7,\"recency\":29.43,\"t\":38.86},"
                                     "{\"frequency\":0,\"recency\":0.0,\"t\":38.71}],"
                                     "\"weights\":[30,20,100,80,10,5,60]}",
                                     &json));
    expect_and_free(json, "\"standard_errors\":");
    CHECK_OK(crm_analytics_gamma_gamma_fit("{\"data\":[{\"frequency\":2,\"monetary_value\":2235.0},"
                                           "{\"frequency\":1,\"monetary_value\":1177.0},"
                                           "{\"frequency\":4,\"monetary_value\":2841.0},"
                                           "{\"frequency\":3,\"monetary_value\":1820.0},"
                                           "{\"frequency\":1,\"monetary_value\":3150.0},"
                                           "{\"frequency\":6,\"monetary_value\":1350.0}],"
                                           "\"weights\":[40,30,20,25,10,8]}",
                                           &json));
    expect_and_free(json, "\"gamma\":");

    /* Churn, recommendations, affinity, reports. */
    CHECK_OK(crm_analytics_churn_risk(db, "{\"summary\":" SUMMARY "," FIT ",\"threshold\":0.6}", &json));
    expect_and_free(json, "\"at_risk\":");
    CHECK_OK(crm_analytics_customers_at_risk(db, "{\"summary\":" SUMMARY "," FIT "}", &json));
    expect_and_free(json, "\"risk\":");
    CHECK_OK(crm_analytics_recommend(db, "{\"customer_id\":1,\"k\":5}", &json));
    expect_and_free(json, "[");
    CHECK_OK(crm_analytics_category_affinity(db, "{\"currency\":\"USD\"}", &json));
    expect_and_free(json, "\"spend_share\":");
    CHECK_OK(crm_analytics_reports(db, "{\"currency\":\"USD\",\"period\":\"week\"}", &json));
    expect_and_free(json, "\"cohorts\":");
    /* Revenue of a saved segment's current members. */
    CHECK_OK(crm_segment_create(db, "{\"name\":\"repeat\",\"rule\":\"order_count >= 2\"}", NULL));
    CHECK_OK(crm_analytics_reports(db, "{\"currency\":\"USD\",\"segments\":[\"repeat\"]}", &json));
    expect_and_free(json, "\"segment\":\"repeat\"");
    {
        /* A SKU that somebody bought: the first line of the first USD customer's affinity. */
        char *aff = NULL;
        char sku_input[256];
        CHECK_OK(crm_analytics_recommend(db, "{\"customer_id\":1,\"k\":1}", &aff));
        const char *s = aff ? strstr(aff, "\"sku\":\"") : NULL;
        if (s) {
            s += 7;
            const char *e = strchr(s, '"');
            snprintf(sku_input, sizeof sku_input, "{\"sku\":\"%.*s\",\"k\":3}", (int)(e - s), s);
            CHECK_OK(crm_analytics_similar_items(db, sku_input, &json));
            expect_and_free(json, "\"similarity\":");
        }
        crm_string_free(aff);
    }

    /* Bad input. */
    CHECK_ERR(crm_analytics_gamma_gamma_fit("{\"data\":[{\"frequency\":2,\"monetary_value\":0.0}]}", &json),
              CRM_ERR_VALIDATION, "not a finite amount > 0", "monetary_value");
    CHECK_ERR(crm_analytics_gamma_gamma_fit("{\"data\":[{\"frequency\":2,\"monetary_value\":-3.0}]}", &json),
              CRM_ERR_VALIDATION, "-3", "monetary_value");
    CHECK_ERR(crm_analytics_bgnbd_fit("{\"data\":[]}", &json), CRM_ERR_VALIDATION, "empty", "data");
    CHECK_ERR(crm_analytics_bgnbd_fit("{\"data\":[{\"frequency\":0,\"recency\":0.0,\"t\":10.0}]}", &json),
              CRM_ERR_VALIDATION, "did not converge", "model");
    CHECK_ERR(crm_analytics_bgnbd_fit("{\"data\":[{\"frequency\":1,\"recency\":20.0,\"t\":10.0}]}", &json),
              CRM_ERR_VALIDATION, "larger than T", "recency");
    /* Predictions without a fitted model, or with parameters no fit gives. */
    CHECK_ERR(crm_analytics_bgnbd_predict("{\"t\":10.0}", &json), CRM_ERR_INVALID_JSON, "params", "input_json");
    CHECK_ERR(crm_analytics_bgnbd_predict("{\"params\":{\"r\":-1,\"alpha\":1,\"a\":1,\"b\":1},\"t\":10.0}", &json),
              CRM_ERR_VALIDATION, "-1", "r");
    CHECK_ERR(crm_analytics_churn_risk(db, "{\"summary\":" SUMMARY ",\"threshold\":2}", &json), CRM_ERR_VALIDATION,
              "outside", "threshold");
    CHECK_ERR(crm_analytics_fit(db, "{\"summary\":" SUMMARY ",\"fit\":{\"max_iterations\":1}}", &json),
              CRM_ERR_VALIDATION, "did not converge", "model");
    CHECK_ERR(crm_analytics_similar_items(db, "{\"sku\":\"NOPE\"}", &json), CRM_ERR_VALIDATION, "NOPE", "sku");
    CHECK_ERR(crm_analytics_recommend(db, "{\"customer_id\":999999}", &json), CRM_ERR_NOT_FOUND, "999999", NULL);
    CHECK_ERR(crm_analytics_reports(db, "{\"currency\":\"USD\",\"period\":\"year\"}", &json), CRM_ERR_INVALID_JSON,
              "year", "input_json");
    CHECK_ERR(crm_analytics_reports(db, "{\"currency\":\"USD\",\"segments\":[\"nope\"]}", &json), CRM_ERR_NOT_FOUND,
              "nope", NULL);
    CHECK(json == NULL);

    CHECK_OK(crm_close(db));
    CHECK_ERR(crm_analytics_reports(db, "{\"currency\":\"USD\"}", &json), CRM_ERR_INVALID_HANDLE, "closed", "crm_t handle");
    CHECK_DONE();
}
