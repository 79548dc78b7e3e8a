#!/usr/bin/env bash
# Python tests: builds crm-py into a virtualenv and runs pytest (and mypy --strict) on it.
# Needs only CPython >= 3.9 with pip and a Rust toolchain; PyPI must be reachable.
#   tests/python/run.sh            venv in target/pyenv (or $CRM_PY_VENV)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="${CRM_PY_VENV:-$root/target/pyenv}"
python="${PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q --disable-pip-version-check \
    "maturin>=1.5,<2" pytest hypothesis pandas pyarrow mypy pandas-stubs "tqdm>=4.60"

cd "$root/crm-py"
# maturin develop builds the abi3 extension in release mode and installs it editable.
VIRTUAL_ENV="$venv" PATH="$venv/bin:$PATH" "$venv/bin/maturin" develop --release -q
"$venv/bin/python" -m pytest -q tests
"$venv/bin/python" -m pytest -q --doctest-modules python/crm
"$venv/bin/python" -m mypy --strict python/crm
