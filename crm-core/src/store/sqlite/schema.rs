//! The SQLite schema as a versioned list of migrations. `PRAGMA user_version` records how
//! many have been applied; opening a file applies the missing ones in one transaction and
//! refuses a file from a newer library. Append new migrations; never edit old ones.
//!
//! Integrity between tables (an order's customer exists) is checked by the facade, not by
//! SQL foreign keys, which cost about 2.5x on bulk loads (see PERF_BASELINES.md).

/// Migrations in order; index + 1 is the schema version each produces.
pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: customers, interactions, orders and line items.
    r#"
    CREATE TABLE customers (
        id          INTEGER PRIMARY KEY,
        external_id TEXT UNIQUE,
        kind        TEXT NOT NULL,
        name        TEXT NOT NULL,
        email       TEXT,
        phone       TEXT,
        company     TEXT,
        title       TEXT,
        industry    TEXT,
        country     TEXT,
        region      TEXT,
        city        TEXT,
        postal_code TEXT,
        street      TEXT,
        birthday    TEXT,
        gender      TEXT,
        tags        TEXT NOT NULL DEFAULT '[]',
        attributes  TEXT NOT NULL DEFAULT '{}',
        consents    TEXT NOT NULL DEFAULT '{}',
        lifecycle   TEXT NOT NULL,
        created_at  INTEGER NOT NULL,
        updated_at  INTEGER NOT NULL,
        merged_into INTEGER
    );
    CREATE INDEX customers_email ON customers(email) WHERE email IS NOT NULL;
    CREATE INDEX customers_phone ON customers(phone) WHERE phone IS NOT NULL;

    CREATE TABLE interactions (
        id          INTEGER PRIMARY KEY,
        external_id TEXT UNIQUE,
        customer_id INTEGER NOT NULL,
        kind        TEXT NOT NULL,
        channel     TEXT,
        direction   TEXT,
        occurred_at INTEGER NOT NULL,
        subject     TEXT,
        body        TEXT,
        score       TEXT,
        payload     TEXT,
        created_at  INTEGER NOT NULL
    );
    CREATE INDEX interactions_customer ON interactions(customer_id, occurred_at);

    CREATE TABLE orders (
        id          INTEGER PRIMARY KEY,
        external_id TEXT NOT NULL UNIQUE,
        customer_id INTEGER NOT NULL,
        occurred_at INTEGER NOT NULL,
        status      TEXT NOT NULL,
        currency    TEXT NOT NULL,
        total_minor INTEGER NOT NULL,
        channel     TEXT,
        created_at  INTEGER NOT NULL,
        updated_at  INTEGER NOT NULL
    );
    CREATE INDEX orders_customer ON orders(customer_id, occurred_at);

    CREATE TABLE order_items (
        order_id         INTEGER NOT NULL,
        line_no          INTEGER NOT NULL,
        sku              TEXT NOT NULL,
        category         TEXT,
        quantity         INTEGER NOT NULL,
        unit_price_minor INTEGER NOT NULL,
        PRIMARY KEY (order_id, line_no)
    ) WITHOUT ROWID;
    "#,
    // 2: per-customer statistics (backfilled from existing rows) and the change feed.
    r#"
    CREATE TABLE customer_stats (
        customer_id         INTEGER PRIMARY KEY,
        order_count         INTEGER NOT NULL DEFAULT 0,
        first_order_at      INTEGER,
        last_order_at       INTEGER,
        interaction_count   INTEGER NOT NULL DEFAULT 0,
        last_interaction_at INTEGER
    );
    CREATE TABLE customer_spend (
        customer_id INTEGER NOT NULL,
        currency    TEXT NOT NULL,
        total_minor INTEGER NOT NULL,
        PRIMARY KEY (customer_id, currency)
    ) WITHOUT ROWID;
    INSERT INTO customer_stats (customer_id, order_count, first_order_at, last_order_at, interaction_count, last_interaction_at)
    SELECT c.id,
           (SELECT count(*) FROM orders o WHERE o.customer_id = c.id AND o.status = 'completed'),
           (SELECT min(occurred_at) FROM orders o WHERE o.customer_id = c.id AND o.status = 'completed'),
           (SELECT max(occurred_at) FROM orders o WHERE o.customer_id = c.id AND o.status = 'completed'),
           (SELECT count(*) FROM interactions i WHERE i.customer_id = c.id),
           (SELECT max(occurred_at) FROM interactions i WHERE i.customer_id = c.id)
    FROM customers c;
    INSERT INTO customer_spend (customer_id, currency, total_minor)
    SELECT customer_id, currency, sum(total_minor) FROM orders WHERE status = 'completed' GROUP BY customer_id, currency;

    CREATE TABLE changes (
        seq       INTEGER PRIMARY KEY,
        entity    TEXT NOT NULL,
        entity_id INTEGER NOT NULL,
        op        TEXT NOT NULL,
        at        INTEGER NOT NULL
    );
    "#,
    // 3: segmentation: saved segments and their members, scoring plans, stored RFM scores,
    // value tiers, the history of lifecycle and tier changes, and the record a feed entry
    // refers to (a segment membership change names the segment in `entity_id` and the
    // customer who entered or left in `ref_id`).
    r#"
    ALTER TABLE changes ADD COLUMN ref_id INTEGER;

    CREATE TABLE segments (
        id          INTEGER PRIMARY KEY,
        name        TEXT NOT NULL UNIQUE,
        kind        TEXT NOT NULL,
        rule        TEXT,
        description TEXT,
        created_at  INTEGER NOT NULL,
        updated_at  INTEGER NOT NULL,
        snapshot_at INTEGER
    );
    -- Static segments: the list. Dynamic segments: the members at the last snapshot.
    CREATE TABLE segment_members (
        segment_id  INTEGER NOT NULL,
        customer_id INTEGER NOT NULL,
        since       INTEGER NOT NULL,
        PRIMARY KEY (segment_id, customer_id)
    ) WITHOUT ROWID;
    CREATE INDEX segment_members_customer ON segment_members(customer_id);

    CREATE TABLE scoring_plans (
        id         INTEGER PRIMARY KEY,
        name       TEXT NOT NULL UNIQUE,
        rules      TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    );

    CREATE TABLE customer_rfm (
        customer_id    INTEGER PRIMARY KEY,
        recency_days   INTEGER NOT NULL,
        frequency      INTEGER NOT NULL,
        monetary_minor INTEGER NOT NULL,
        r              INTEGER NOT NULL,
        f              INTEGER NOT NULL,
        m              INTEGER NOT NULL,
        segment        TEXT NOT NULL
    );
    -- The settings and score boundaries of the last RFM refresh (one row).
    CREATE TABLE rfm_model (
        id          INTEGER PRIMARY KEY CHECK (id = 1),
        model       TEXT NOT NULL,
        computed_at INTEGER NOT NULL
    );

    CREATE TABLE customer_tiers (
        customer_id INTEGER PRIMARY KEY,
        tier        TEXT NOT NULL,
        since       INTEGER NOT NULL
    );

    -- When each lifecycle stage or value tier of a customer began.
    CREATE TABLE stage_history (
        customer_id INTEGER NOT NULL,
        kind        TEXT NOT NULL,
        value       TEXT NOT NULL,
        at          INTEGER NOT NULL
    );
    CREATE INDEX stage_history_customer ON stage_history(customer_id, kind, at);

    -- Named settings stored with the data (lifecycle rules, value-tier rules), as JSON.
    CREATE TABLE settings (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) WITHOUT ROWID;
    "#,
    // 4: loyalty: the program, one account per customer (its balance is the sum of its
    // ledger entries, kept here so a redemption reads one row), the append-only ledger
    // whose idempotency key is UNIQUE (a replay finds the entry instead of writing), earn
    // lots for expiry and redemption soonest-expiring first, per-rule usage for day and
    // month caps, and the history of loyalty tiers.
    r#"
    CREATE TABLE loyalty_programs (
        id         INTEGER PRIMARY KEY CHECK (id = 1),
        config     TEXT NOT NULL,
        updated_at INTEGER NOT NULL
    );

    CREATE TABLE loyalty_accounts (
        customer_id      INTEGER PRIMARY KEY,
        balance          INTEGER NOT NULL,
        orders           INTEGER NOT NULL,
        qualifying_total INTEGER NOT NULL,
        tier             TEXT,
        tier_since       INTEGER,
        created_at       INTEGER NOT NULL,
        updated_at       INTEGER NOT NULL
    );

    CREATE TABLE loyalty_entries (
        id              INTEGER PRIMARY KEY,
        customer_id     INTEGER NOT NULL,
        kind            TEXT NOT NULL,
        points          INTEGER NOT NULL,
        qualifying      INTEGER NOT NULL,
        idempotency_key TEXT NOT NULL UNIQUE,
        order_id        INTEGER,
        amount_minor    INTEGER,
        at              INTEGER NOT NULL,
        balance_after   INTEGER NOT NULL,
        note            TEXT,
        created_at      INTEGER NOT NULL
    );
    CREATE INDEX loyalty_entries_customer ON loyalty_entries(customer_id, at);
    CREATE INDEX loyalty_entries_order ON loyalty_entries(order_id) WHERE order_id IS NOT NULL;

    CREATE TABLE loyalty_lots (
        id           INTEGER PRIMARY KEY,
        customer_id  INTEGER NOT NULL,
        entry_id     INTEGER NOT NULL,
        points       INTEGER NOT NULL,
        remaining    INTEGER NOT NULL,
        earned_at    INTEGER NOT NULL,
        available_at INTEGER NOT NULL,
        expires_at   INTEGER,
        expired      INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX loyalty_lots_open ON loyalty_lots(customer_id) WHERE remaining > 0;
    CREATE INDEX loyalty_lots_due ON loyalty_lots(expires_at) WHERE remaining > 0 AND expires_at IS NOT NULL;
    CREATE INDEX loyalty_lots_entry ON loyalty_lots(entry_id);

    CREATE TABLE loyalty_rule_usage (
        customer_id INTEGER NOT NULL,
        rule        TEXT NOT NULL,
        period      TEXT NOT NULL,
        points      INTEGER NOT NULL,
        PRIMARY KEY (customer_id, rule, period)
    ) WITHOUT ROWID;

    CREATE TABLE loyalty_tier_history (
        customer_id INTEGER NOT NULL,
        tier        TEXT,
        at          INTEGER NOT NULL,
        reason      TEXT NOT NULL
    );
    CREATE INDEX loyalty_tier_history_customer ON loyalty_tier_history(customer_id, at);
    "#,
    // 5: RFM and top spenders read one currency's spend rows in one index range: each
    // spend row carries a copy of its customer's completed order count and last order
    // (all currencies, as in `customer_stats`; `put_stats` and `add_stats` keep the two in
    // step), and an index on the currency covers what those reads need. Loyalty lots are
    // indexed by customer and expiry instead of by expiry alone.
    r#"
    ALTER TABLE customer_spend ADD COLUMN customer_order_count INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE customer_spend ADD COLUMN customer_last_order_at INTEGER;
    UPDATE customer_spend SET (customer_order_count, customer_last_order_at) =
        (SELECT st.order_count, st.last_order_at FROM customer_stats st WHERE st.customer_id = customer_spend.customer_id)
    WHERE EXISTS (SELECT 1 FROM customer_stats st WHERE st.customer_id = customer_spend.customer_id);
    CREATE INDEX customer_spend_currency
        ON customer_spend(currency, customer_id, total_minor, customer_order_count, customer_last_order_at);

    -- Open lots by customer and expiry, one index for redemption, a customer's due lots and
    -- the expiry run (which walks it). An index on the expiry time alone took inserts at
    -- random places as orders of many customers earned: at 10 million lots, bulk ingest
    -- with earning ran at 27% of ingest without a program, against 52% with this index.
    DROP INDEX loyalty_lots_open;
    DROP INDEX loyalty_lots_due;
    CREATE INDEX loyalty_lots_open ON loyalty_lots(customer_id, expires_at) WHERE remaining > 0;
    "#,
    // 6: spend rows clustered by currency: the table's key is (currency, customer), so RFM,
    // top spenders and percentile tiers read one range of the table itself, and the
    // covering index of migration 5 goes (the range reads as fast: 54 ms for the 263,151
    // dollar rows of `make bench`'s file either way). That index changed with every order
    // (its entry holds the total, count and last order), one more page per single-order
    // commit: `make bench`'s single orders at 50,000 customers ran at 3,900-4,300 calls/s
    // with it, 4,900-5,600 with this layout. The index on the customer holds only the key,
    // so statistics updates leave it alone.
    r#"
    ALTER TABLE customer_spend RENAME TO customer_spend_v5;
    CREATE TABLE customer_spend (
        currency               TEXT NOT NULL,
        customer_id            INTEGER NOT NULL,
        total_minor            INTEGER NOT NULL,
        customer_order_count   INTEGER NOT NULL DEFAULT 0,
        customer_last_order_at INTEGER,
        PRIMARY KEY (currency, customer_id)
    ) WITHOUT ROWID;
    INSERT INTO customer_spend (currency, customer_id, total_minor, customer_order_count, customer_last_order_at)
    SELECT currency, customer_id, total_minor, customer_order_count, customer_last_order_at
    FROM customer_spend_v5 ORDER BY currency, customer_id;
    DROP TABLE customer_spend_v5;
    CREATE INDEX customer_spend_customer ON customer_spend(customer_id);
    "#,
    // 7: refunds of orders, kept for their idempotency keys and as the record of what went
    // back (the order itself holds what is left).
    r#"
    CREATE TABLE order_refunds (
        id           INTEGER PRIMARY KEY,
        order_id     INTEGER NOT NULL,
        refund_key   TEXT NOT NULL UNIQUE,
        amount_minor INTEGER NOT NULL,
        lines        TEXT NOT NULL,
        at           INTEGER NOT NULL,
        created_at   INTEGER NOT NULL
    );
    CREATE INDEX order_refunds_order ON order_refunds(order_id);
    "#,
    // 8: line items and refunds carry their order's customer, as every other record of a
    // customer does, so that a distributed store keeps them with the customer's other rows
    // (docs/scale-out.md). Filled from the orders.
    r#"
    ALTER TABLE order_items ADD COLUMN customer_id INTEGER NOT NULL DEFAULT 0;
    UPDATE order_items SET customer_id = (SELECT o.customer_id FROM orders o WHERE o.id = order_items.order_id);
    ALTER TABLE order_refunds ADD COLUMN customer_id INTEGER NOT NULL DEFAULT 0;
    UPDATE order_refunds SET customer_id = (SELECT o.customer_id FROM orders o WHERE o.id = order_refunds.order_id);
    "#,
    // 9: the merge log: one row per merge of two customers (the profiles before and after,
    // the evidence and the rules, as JSON in `body`), and the records each merge moved or
    // that were written through the merged customer afterwards, for the unmerge.
    r#"
    CREATE TABLE merges (
        id             INTEGER PRIMARY KEY,
        survivor_id    INTEGER NOT NULL,
        merged_id      INTEGER NOT NULL,
        merged_at      INTEGER NOT NULL,
        unmerged_at    INTEGER,
        unmerged_by    TEXT,
        unmerge_reason TEXT,
        body           TEXT NOT NULL
    );
    CREATE INDEX merges_survivor ON merges(survivor_id);
    CREATE INDEX merges_merged ON merges(merged_id);
    CREATE TABLE merge_moves (
        merge_id  INTEGER NOT NULL,
        kind      TEXT NOT NULL,
        record_id INTEGER NOT NULL,
        PRIMARY KEY (merge_id, kind, record_id)
    ) WITHOUT ROWID;
    CREATE INDEX merge_moves_record ON merge_moves(kind, record_id);
    "#,
    // 10: incremental matching: the blocking keys of every customer not merged away
    // (`crm_core::identity::match_keys` computes them; computed for every customer on the
    // first use of matching, then kept by every customer write), and the suggestions the
    // match policy makes.
    r#"
    CREATE TABLE match_keys (
        key         INTEGER NOT NULL,
        customer_id INTEGER NOT NULL,
        PRIMARY KEY (key, customer_id)
    ) WITHOUT ROWID;
    CREATE TABLE match_suggestions (
        id           INTEGER PRIMARY KEY,
        customer_id  INTEGER NOT NULL,
        candidate_id INTEGER NOT NULL,
        probability  REAL NOT NULL,
        evidence     TEXT NOT NULL,
        status       TEXT NOT NULL,
        created_at   INTEGER NOT NULL
    );
    CREATE UNIQUE INDEX match_suggestions_pair ON match_suggestions(customer_id, candidate_id);
    CREATE INDEX match_suggestions_candidate ON match_suggestions(candidate_id);
    "#,
    // 11: identities: the (source, external id) pairs naming a customer in other systems.
    r#"
    CREATE TABLE customer_identities (
        source      TEXT NOT NULL,
        external_id TEXT NOT NULL,
        customer_id INTEGER NOT NULL,
        created_at  INTEGER NOT NULL,
        PRIMARY KEY (source, external_id)
    ) WITHOUT ROWID;
    CREATE INDEX customer_identities_customer ON customer_identities(customer_id);
    "#,
    // 12: period states (`crm_core::stats::PeriodState`): per customer and currency, the
    // completed orders, first and last, and the UTC days and weeks with a purchase and the
    // spend in the first of each, kept by every write, so that a purchase summary as of now
    // reads one row per customer. Filled from the orders (times are from 1970 on, so
    // integer division is the floor; weeks start on Monday, day 0 was a Thursday).
    r#"
    ALTER TABLE customer_spend ADD COLUMN orders INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE customer_spend ADD COLUMN first_at INTEGER;
    ALTER TABLE customer_spend ADD COLUMN last_at INTEGER;
    ALTER TABLE customer_spend ADD COLUMN days INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE customer_spend ADD COLUMN first_day_minor INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE customer_spend ADD COLUMN weeks INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE customer_spend ADD COLUMN first_week_minor INTEGER NOT NULL DEFAULT 0;
    INSERT INTO customer_spend (currency, customer_id, total_minor, orders, first_at, last_at, days, first_day_minor,
        weeks, first_week_minor)
    SELECT currency, customer_id, sum(total_minor), count(*), min(occurred_at), max(occurred_at), count(DISTINCT d),
        sum(CASE WHEN d = fd THEN total_minor ELSE 0 END), count(DISTINCT w), sum(CASE WHEN w = fw THEN total_minor ELSE 0 END)
    FROM (
        SELECT currency, customer_id, occurred_at, total_minor, d, w,
            min(d) OVER (PARTITION BY customer_id, currency) AS fd, min(w) OVER (PARTITION BY customer_id, currency) AS fw
        FROM (SELECT currency, customer_id, occurred_at, total_minor, occurred_at / 86400000000 AS d,
                (occurred_at / 86400000000 + 3) / 7 AS w
            FROM orders WHERE status = 'completed')
    )
    WHERE true
    GROUP BY currency, customer_id
    ORDER BY currency, customer_id
    ON CONFLICT (currency, customer_id) DO UPDATE SET orders = excluded.orders, first_at = excluded.first_at,
        last_at = excluded.last_at, days = excluded.days, first_day_minor = excluded.first_day_minor,
        weeks = excluded.weeks, first_week_minor = excluded.first_week_minor;
    "#,
    // 13: a credit's lot is kept in its entry's row (one row and its index entries per
    // earning instead of two): `remaining` is NULL for an entry that forms no lot (a debit),
    // the lot's id is its entry's id, its customer, points and time are its entry's. Open
    // lots are indexed by customer and expiry, as they were (the expiry run and the liability
    // report read the due ones of every customer from the index alone). Each lot moves into
    // the entry that formed it (an entry forms at most one lot; the lowest id if a
    // hand-edited file has more).
    r#"
    ALTER TABLE loyalty_entries ADD COLUMN remaining INTEGER;
    ALTER TABLE loyalty_entries ADD COLUMN available_at INTEGER;
    ALTER TABLE loyalty_entries ADD COLUMN expires_at INTEGER;
    ALTER TABLE loyalty_entries ADD COLUMN expired INTEGER NOT NULL DEFAULT 0;
    UPDATE loyalty_entries SET (remaining, available_at, expires_at, expired) =
        (SELECT l.remaining, l.available_at, l.expires_at, l.expired FROM loyalty_lots l
         WHERE l.entry_id = loyalty_entries.id ORDER BY l.id LIMIT 1)
    WHERE id IN (SELECT entry_id FROM loyalty_lots);
    DROP TABLE loyalty_lots;
    CREATE INDEX loyalty_entries_open ON loyalty_entries(customer_id, expires_at) WHERE remaining > 0;
    "#,
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;
