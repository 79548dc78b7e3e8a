#!/usr/bin/env bash
# Starts the machine's PostgreSQL if it is not running (installing Debian's package if it is
# missing), creates the role crm_test and a fresh, empty database owned by it ($CRM_TEST_DB,
# default crm_test; dropped first if it exists), and prints the database's URL. The PostgreSQL runs of the test suites (make test) use it.
# Needs root, or sudo to the postgres user.
set -euo pipefail
db=${CRM_TEST_DB:-crm_test}
case $db in *[!a-z0-9_]*) echo "CRM_TEST_DB: lower-case letters, digits and _ only" >&2; exit 2;; esac

as_postgres() {
    if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$1"; else sudo -u postgres sh -c "$1"; fi
}

if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
    else
        echo "PostgreSQL is not installed: apt-get install postgresql" >&2
        exit 1
    fi
fi

version=$(ls /etc/postgresql | sort -n | tail -1)
if ! pg_ctlcluster "$version" main status >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then pg_ctlcluster "$version" main start >&2; else sudo pg_ctlcluster "$version" main start >&2; fi
fi
port=$(as_postgres "psql -qtAc 'SHOW port'" 2>/dev/null || echo 5432)
for _ in $(seq 100); do
    pg_isready -q -h localhost -p "$port" && break
    sleep 0.1
done

if ! as_postgres "psql -qtAc \"SELECT 1 FROM pg_roles WHERE rolname = 'crm_test'\"" | grep -q 1; then
    as_postgres "psql -qc \"CREATE ROLE crm_test LOGIN PASSWORD 'crm_test'\"" >&2
fi
as_postgres "dropdb --if-exists $db && createdb -O crm_test $db" >&2
echo "postgresql://crm_test:crm_test@localhost:$port/$db"
