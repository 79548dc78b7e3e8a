# The two commands a newcomer needs:
#   make quickstart   build crm.db from 10,000 generated customers and print a report
#   make test         every test: Rust (fmt, clippy, docs, unit, integration, doc tests), C and Python

CARGO ?= cargo

.PHONY: quickstart test lint test-rust test-c test-python install bench bench-segments bench-analytics bench-identity bench-loyalty bench-loyalty-sim bench-postgres bench-c bench-python soak clean fuzz

PREFIX ?= /usr/local

quickstart:
	$(CARGO) run --release -p quickstart -- $(ARGS)

test: lint test-rust test-c test-python

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --no-deps -p crm-core -p crm-ffi

# The facade's suites (tests/common) run on SQLite in memory with the workspace, again on
# PostgreSQL (flat, then partitioned by customer), and their property tests again on a
# SQLite file. (The conformance suite runs
# every port on all three by itself; tests/postgres.rs and pg_restart.rs test what only a
# server has.) tests/pg/scratch.sh starts the machine's PostgreSQL if needed and makes a
# fresh database; CRM_TEST_PG, its URL, reaches the tests.
STORE_SUITES = facade ingest upsert_merge bad_input stats_prop analytics rfm identity merge matching sources \
	segments rule_agreement rule_limits loyalty loyalty_corrections loyalty_liability loyalty_prop \
	loyalty_replay_prop loyalty_sim idempotency_prop
FILE_SUITES = stats_prop loyalty_prop loyalty_replay_prop loyalty_sim merge idempotency_prop
# The same facade suites (their quicker part) on PostgreSQL with the customer-owned tables
# hash-partitioned by customer, as a distributed PostgreSQL lays them out (docs/scale-out.md).
PARTITIONED_SUITES = facade ingest upsert_merge bad_input segments merge matching sources loyalty loyalty_corrections \
	loyalty_liability

test-rust:
	url="$$(tests/pg/scratch.sh)" && export CRM_TEST_PG="$$url" && \
	$(CARGO) test --workspace && \
	CRM_TEST_STORE=postgres $(CARGO) test -p crm-core --features postgres $(addprefix --test ,$(STORE_SUITES)) && \
	CRM_TEST_STORE=postgres-partitioned $(CARGO) test -p crm-core --features postgres \
		$(addprefix --test ,$(PARTITIONED_SUITES)) && \
	CRM_TEST_STORE=file $(CARGO) test -p crm-core --features postgres $(addprefix --test ,$(FILE_SUITES))

test-c:
	url="$$(CRM_TEST_DB=crm_test_c tests/pg/scratch.sh)" && CRM_TEST_PG="$$url" tests/c/run.sh

# Header, shared and static libraries and crm.pc under $(PREFIX).
install:
	crm-ffi/install.sh $(PREFIX)

# Builds crm-py into a virtualenv (target/pyenv) and runs pytest, doctests and mypy --strict.
test-python:
	url="$$(CRM_TEST_DB=crm_test_py tests/pg/scratch.sh)" && CRM_TEST_PG="$$url" tests/python/run.sh

# Million-row benchmark: prints a table; never part of `make test`.
bench:
	$(CARGO) bench -p crm-core --bench ingest -- $(ARGS)

# RFM for 1M customers against DuckDB and pandas (a venv under target/bench-venv); prints a table.
bench-segments:
	$(CARGO) bench -p crm-core --bench segments -- $(ARGS)

# Summaries over 10M orders and BG/NBD + Gamma-Gamma fits on 1M customers against lifetimes.
bench-analytics:
	$(CARGO) bench -p crm-core --bench analytics -- $(ARGS)

# find_duplicates on 1M customers with 5% labelled duplicates against splink on DuckDB
# (a venv under target/identity-venv); prints a table.
bench-identity:
	$(CARGO) bench -p crm-core --bench identity -- $(ARGS)

# Bulk earning over 10M orders (ingest with and without a program) and single earn/redeem latency.
bench-loyalty:
	$(CARGO) bench -p crm-core --bench loyalty -- $(ARGS)

# The loyalty simulator over `make bench`'s database when present, else 100,000 generated
# customers (ARGS="--customers 1000000" for about 10M orders).
bench-loyalty-sim:
	$(CARGO) bench -p crm-core --bench loyalty_sim -- $(ARGS)

# The PostgreSQL store against raw COPY and pgbench-style transactions, and beside SQLite, on
# 100,000 generated customers (ARGS="--customers 1000000" for about 10M orders); prints a table.
# A fresh database from tests/pg/scratch.sh unless CRM_BENCH_PG (a URL) is set.
bench-postgres:
	url="$${CRM_BENCH_PG:-$$(CRM_TEST_DB=crm_bench tests/pg/scratch.sh)}" && \
	$(CARGO) bench -p crm-core --features postgres --bench postgres -- --url "$$url" $(ARGS)

# Mixed load from several processes and threads on one file for SOAK_MINUTES (default 10),
# printing latency percentiles, throughput and memory every minute; fails on any error, memory
# growth, an unbounded WAL or a broken invariant at the end. Never part of `make test`.
SOAK_MINUTES ?= 10
soak:
	$(CARGO) bench -p crm-core --bench soak -- --minutes $(SOAK_MINUTES) $(ARGS)

bench-c:
	$(CARGO) bench -p crm-ffi --bench overhead -- $(ARGS)

bench-python: test-python
	target/pyenv/bin/python crm-py/bench/bench_ingest.py $(ARGS)

# Crm.compute_rfm to a DataFrame against pandas groupby and DuckDB on the same orders; prints a
# table. 1M customers from `make bench`'s database when present, else ARGS="--customers 100000".
.PHONY: bench-python-rfm
bench-python-rfm: test-python
	target/pyenv/bin/python -m pip install -q --disable-pip-version-check duckdb
	target/pyenv/bin/python crm-py/bench/bench_rfm.py $(ARGS)

# Fuzzing (cargo-fuzz and libFuzzer, on the nightly toolchain; never part of `make test`):
# installs cargo-fuzz if missing, then runs each target of fuzz/ for FUZZ_SECONDS (default 60),
# starting from its committed seeds (fuzz/seeds/<target>, the inputs of the tests). New inputs
# collect in fuzz/corpus/<target>, a crash in fuzz/artifacts/<target> (both ignored by git); a
# crash stops the run. One target for longer: `make fuzz FUZZ_TARGETS=rule_text FUZZ_SECONDS=600`.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= rule_text rule_json json_inputs ingest loyalty_program c_api
FUZZ_CARGO ?= cargo +nightly
fuzz:
	command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz
	$(FUZZ_CARGO) fuzz build --debug-assertions
	for t in $(FUZZ_TARGETS); do \
		mkdir -p fuzz/corpus/$$t && \
		$(FUZZ_CARGO) fuzz run --debug-assertions $$t fuzz/corpus/$$t fuzz/seeds/$$t -- \
			-max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 || exit 1; \
	done

clean:
	$(CARGO) clean
	rm -f crm.db crm.db-wal crm.db-shm
