/* Incremental matching from C on a real SQLite file: a host-written model stored and read
 * back, one record matched against the store with its evidence, the suggest policy making a
 * suggestion as a duplicate is upserted, the suggestion resolved, the auto-merge policy
 * merging the next one; then every kind of bad input, each with its code and field and
 * out_json left NULL. Every string handed out is freed (run under valgrind or
 * AddressSanitizer). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check.h"

/* Agreement on the mailbox or phone is strong evidence; names weaker. */
static const char *MODEL =
    "{\"prior\":0.0001,\"fields\":["
    "{\"field\":\"name\",\"levels\":[{\"level\":\"exact\",\"m\":0.7,\"u\":0.001},"
    "{\"level\":\"same_parts\",\"m\":0.1,\"u\":0.001},{\"level\":\"similar\",\"m\":0.1,\"u\":0.01},"
    "{\"level\":\"partial\",\"m\":0.05,\"u\":0.05},{\"level\":\"different\",\"m\":0.05,\"u\":0.938}]},"
    "{\"field\":\"email\",\"levels\":[{\"level\":\"exact\",\"m\":0.8,\"u\":0.000001},"
    "{\"level\":\"same_mailbox\",\"m\":0.1,\"u\":0.000001},{\"level\":\"same_local\",\"m\":0.04,\"u\":0.0001},"
    "{\"level\":\"similar\",\"m\":0.03,\"u\":0.001},{\"level\":\"different\",\"m\":0.03,\"u\":0.998898}]}]}";

static int64_t upsert(crm_t *db, const char *json) {
    int64_t id = 0;
    CHECK_OK(crm_customer_upsert(db, json, &id, NULL, NULL));
    return id;
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : ".";
    char path[4096], json[512], want[128];
    crm_t *db = NULL;
    char *out = NULL;

    snprintf(path, sizeof path, "%s/matching.db", dir);
    remove(path);
    CHECK_OK(crm_open(path, &db));
    int64_t ids[20];
    for (int i = 0; i < 20; i++) {
        snprintf(json, sizeof json, "{\"external_id\":\"C%d\",\"name\":\"Person%d Surname%d\",\"email\":\"p%d@example.com\"}",
                 i, i, i, i);
        ids[i] = upsert(db, json);
    }

    /* No model yet: a typed error naming it. */
    out = (char *)1;
    CHECK_ERR(crm_customer_match(db, "{\"name\":\"Person7 Surname7\",\"email\":\"p7@example.com\"}", NULL, &out),
              CRM_ERR_VALIDATION, "no match model", "model");
    CHECK(out == NULL);
    CHECK_OK(crm_match_model_get(db, &out));
    CHECK(out != NULL && strcmp(out, "null") == 0);
    crm_string_free(out);
    out = NULL;
    CHECK_OK(crm_match_model_set(db, MODEL));
    CHECK_OK(crm_match_model_get(db, &out));
    CHECK(out != NULL && strstr(out, "\"prior\":0.0001") != NULL);
    crm_string_free(out);
    out = NULL;

    /* A mailbox with a +tag and other case: customer 7, with its evidence. */
    CHECK_OK(crm_customer_match(db, "{\"name\":\"Person7 Surname7\",\"email\":\"P7+shop@Example.com\"}", NULL, &out));
    snprintf(want, sizeof want, "[{\"customer\":%lld,", (long long)ids[7]);
    CHECK(out != NULL && strncmp(out, want, strlen(want)) == 0);
    CHECK(out != NULL && strstr(out, "{\"field\":\"email\",\"level\":\"same_mailbox\"") != NULL);
    crm_string_free(out);
    out = NULL;
    CHECK_OK(crm_customer_match(db, "{\"name\":\"Nobody\",\"email\":\"nobody@nowhere.example\"}",
                                "{\"threshold\":0.9,\"limit\":5}", &out));
    CHECK(out != NULL && strcmp(out, "[]") == 0);
    crm_string_free(out);
    out = NULL;

    /* Suggest, then auto-merge. */
    CHECK_OK(crm_match_policy_set(db, "{\"mode\":\"suggest\"}"));
    upsert(db, "{\"external_id\":\"WEB-8\",\"name\":\"Person8 Surname8\",\"email\":\"p8@example.com\"}");
    CHECK_OK(crm_match_suggestions(db, "open", 0, 100, &out));
    snprintf(want, sizeof want, "\"candidate\":%lld,", (long long)ids[8]);
    CHECK(out != NULL && strstr(out, want) != NULL && strstr(out, "\"status\":\"open\"") != NULL);
    crm_string_free(out);
    out = NULL;
    CHECK_OK(crm_match_suggestion_resolve(db, 1, "dismissed"));
    CHECK_OK(crm_match_suggestions(db, "open", 0, 100, &out));
    CHECK(out != NULL && strcmp(out, "[]") == 0);
    crm_string_free(out);
    out = NULL;
    CHECK_OK(crm_match_policy_set(db, "{\"mode\":\"auto_merge\",\"threshold\":0.9}"));
    CHECK_OK(crm_match_policy_get(db, &out));
    CHECK(out != NULL && strstr(out, "\"mode\":\"auto_merge\"") != NULL);
    crm_string_free(out);
    out = NULL;
    int64_t id = upsert(db, "{\"external_id\":\"WEB-9\",\"name\":\"Person9 Surname9\",\"email\":\"p9@example.com\"}");
    CHECK(id == ids[9]); /* the write ends at the survivor */
    CHECK_OK(crm_customer_merge_history(db, ids[9], &out));
    CHECK(out != NULL && strstr(out, "\"actor\":\"auto-match\"") != NULL);
    crm_string_free(out);
    out = NULL;
    CHECK_OK(crm_match_keys_ensure(db));

    /* Bad input. */
    out = (char *)1;
    CHECK_ERR(crm_customer_match(db, "{\"name\":\"A\"}", "{\"threshold\":1.5}", &out), CRM_ERR_VALIDATION, "outside",
              "threshold");
    CHECK(out == NULL);
    CHECK_ERR(crm_customer_match(db, "{\"name\":\"A\"}", "{\"limit\":0}", &out), CRM_ERR_VALIDATION, "outside", "limit");
    CHECK_ERR(crm_customer_match(db, "{\"name\":\"A\"}", "{\"limit\":1001}", &out), CRM_ERR_VALIDATION, "outside",
              "limit");
    CHECK_ERR(crm_customer_match(db, "{\"name\":\"A\",\"email\":\"not an email\"}", NULL, &out), CRM_ERR_VALIDATION,
              "", "email");
    CHECK_ERR(crm_customer_match(db, "{\"name\":\"A\",\"shoe\":1}", NULL, &out), CRM_ERR_INVALID_JSON, "shoe",
              "record_json");
    char record[32];
    snprintf(record, sizeof record, "%s", "{\"name\":\"A\"}"); /* a valid record, not a literal */
    CHECK_ERR(crm_customer_match(db, record, "{\"colour\":1}", &out), CRM_ERR_INVALID_JSON, "colour", "options_json");
    CHECK_ERR(crm_customer_match(db, NULL, NULL, &out), CRM_ERR_NULL_ARGUMENT, "record_json", "record_json");
    CHECK_ERR(crm_customer_match(db, "{\"name\":\"A\"}", NULL, NULL), CRM_ERR_NULL_ARGUMENT, "out_json", "out_json");
    CHECK_ERR(crm_match_model_set(db, "{\"prior\":2,\"fields\":[]}"), CRM_ERR_VALIDATION, "", "model.prior");
    CHECK_ERR(crm_match_policy_set(db, "{\"mode\":\"sometimes\"}"), CRM_ERR_INVALID_JSON, "sometimes", "policy_json");
    CHECK_ERR(crm_match_policy_set(db, "{\"threshold\":-1}"), CRM_ERR_VALIDATION, "outside", "threshold");
    CHECK_ERR(crm_match_suggestions(db, "maybe", 0, 10, &out), CRM_ERR_INVALID_ARGUMENT, "maybe", "status");
    CHECK_ERR(crm_match_suggestions(db, NULL, 0, 0, &out), CRM_ERR_VALIDATION, "outside", "limit");
    CHECK_ERR(crm_match_suggestion_resolve(db, 999, "merged"), CRM_ERR_VALIDATION, "no match suggestion", "id");
    CHECK_ERR(crm_match_suggestion_resolve(db, 1, "open"), CRM_ERR_VALIDATION, "dismissed or merged", "status");
    char settings[2048];
    snprintf(settings, sizeof settings, "{\"model\":%s}", MODEL);
    CHECK_ERR(crm_match_model_train(db, settings, &out), CRM_ERR_VALIDATION, "leave model out", "model");
    CHECK(out == NULL);

    crm_close(db);
    CHECK_DONE();
}
