# The two commands a newcomer needs:
#   make quickstart   build crm.db from 10,000 generated customers and print a report
#   make test         every test (Rust today; C and Python join as crm-ffi and crm-py grow)

CARGO ?= cargo

.PHONY: quickstart test test-rust bench clean

quickstart:
	$(CARGO) run --release -p quickstart -- $(ARGS)

test: test-rust

test-rust:
	$(CARGO) fmt --all -- --check
	$(CARGO) test --workspace
	$(CARGO) check -p crm-core --benches

# Million-row benchmark: prints a table; never part of `make test`.
bench:
	$(CARGO) bench -p crm-core --bench ingest -- $(ARGS)

clean:
	$(CARGO) clean
	rm -f crm.db crm.db-wal crm.db-shm
