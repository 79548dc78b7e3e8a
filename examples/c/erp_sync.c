/*
 * erp_sync: an ERP-style nightly sync against libcrm.
 *
 *   erp_sync DB_PATH DATA_DIR
 *
 * 0. The loyalty program (JSON: one point per whole unit spent) is set, so that every order
 *    recorded below earns points in the transaction that writes it and a refund earns none.
 * 1. Customers from the ERP's CSV export in crm's own column layout go in through the bulk
 *    import (crm_ingest_file), with a progress callback; refused rows are listed.
 * 2. Accounts from another ERP table, and orders, are read with a tiny CSV parser here and go
 *    in through the typed hot paths (crm_customer_upsert_basic, crm_order_record).
 * 3. A follow-up call is recorded per new order as an interaction (JSON).
 * 4. A saved segment of the newsletter subscribers is created (once) and snapshotted: who
 *    entered or left it since the last sync goes to the change feed.
 * 5. The change feed is pulled from the last synced position, as an ERP would to update its
 *    own copy (each kind of record named by crm_entity_name), and a summary is printed:
 *    counts, a customer's statistics and points, the segment's size, the top spenders.
 *
 * Every run is idempotent: records carry the ERP's keys, so a second run reports "unchanged".
 * Every string the library returns is freed with crm_string_free.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crm.h"

#define MAX_FIELDS 16
#define MAX_LINE 1024

/* Prints the failed call with the library's last error and returns 1. */
static int report(const char *what) {
    const char *field = crm_last_error_field();
    fprintf(stderr, "erp_sync: %s: %s (%s%s%s)\n", what, crm_last_error_message(),
            crm_status_name((int)crm_last_error_code()), field ? ", field " : "", field ? field : "");
    return 1;
}

/* Splits a CSV line in place at commas (the ERP export quotes nothing); empty fields become
 * NULL. Returns the number of fields. */
static int split_csv(char *line, char **fields) {
    int n = 0;
    line[strcspn(line, "\r\n")] = '\0';
    char *p = line;
    while (n < MAX_FIELDS) {
        char *comma = strchr(p, ',');
        if (comma) *comma = '\0';
        fields[n++] = *p ? p : NULL;
        if (!comma) break;
        p = comma + 1;
    }
    return n;
}

/* Opens DATA_DIR/name, skipping its header line. */
static FILE *open_csv(const char *dir, const char *name) {
    char path[4096];
    char header[MAX_LINE];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        return NULL;
    }
    if (!fgets(header, sizeof header, f)) {
        fclose(f);
        return NULL;
    }
    return f;
}

/* Returning false would cancel the import, keeping the batches already committed. */
static bool on_progress(uint64_t done, int64_t total, void *user) {
    (void)user;
    printf("  imported %" PRIu64 " of %" PRId64 " rows\n", done, total);
    return true;
}

static int import_customers(crm_t *db, const char *dir) {
    char path[4096];
    char *report_json = NULL;
    snprintf(path, sizeof path, "%s/customers.csv", dir);
    printf("bulk import %s\n", path);
    if (crm_ingest_file(db, "customers", path, "{\"batch_size\":2}", on_progress, NULL, &report_json) != CRM_OK)
        return report("crm_ingest_file");
    /* The report is JSON: counts and one entry per refused row with its line, field, reason. */
    printf("  report: %s\n", report_json);
    crm_string_free(report_json);
    return 0;
}

static int upsert_accounts(crm_t *db, const char *dir) {
    char line[MAX_LINE];
    char *f[MAX_FIELDS];
    FILE *in = open_csv(dir, "accounts.csv");
    if (!in) return 1;
    while (fgets(line, sizeof line, in)) {
        if (split_csv(line, f) < 5) continue;
        crm_customer_in c = {f[0], f[1], f[2], NULL, f[3], f[4]};
        int64_t id = 0;
        crm_outcome outcome;
        if (crm_customer_upsert_basic(db, &c, &id, &outcome) != CRM_OK) {
            report(f[0]);
            continue;
        }
        printf("account %s -> customer %" PRId64 " (%s)\n", f[0], id,
               outcome == CRM_OUTCOME_CREATED ? "created" : outcome == CRM_OUTCOME_UPDATED ? "updated" : "unchanged");
    }
    fclose(in);
    return 0;
}

static int32_t order_status(const char *s) {
    if (s && strcmp(s, "refunded") == 0) return CRM_ORDER_REFUNDED;
    if (s && strcmp(s, "cancelled") == 0) return CRM_ORDER_CANCELLED;
    return CRM_ORDER_COMPLETED;
}

static int record_orders(crm_t *db, const char *dir, int *recorded, int *refused) {
    char line[MAX_LINE];
    char *f[MAX_FIELDS];
    FILE *in = open_csv(dir, "orders.csv");
    if (!in) return 1;
    while (fgets(line, sizeof line, in)) {
        if (split_csv(line, f) < 11) continue;
        crm_order_in o = {
            .external_id = f[0],
            .customer_id = 0,
            .customer_external_id = f[1],
            .occurred_at_us = strtoll(f[2] ? f[2] : "0", NULL, 10) * 1000000LL,
            .status = order_status(f[3]),
            .currency = f[4],
            .total_minor = strtoll(f[5] ? f[5] : "0", NULL, 10),
            .channel = f[6],
        };
        crm_line_item_in item = {f[7], f[8], strtoll(f[9] ? f[9] : "0", NULL, 10), strtoll(f[10] ? f[10] : "0", NULL, 10)};
        int64_t order_id = 0;
        crm_outcome outcome;
        if (crm_order_record(db, &o, &item, 1, &order_id, &outcome) != CRM_OK) {
            report(f[0]); /* e.g. an order for a customer the ERP never exported */
            (*refused)++;
            continue;
        }
        (*recorded)++;
        if (outcome != CRM_OUTCOME_CREATED) continue;
        /* A follow-up call for every new order, keyed so that re-runs do not repeat it. */
        char json[512];
        snprintf(json, sizeof json,
                 "{\"external_id\":\"CALL-%s\",\"customer_external_id\":\"%s\",\"kind\":\"call\","
                 "\"direction\":\"outbound\",\"channel\":\"phone\",\"occurred_at\":\"2026-02-01T09:00:00Z\","
                 "\"subject\":\"Follow-up on %s\"}",
                 f[0], f[1], f[0]);
        if (crm_interaction_add(db, json, NULL, NULL, NULL) != CRM_OK) report("crm_interaction_add");
    }
    fclose(in);
    return 0;
}

/* One point per whole unit of the order's currency (100 minor units), in every currency the
 * ERP sells in. */
static const char *LOYALTY_PROGRAM =
    "{\"name\":\"ERP points\","
    "\"rates\":{\"GBP\":{\"points\":1,\"per_minor\":100},\"USD\":{\"points\":1,\"per_minor\":100},"
    "\"SGD\":{\"points\":1,\"per_minor\":100},\"EUR\":{\"points\":1,\"per_minor\":100}},"
    "\"rules\":[{\"name\":\"base\",\"kind\":\"base\"}]}";

static int set_loyalty_program(crm_t *db) {
    /* Setting the same program again changes nothing that was earned. */
    if (crm_loyalty_program_set(db, LOYALTY_PROGRAM, false) != CRM_OK) return report("crm_loyalty_program_set");
    return 0;
}

/* The newsletter subscribers as a saved segment (a rule over tags), created on the first run,
 * and snapshotted on every run: entering and leaving members go to the change feed. */
static int snapshot_newsletter(crm_t *db) {
    crm_status st = crm_segment_create(db, "{\"name\":\"newsletter\",\"rule\":\"\\\"newsletter\\\" in tags\"}", NULL);
    if (st != CRM_OK && st != CRM_ERR_CONFLICT) return report("crm_segment_create"); /* CONFLICT: made by run 1 */
    char *snap = NULL;
    if (crm_segment_snapshot(db, "newsletter", &snap) != CRM_OK) return report("crm_segment_snapshot");
    printf("segment snapshot: %s\n", snap); /* {"entered":[...],"left":[...],...} */
    crm_string_free(snap);
    return 0;
}

/* Pulls the feed after `after_seq`; returns the new position (or -1 on failure). */
static int64_t pull_changes(crm_t *db, int64_t after_seq) {
    crm_change_cursor_t *feed = NULL;
    crm_change ch;
    bool has = false;
    int shown = 0, total = 0;
    int by_kind[CRM_ENTITY_LOYALTY_ENTRY + 1] = {0};
    int64_t seq = after_seq;
    if (crm_change_cursor_open(db, after_seq, 100, &feed) != CRM_OK) return report("crm_change_cursor_open"), -1;
    while (crm_change_cursor_next(feed, &ch, &has) == CRM_OK && has) {
        if (shown++ < 5)
            printf("  #%" PRId64 " %s %" PRId64 " %s\n", ch.seq, crm_entity_name(ch.entity), ch.id, crm_op_name(ch.op));
        if ((int)ch.entity >= 0 && (int)ch.entity <= CRM_ENTITY_LOYALTY_ENTRY) by_kind[ch.entity]++;
        total++;
    }
    for (int k = 0; k <= CRM_ENTITY_LOYALTY_ENTRY; k++)
        if (by_kind[k]) printf("  %-16s %d change(s)\n", crm_entity_name(k), by_kind[k]);
    if (crm_change_cursor_seq(feed, &seq) != CRM_OK) report("crm_change_cursor_seq");
    crm_change_cursor_free(feed);
    printf("  %d change(s) after #%" PRId64 "; next sync starts after #%" PRId64 "\n", total, after_seq, seq);
    return seq;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s DB_PATH DATA_DIR\n", argv[0]);
        return 2;
    }
    if (crm_abi_version() != CRM_ABI_VERSION) {
        fprintf(stderr, "libcrm ABI %u, built against %u\n", crm_abi_version(), CRM_ABI_VERSION);
        return 1;
    }
    printf("crm %s\n", crm_version());

    crm_t *db = NULL;
    if (crm_open(argv[1], &db) != CRM_OK) return report("crm_open");

    int failed = set_loyalty_program(db), recorded = 0, refused = 0;
    for (int run = 1; run <= 2 && !failed; run++) {
        printf("== sync run %d ==\n", run);
        failed |= import_customers(db, argv[2]);
        failed |= upsert_accounts(db, argv[2]);
        failed |= record_orders(db, argv[2], &recorded, &refused);
        failed |= snapshot_newsletter(db);
    }

    printf("== change feed ==\n");
    int64_t seq = pull_changes(db, 0);
    if (seq < 0) failed = 1;

    printf("== summary ==\n");
    crm_counts n;
    if (crm_counts_get(db, &n) == CRM_OK)
        printf("customers %" PRId64 ", orders %" PRId64 ", interactions %" PRId64 "\n", n.customers, n.orders,
               n.interactions);
    else
        failed = report("crm_counts_get");
    printf("order rows recorded %d, refused %d (over both runs)\n", recorded, refused);

    char *ada = NULL;
    if (crm_customer_get_by_external_id(db, "ERP-C-1001", &ada) == CRM_OK) {
        crm_customer_stats s;
        int64_t id = 0;
        /* The id is in the JSON; a real ERP would parse it. Here the typed stats are read by
         * finding the customer through a search instead. */
        char *found = NULL;
        if (crm_customer_search(db, "ada@", 1, &found) == CRM_OK) {
            const char *p = strstr(found, "\"id\":");
            if (p) id = strtoll(p + 5, NULL, 10);
            crm_string_free(found);
        }
        int64_t points = 0, available = 0;
        if (id > 0 && crm_customer_stats_get(db, id, &s) == CRM_OK &&
            crm_points_balance(db, id, &points, &available) == CRM_OK) {
            /* 42.00 + 15.00 GBP: 57 points, earned once although both runs sent the orders. */
            printf("Ada: %" PRId64 " completed orders, %" PRId64 " interactions, %" PRId64 " points\n",
                   s.order_count, s.interaction_count, points);
            if (points != 57) {
                fprintf(stderr, "erp_sync: expected Ada to hold 57 points\n");
                failed = 1;
            }
        } else {
            failed = report("Ada's statistics and points");
        }
        crm_string_free(ada);
    } else {
        failed = report("crm_customer_get_by_external_id");
    }

    int64_t subscribers = 0;
    if (crm_segment_count(db, "newsletter", &subscribers) == CRM_OK)
        printf("newsletter segment: %" PRId64 " member(s)\n", subscribers);
    else
        failed = report("crm_segment_count");

    char *top = NULL;
    if (crm_customer_top_by_spend(db, "SGD", 3, &top) == CRM_OK) {
        printf("top SGD spenders: %s\n", top);
        crm_string_free(top);
    } else {
        failed = report("crm_customer_top_by_spend");
    }

    if (crm_close(db) != CRM_OK) failed = report("crm_close");
    /* Two runs of five good orders each; the order for an unknown customer is refused twice. */
    if (recorded != 10 || refused != 2) {
        fprintf(stderr, "erp_sync: expected 10 recorded and 2 refused order rows\n");
        failed = 1;
    }
    return failed ? 1 : 0;
}
