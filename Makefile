# The two commands a newcomer needs:
#   make quickstart   build crm.db from 10,000 generated customers and print a report
#   make test         every test: Rust (fmt, clippy, docs, unit, integration, doc tests) and Python

CARGO ?= cargo

.PHONY: quickstart test lint test-rust test-python bench bench-python clean

quickstart:
	$(CARGO) run --release -p quickstart -- $(ARGS)

test: lint test-rust test-python

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --no-deps -p crm-core

test-rust:
	$(CARGO) test --workspace

# Builds crm-py into a virtualenv (target/pyenv) and runs pytest, doctests and mypy --strict.
test-python:
	tests/python/run.sh

# Million-row benchmark: prints a table; never part of `make test`.
bench:
	$(CARGO) bench -p crm-core --bench ingest -- $(ARGS)

bench-python: test-python
	target/pyenv/bin/python crm-py/bench/bench_ingest.py $(ARGS)

clean:
	$(CARGO) clean
	rm -f crm.db crm.db-wal crm.db-shm
