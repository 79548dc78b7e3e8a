/* Identity resolution from C: the duplicate finder on a real SQLite file finds the variants
 * other systems make (surname first in capitals, a phone in national notation, a mailbox
 * with a +tag), reports them with their evidence and clusters, scores alike with the model
 * it returned; then every kind of bad input, each with its code and field and out_json
 * left NULL. Every string handed out is freed (run under valgrind or AddressSanitizer). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static int64_t upsert(crm_t *db, const char *json) {
    int64_t id = 0;
    CHECK_OK(crm_customer_upsert(db, json, &id, NULL, NULL));
    return id;
}

/* The text between "model": and ,"threshold" of a report: the model object. */
static char *model_of(const char *report) {
    const char *start = strstr(report, "\"model\":");
    const char *end = strstr(report, ",\"threshold\":");
    if (start == NULL || end == NULL || end < start) return NULL;
    start += strlen("\"model\":");
    size_t n = (size_t)(end - start);
    char *out = malloc(n + 1);
    if (out == NULL) return NULL;
    memcpy(out, start, n);
    out[n] = '\0';
    return out;
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : ".";
    char path[4096], json[1024], want[128];
    static const char *first[] = {"Oliver", "Amelia", "George", "Isla", "Harry", "Ava", "Noah", "Mia"};
    static const char *last[] = {"Smith", "Jones", "Taylor", "Brown", "Wilson"};
    crm_t *db = NULL;
    char *out = NULL;

    snprintf(path, sizeof path, "%s/identity.db", dir);
    remove(path);
    CHECK_OK(crm_open(path, &db));
    for (int i = 0; i < 40; i++) {
        snprintf(json, sizeof json,
                 "{\"external_id\":\"C%d\",\"name\":\"%s %s\",\"email\":\"p%d@example.com\","
                 "\"phone\":\"+44 20 7946 %04d\",\"address\":{\"country\":\"GB\",\"postal_code\":\"SW%d %dAA\"}}",
                 i, first[i % 8], last[i / 8], i, 1000 + i, 1 + i % 9, i);
        CHECK(upsert(db, json) == i + 1);
    }
    /* Customer 1 is Oliver Smith; customer 12 (i = 11) is Isla Jones. */
    int64_t pos = upsert(db, "{\"external_id\":\"POS-1\",\"name\":\"SMITH OLIVER\",\"phone\":\"020 7946 1000\","
                             "\"address\":{\"country\":\"GB\",\"postal_code\":\"sw1 0aa\"}}");
    int64_t web = upsert(db, "{\"external_id\":\"WEB-1\",\"name\":\"Isla Jones\",\"email\":\"P11+shop@Example.com\"}");

    /* Defaults (NULL settings): the two variants, clustered with their originals. */
    CHECK_OK(crm_find_duplicates(db, NULL, &out));
    CHECK(out != NULL);
    if (out != NULL) {
        snprintf(want, sizeof want, "\"clusters\":[[1,%lld],[12,%lld]]", (long long)pos, (long long)web);
        CHECK(strstr(out, want) != NULL);
        snprintf(want, sizeof want, "\"a\":1,\"b\":%lld,", (long long)pos);
        CHECK(strstr(out, want) != NULL);
        CHECK(strstr(out, "{\"field\":\"phone\",\"level\":\"exact\"") != NULL);
        CHECK(strstr(out, "{\"field\":\"email\",\"level\":\"same_mailbox\"") != NULL);
        CHECK(strstr(out, "\"stats\":{\"customers\":42,") != NULL);
        CHECK(strstr(out, "\"estimation\":{\"u_pairs\":") != NULL);

        /* The returned model, given back with a threshold: the same clusters. */
        char *model = model_of(out);
        CHECK(model != NULL);
        if (model != NULL) {
            size_t n = strlen(model) + 64;
            char *settings = malloc(n);
            CHECK(settings != NULL);
            if (settings != NULL) {
                snprintf(settings, n, "{\"threshold\":0.95,\"model\":%s}", model);
                char *again = NULL;
                CHECK_OK(crm_find_duplicates(db, settings, &again));
                snprintf(want, sizeof want, "\"clusters\":[[1,%lld],[12,%lld]]", (long long)pos, (long long)web);
                CHECK(again != NULL && strstr(again, want) != NULL);
                crm_string_free(again);
                free(settings);
            }
            free(model);
        }
        crm_string_free(out);
    }

    /* A threshold of 0 reports every candidate pair; 1 with a model of weak evidence none. */
    CHECK_OK(crm_find_duplicates(db, "{\"threshold\":0}", &out));
    CHECK(out != NULL && strstr(out, "\"pairs\":[{") != NULL);
    crm_string_free(out);

    /* Bad input: each with its code and field; out_json stays NULL. */
    out = (char *)1;
    CHECK_ERR(crm_find_duplicates(db, "{\"threshold\":1.5}", &out), CRM_ERR_VALIDATION, "outside 0 ..= 1", "threshold");
    CHECK(out == NULL);
    CHECK_ERR(crm_find_duplicates(db, "{\"threshold\":-1}", &out), CRM_ERR_VALIDATION, "outside", "threshold");
    CHECK_ERR(crm_find_duplicates(db, "{\"max_block_size\":1}", &out), CRM_ERR_VALIDATION, "2 ..= 100000",
              "max_block_size");
    CHECK_ERR(crm_find_duplicates(db, "{\"max_iterations\":5000}", &out), CRM_ERR_VALIDATION, "outside",
              "max_iterations");
    CHECK_ERR(crm_find_duplicates(db, "{\"u_pairs\":0}", &out), CRM_ERR_VALIDATION, "outside", "u_pairs");
    CHECK_ERR(crm_find_duplicates(db, "{\"model\":{\"prior\":1.0,\"fields\":[]}}", &out), CRM_ERR_VALIDATION,
              "outside (0, 1)", "model.prior");
    CHECK_ERR(crm_find_duplicates(db,
                                  "{\"model\":{\"prior\":0.1,\"fields\":[{\"field\":\"phone\",\"levels\":["
                                  "{\"level\":\"exact\",\"m\":0.9,\"u\":0.01},{\"level\":\"same_national\",\"m\":0.05,\"u\":0.01},"
                                  "{\"level\":\"one_digit\",\"m\":0.04,\"u\":0.01},{\"level\":\"different\",\"m\":0,\"u\":0.97}]}]}}",
                                  &out),
              CRM_ERR_VALIDATION, "outside (0, 1]", "model.fields[0].levels[3].m");
    CHECK_ERR(crm_find_duplicates(db, "{\"thresh\":0.5}", &out), CRM_ERR_INVALID_JSON, "unknown field",
              "settings_json");
    CHECK_ERR(crm_find_duplicates(db, "[0.5]", &out), CRM_ERR_INVALID_JSON, "object", "settings_json");
    CHECK_ERR(crm_find_duplicates(db, "{\"threshold\":", &out), CRM_ERR_INVALID_JSON, "settings_json",
              "settings_json");
    CHECK_ERR(crm_find_duplicates(db, "{\"threshold\":\"\xff\"}", &out), CRM_ERR_INVALID_UTF8, "UTF-8",
              "settings_json");
    CHECK(out == NULL);
    CHECK_ERR(crm_find_duplicates(db, NULL, NULL), CRM_ERR_NULL_ARGUMENT, "out_json", "out_json");
    CHECK_ERR(crm_find_duplicates(NULL, NULL, &out), CRM_ERR_NULL_ARGUMENT, "crm must not be NULL", "crm");

    /* Nothing was written by any of it. */
    crm_counts counts;
    CHECK_OK(crm_counts_get(db, &counts));
    CHECK(counts.customers == 42);

    CHECK_OK(crm_close(db));
    CHECK_DONE();
}
