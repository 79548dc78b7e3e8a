# The two commands a newcomer needs:
#   make quickstart   build crm.db from 10,000 generated customers and print a report
#   make test         every test: Rust (fmt, clippy, docs, unit, integration, doc tests), C and Python

CARGO ?= cargo

.PHONY: quickstart test lint test-rust test-c test-python install bench bench-segments bench-analytics bench-loyalty bench-loyalty-sim bench-c bench-python clean

PREFIX ?= /usr/local

quickstart:
	$(CARGO) run --release -p quickstart -- $(ARGS)

test: lint test-rust test-c test-python

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --no-deps -p crm-core -p crm-ffi

test-rust:
	$(CARGO) test --workspace

# C programs compiled against include/crm.h, run under valgrind (or AddressSanitizer).
test-c:
	tests/c/run.sh

# Header, shared and static libraries and crm.pc under $(PREFIX).
install:
	crm-ffi/install.sh $(PREFIX)

# Builds crm-py into a virtualenv (target/pyenv) and runs pytest, doctests and mypy --strict.
test-python:
	tests/python/run.sh

# Million-row benchmark: prints a table; never part of `make test`.
bench:
	$(CARGO) bench -p crm-core --bench ingest -- $(ARGS)

# RFM for 1M customers against DuckDB and pandas (a venv under target/bench-venv); prints a table.
bench-segments:
	$(CARGO) bench -p crm-core --bench segments -- $(ARGS)

# Summaries over 10M orders and BG/NBD + Gamma-Gamma fits on 1M customers against lifetimes.
bench-analytics:
	$(CARGO) bench -p crm-core --bench analytics -- $(ARGS)

# Bulk earning over 10M orders (ingest with and without a program) and single earn/redeem latency.
bench-loyalty:
	$(CARGO) bench -p crm-core --bench loyalty -- $(ARGS)

# The loyalty simulator over `make bench`'s database when present, else 100,000 generated
# customers (ARGS="--customers 1000000" for about 10M orders).
bench-loyalty-sim:
	$(CARGO) bench -p crm-core --bench loyalty_sim -- $(ARGS)

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

clean:
	$(CARGO) clean
	rm -f crm.db crm.db-wal crm.db-shm
