#!/bin/sh
# Builds libcrm, compiles every C test, the ERP example and the header (as C11, twice-included,
# and as C++17) against include/crm.h, links them, and runs each under valgrind as a user
# would (or AddressSanitizer when valgrind is absent). Then installs libcrm into a scratch
# prefix with `make install` and builds and runs the README's program against it, exactly as
# the README says. Exits non-zero on any failure; the last line is "N passed, N failed".
#
#   tests/c/run.sh [--release]       CARGO_TARGET_DIR (default: <repo>/target) is honoured.
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
PROFILE=debug
CARGO_FLAGS=
if [ "${1:-}" = "--release" ]; then PROFILE=release; CARGO_FLAGS=--release; fi
CC=${CC:-cc}
CXX=${CXX:-g++}
CFLAGS="-std=c11 -Wall -Wextra -Werror -pedantic -g -I$ROOT/include -I$ROOT/tests/c"

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "PASS $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1"; }
finish() { echo "$passed passed, $failed failed"; [ "$failed" -eq 0 ]; exit $?; }

echo "building libcrm ($PROFILE) in $TARGET"
if ! (cd "$ROOT" && CARGO_TARGET_DIR=$TARGET cargo build -p crm-ffi $CARGO_FLAGS); then
    fail "cargo build -p crm-ffi"
    finish
fi
LIBDIR=$TARGET/$PROFILE
BUILD=$TARGET/c-tests/$PROFILE
WORK=$BUILD/work
rm -rf "$BUILD"
mkdir -p "$BUILD/lib" "$WORK"
# The shared library's soname is libcrm.so.1: give the loader that name, and the linker libcrm.so.
cp "$LIBDIR/libcrm.so" "$BUILD/lib/libcrm.so.1"
ln -s libcrm.so.1 "$BUILD/lib/libcrm.so"
LDFLAGS="-L$BUILD/lib -Wl,-rpath,$BUILD/lib -lcrm -lpthread"

if command -v valgrind >/dev/null 2>&1; then
    # Exactly the README's command: every leak kind counts. The README's program runs without
    # the suppression file (it stores no phone number); the others, which do, with the file
    # the README tells such programs to pass (crm-ffi/crm.supp: the phonenumber crate's
    # parser statics, "possibly lost" only).
    PLAIN="valgrind -q --leak-check=full --error-exitcode=1"
    # --num-callers=50: libcrm's dependencies carry no debug info in a debug build (the
    # workspace's profile), so valgrind names frames by symbol only, and the phonenumber
    # frames the suppressions match lie deeper than its default 12 (crm-ffi/crm.supp).
    RUN="$PLAIN --num-callers=50 --suppressions=$ROOT/crm-ffi/crm.supp"
    SAN=
    echo "running under valgrind"
else
    PLAIN=
    RUN=
    SAN="-fsanitize=address,undefined -fno-omit-frame-pointer"
    echo "valgrind not found: running with AddressSanitizer"
fi

# build NAME SOURCE [extra flags]: compiles and links one C program.
build() {
    name=$1; src=$2; shift 2
    if $CC $CFLAGS $SAN "$@" -o "$BUILD/$name" "$src" $LDFLAGS; then return 0; fi
    fail "$name (compile)"; return 1
}

# run NAME [args]: runs a built program under the checker, in the scratch directory.
run() {
    name=$1; shift
    if (cd "$WORK" && $RUN "$BUILD/$name" "$@"); then pass "$name"; else fail "$name"; fi
}

# readme_block MARKER: the code block that follows the line MARKER in README.md.
readme_block() {
    awk -v m="$1" '$0 == m {want = 1; next} want && /^```/ {if (on) exit; on = 1; next} on' "$ROOT/README.md"
}

for src in "$ROOT"/tests/c/test_*.c; do
    name=$(basename "$src" .c)
    build "$name" "$src" && run "$name" "$WORK"
done

# The header as C++: syntax of the header alone, then a program compiled, linked and run.
if $CXX -std=c++17 -Wall -Wextra -Werror -pedantic -fsyntax-only -x c++ "$ROOT/include/crm.h"; then
    pass "crm.h as C++17 (syntax)"
else
    fail "crm.h as C++17 (syntax)"
fi
if $CXX -std=c++17 -Wall -Wextra -Werror -pedantic $SAN -I"$ROOT/include" -o "$BUILD/header_cpp" \
    "$ROOT/tests/c/header_cpp.cpp" $LDFLAGS; then
    run header_cpp
else
    fail "header_cpp (compile)"
fi

# The static library: a program linked against libcrm.a alone.
if $CC $CFLAGS -o "$BUILD/test_static" "$ROOT/tests/c/test_double_include.c" "$LIBDIR/libcrm.a" \
    -lpthread -ldl -lm; then
    if "$BUILD/test_static"; then pass "static link (libcrm.a)"; else fail "static link (libcrm.a)"; fi
else
    fail "static link (libcrm.a) (compile)"
fi

# The README's C snippet, exactly as printed there, under valgrind without suppressions.
awk '/^```c$/ {on = 1; next} /^```$/ {on = 0} on' "$ROOT/README.md" > "$BUILD/readme.c"
if [ -s "$BUILD/readme.c" ] && build readme "$BUILD/readme.c"; then
    if (cd "$WORK" && $PLAIN "$BUILD/readme"); then pass readme; else fail readme; fi
elif [ ! -s "$BUILD/readme.c" ]; then
    fail "readme (no C snippet found in README.md)"
fi

# The ERP example, on a fresh database, reading its CSV export.
if build erp_sync "$ROOT/examples/c/erp_sync.c"; then
    rm -f "$WORK/erp.db" "$WORK/erp.db-wal" "$WORK/erp.db-shm"
    run erp_sync "$WORK/erp.db" "$ROOT/examples/c/data"
fi

# Installed as the README says: `make install` into a scratch $HOME/.local (cargo and rustup
# keep their own homes), then the README's program built with pkg-config and run, with the
# README's commands, in a directory of its own.
INSTALL_HOME=$BUILD/home
APP=$BUILD/app
mkdir -p "$INSTALL_HOME" "$APP"
cp "$BUILD/readme.c" "$APP/app.c"
readme_block "<!-- install: run from the crm checkout -->" > "$BUILD/install.sh"
readme_block "<!-- install: run from your project -->" > "$BUILD/app.sh"
if [ -z "$PLAIN" ]; then
    echo "SKIP installed library (the README's commands run valgrind)"
elif [ ! -s "$BUILD/install.sh" ] || [ ! -s "$BUILD/app.sh" ]; then
    fail "installed library (README's install commands not found)"
elif ! (cd "$ROOT" && CARGO_HOME=${CARGO_HOME:-$HOME/.cargo} RUSTUP_HOME=${RUSTUP_HOME:-$HOME/.rustup} \
        CARGO_TARGET_DIR=$TARGET HOME=$INSTALL_HOME sh -ex "$BUILD/install.sh"); then
    fail "make install (README)"
elif (cd "$APP" && HOME=$INSTALL_HOME sh -ex "$BUILD/app.sh"); then
    pass "installed library: README's program built with pkg-config, run under valgrind"
else
    fail "installed library: README's program built with pkg-config, run under valgrind"
fi

finish
