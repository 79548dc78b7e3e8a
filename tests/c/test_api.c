/* Every capability once, from C, freeing every string the library hands out
 * (run under valgrind or AddressSanitizer, a missed or double free fails the test). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

#define T0 1767225600000000LL /* 2026-01-01T00:00:00Z in microseconds */

static bool on_progress(uint64_t done, int64_t total, void *user) {
    uint64_t *calls = user;
    (*calls)++;
    (void)done;
    (void)total;
    return true;
}

/* Checks that `json` contains `needle`, then frees it. */
static void expect_and_free(char *json, const char *needle) {
    CHECK(json != NULL && strstr(json, needle) != NULL);
    if (json && !strstr(json, needle)) fprintf(stderr, "  in: %s\n", json);
    crm_string_free(json);
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : ".";
    char path[4096];
    crm_t *db = NULL;
    char *json = NULL;
    int64_t ada = 0, bob = 0, order_id = 0, inter_id = 0;
    crm_outcome outcome;

    CHECK(strcmp(crm_version(), "0.1.0") == 0 || strlen(crm_version()) > 0);
    CHECK(crm_abi_version() == CRM_ABI_VERSION);

    snprintf(path, sizeof path, "%s/api.db", dir);
    remove(path);
    CHECK_OK(crm_open_with(path, "{\"validation\":{\"default_region\":\"GB\"}}", &db));

    /* Customers: create, upsert (JSON and typed), get, update, query, cursor, search. */
    CHECK_OK(crm_customer_create(db, "{\"external_id\":\"C-1\",\"name\":\"Ada\",\"phone\":\"020 7946 0958\"}", &ada,
                                 &json));
    expect_and_free(json, "\"phone\":\"+442079460958\"");
    CHECK_OK(crm_customer_upsert(db, "{\"external_id\":\"C-1\",\"name\":\"Ada\",\"phone\":\"020 7946 0958\"}", NULL,
                                 &outcome, NULL));
    CHECK(outcome == CRM_OUTCOME_UPDATED || outcome == CRM_OUTCOME_UNCHANGED);
    crm_customer_in bob_in = {"C-2", "Bob", "bob@example.com", NULL, "Acme", "SG"};
    CHECK_OK(crm_customer_upsert_basic(db, &bob_in, &bob, &outcome));
    CHECK(outcome == CRM_OUTCOME_CREATED);
    CHECK_OK(crm_customer_upsert_basic(db, &bob_in, NULL, &outcome));
    CHECK(outcome == CRM_OUTCOME_UNCHANGED);
    CHECK_OK(crm_customer_get(db, bob, &json));
    expect_and_free(json, "\"country\":\"SG\"");
    CHECK_OK(crm_customer_get_by_external_id(db, "C-1", &json));
    expect_and_free(json, "\"name\":\"Ada\"");
    CHECK_OK(crm_customer_update(db, ada, "{\"add_tags\":[\"vip\"],\"attributes\":{\"plan\":\"gold\"}}", &json));
    expect_and_free(json, "\"tags\":[\"vip\"]");
    CHECK_OK(crm_customer_update(db, bob, "{\"email\":null}", NULL));
    CHECK_OK(crm_customer_query(db, "{\"filter\":{\"tags\":[\"vip\"]},\"limit\":1}", &json));
    expect_and_free(json, "\"next_cursor\":null");
    CHECK_OK(crm_customer_query(db, NULL, &json));
    expect_and_free(json, "\"items\":[");
    CHECK_OK(crm_customer_search(db, "acm", 10, &json));
    expect_and_free(json, "\"Bob\"");

    /* A cursor with page size 1 walks both customers, then says "no more" with NULL. */
    {
        crm_customer_cursor_t *cur = NULL;
        int seen = 0;
        CHECK_OK(crm_customer_cursor_open(db, "{\"limit\":1}", &cur));
        for (;;) {
            CHECK_OK(crm_customer_cursor_next(cur, &json));
            if (json == NULL) break;
            seen++;
            crm_string_free(json);
        }
        CHECK(seen == 2);
        CHECK_OK(crm_customer_cursor_next(cur, &json));
        CHECK(json == NULL);
        CHECK_OK(crm_customer_cursor_free(cur));
    }

    /* Orders: typed (with items), JSON, get, refund via typed upsert, delete. */
    {
        crm_order_in o = {"O-1", 0, "C-1", T0, CRM_ORDER_COMPLETED, "GBP", 4200, "web"};
        crm_line_item_in items[2] = {{"BOOK-1", "books", 1, 2100}, {"BOOK-2", NULL, 1, 2100}};
        CHECK_OK(crm_order_record(db, &o, items, 2, &order_id, &outcome));
        CHECK(outcome == CRM_OUTCOME_CREATED && order_id > 0);
        CHECK_OK(crm_order_record(db, &o, items, 2, NULL, &outcome));
        CHECK(outcome == CRM_OUTCOME_UNCHANGED);
        CHECK_OK(crm_order_record_json(db,
                                       "{\"external_id\":\"O-2\",\"customer_id\":2,\"occurred_at\":"
                                       "\"2026-01-02T00:00:00Z\",\"currency\":\"SGD\",\"total_minor\":999}",
                                       NULL, &outcome, &json));
        expect_and_free(json, "\"external_id\":\"O-2\"");
        CHECK_OK(crm_order_get(db, order_id, &json));
        expect_and_free(json, "\"sku\":\"BOOK-2\"");
        CHECK_OK(crm_order_get_by_external_id(db, "O-2", &json));
        expect_and_free(json, "\"SGD\"");
        crm_order_in o3 = {"O-3", ada, NULL, T0 + 1000000, CRM_ORDER_COMPLETED, "GBP", 100, NULL};
        int64_t o3_id = 0;
        CHECK_OK(crm_order_record(db, &o3, NULL, 0, &o3_id, NULL));
        o3.status = CRM_ORDER_REFUNDED;
        CHECK_OK(crm_order_record(db, &o3, NULL, 0, NULL, &outcome));
        CHECK(outcome == CRM_OUTCOME_UPDATED);
        CHECK_OK(crm_order_delete(db, o3_id));
    }

    /* Interactions. */
    CHECK_OK(crm_interaction_add(db,
                                 "{\"external_id\":\"I-1\",\"customer_external_id\":\"C-1\",\"kind\":\"call\","
                                 "\"direction\":\"inbound\",\"occurred_at\":\"2026-01-03T00:00:00Z\","
                                 "\"score\":{\"csat\":5}}",
                                 &inter_id, &outcome, &json));
    expect_and_free(json, "\"csat\":5");
    CHECK_OK(crm_interaction_get(db, inter_id, &json));
    expect_and_free(json, "\"kind\":\"call\"");
    {
        int64_t tmp = 0;
        CHECK_OK(crm_interaction_add(db,
                                     "{\"customer_id\":1,\"kind\":\"note\",\"occurred_at\":\"2026-01-04T00:00:00Z\"}",
                                     &tmp, NULL, NULL));
        CHECK_OK(crm_interaction_delete(db, tmp));
    }

    /* Statistics, typed and JSON; top spenders; timeline with a cursor. */
    {
        crm_customer_stats s;
        CHECK_OK(crm_customer_stats_get(db, ada, &s));
        CHECK(s.customer_id == ada && s.order_count == 1 && s.interaction_count == 1);
        CHECK(s.first_order_at_us == T0 && s.last_order_at_us == T0);
        CHECK_OK(crm_customer_stats_get(db, bob, &s));
        CHECK(s.order_count == 1 && s.interaction_count == 0 && s.last_interaction_at_us == CRM_NO_TIME);
        CHECK_OK(crm_customer_stats_json(db, ada, &json));
        expect_and_free(json, "\"minor\":4200");
        CHECK_OK(crm_customer_top_by_spend(db, "gbp", 5, &json));
        expect_and_free(json, "\"spent\":{");
        CHECK_OK(crm_customer_timeline(db, ada, 1, NULL, &json));
        CHECK(json != NULL && strstr(json, "\"type\":\"interaction\"") != NULL);
        /* Pull the cursor out of the page (a real host would use a JSON parser). */
        const char *key = "\"next_cursor\":\"";
        char *at = json ? strstr(json, key) : NULL;
        CHECK(at != NULL);
        if (at) {
            char cursor[128] = {0};
            at += strlen(key);
            size_t n = strcspn(at, "\"");
            CHECK(n < sizeof cursor);
            memcpy(cursor, at, n < sizeof cursor - 1 ? n : sizeof cursor - 1);
            char *page2 = NULL;
            CHECK_OK(crm_customer_timeline(db, ada, 1, cursor, &page2));
            expect_and_free(page2, "\"type\":\"order\"");
        }
        crm_string_free(json);
    }

    /* Bulk import of a file, with progress, twice (the second time changes nothing). */
    {
        char csv[4096];
        snprintf(csv, sizeof csv, "%s/api_customers.csv", dir);
        FILE *f = fopen(csv, "w");
        CHECK(f != NULL);
        fputs("external_id,name,email\nC-10,Cleo,cleo@example.com\nC-11,Dan,not-an-email\nC-12,Eve,\n", f);
        fclose(f);
        uint64_t calls = 0;
        CHECK_OK(crm_ingest_file(db, "customers", csv, "{\"batch_size\":1}", on_progress, &calls, &json));
        CHECK(calls == 3);
        CHECK(json && strstr(json, "\"created\":2") && strstr(json, "\"failed\":1"));
        expect_and_free(json, "\"row\":3,\"field\":\"email\"");
        CHECK_OK(crm_ingest_file(db, "customers", csv, NULL, NULL, NULL, &json));
        expect_and_free(json, "\"unchanged\":2");
        remove(csv);
    }

    /* Counts, change feed (JSON and typed cursor), delete a customer with everything. */
    {
        crm_counts n;
        CHECK_OK(crm_counts_get(db, &n));
        CHECK(n.customers == 4 && n.orders == 2 && n.interactions == 1);
        CHECK_OK(crm_changes_since(db, 0, 2, &json));
        expect_and_free(json, "\"seq\":1,\"entity\":\"customer\"");
        crm_change_cursor_t *feed = NULL;
        crm_change ch;
        bool has = false;
        int64_t last = 0, total = 0;
        CHECK_OK(crm_change_cursor_open(db, 0, 3, &feed));
        for (;;) {
            CHECK_OK(crm_change_cursor_next(feed, &ch, &has));
            if (!has) break;
            CHECK(ch.seq > last);
            last = ch.seq;
            total++;
        }
        CHECK(total > 5);
        CHECK_OK(crm_customer_delete(db, ada));
        CHECK_OK(crm_change_cursor_next(feed, &ch, &has)); /* tails: sees the deletes */
        CHECK(has && ch.op == CRM_OP_DELETE);
        CHECK_OK(crm_change_cursor_seq(feed, &last));
        CHECK(last == ch.seq);
        CHECK_OK(crm_change_cursor_free(feed));
        CHECK_OK(crm_counts_get(db, &n));
        CHECK(n.customers == 3 && n.orders == 1 && n.interactions == 0);
    }

    /* Generated data: files in the import layout, the same every time, importable. */
    {
        char customers[4096], orders[4096];
        uint64_t rows = 0, again = 0;
        char *report = NULL;
        crm_t *gen = NULL;
        const char *cfg = "{\"seed\":7,\"customers\":50}";
        snprintf(customers, sizeof customers, "%s/synth_customers.csv", dir);
        snprintf(orders, sizeof orders, "%s/synth_orders.jsonl", dir);
        CHECK_OK(crm_synth_write("customers", cfg, customers, &rows));
        CHECK(rows == 50);
        CHECK_OK(crm_synth_write("orders", cfg, orders, &rows));
        CHECK_OK(crm_synth_write("orders", cfg, orders, &again));
        CHECK(rows > 0 && again == rows);
        CHECK_OK(crm_open_in_memory(&gen));
        CHECK_OK(crm_ingest_file(gen, "customers", customers, NULL, NULL, NULL, &report));
        expect_and_free(report, "\"created\":50,");
        CHECK_OK(crm_ingest_file(gen, "orders", orders, NULL, NULL, NULL, &report));
        expect_and_free(report, "\"failed\":0,");
        crm_counts n;
        CHECK_OK(crm_counts_get(gen, &n));
        CHECK((uint64_t)n.orders == rows);
        CHECK_OK(crm_close(gen));
        CHECK_ERR(crm_synth_write("invoices", NULL, orders, NULL), CRM_ERR_INVALID_ARGUMENT, "invoices", "kind");
        CHECK_ERR(crm_synth_write("orders", "{\"customerz\":1}", orders, NULL), CRM_ERR_INVALID_JSON, "customerz",
                  "config_json");
        CHECK_ERR(crm_synth_write("orders", NULL, "out.parquet", NULL), CRM_ERR_VALIDATION, "parquet", "path");
        CHECK_ERR(crm_synth_write(NULL, NULL, orders, NULL), CRM_ERR_NULL_ARGUMENT, "kind", "kind");
        remove(customers);
        remove(orders);
    }

    CHECK_OK(crm_close(db));
    remove(path);
    CHECK_DONE();
}
