#!/bin/sh
# Installs libcrm for C hosts:
#   PREFIX/include/crm.h
#   PREFIX/lib/libcrm.so.1 (soname) + libcrm.so -> libcrm.so.1, PREFIX/lib/libcrm.a (both
#   without debug info)
#   PREFIX/lib/pkgconfig/crm.pc
#   PREFIX/share/crm/crm.supp (valgrind suppressions for programs that store phone numbers)
#
#   crm-ffi/install.sh PREFIX        builds crm-ffi in release first (CARGO_TARGET_DIR honoured)
# Then: cc app.c $(PKG_CONFIG_PATH=PREFIX/lib/pkgconfig pkg-config --cflags --libs crm)
set -eu

if [ $# -ne 1 ]; then
    echo "usage: $0 PREFIX" >&2
    exit 2
fi
ROOT=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$1"
PREFIX=$(cd "$1" && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' "$ROOT/Cargo.toml" | head -n 1)

(cd "$ROOT" && CARGO_TARGET_DIR=$TARGET cargo build --release -p crm-ffi)

mkdir -p "$PREFIX/include" "$PREFIX/lib/pkgconfig" "$PREFIX/share/crm"
install -m 644 "$ROOT/include/crm.h" "$PREFIX/include/crm.h"
install -m 755 "$TARGET/release/libcrm.so" "$PREFIX/lib/libcrm.so.1"
ln -sf libcrm.so.1 "$PREFIX/lib/libcrm.so"
install -m 644 "$TARGET/release/libcrm.a" "$PREFIX/lib/libcrm.a"
# The release profile strips the shared library's debug info; cargo never strips a static
# library, whose objects (the standard library's too) would otherwise carry theirs.
if command -v strip >/dev/null 2>&1; then
    strip --strip-debug "$PREFIX/lib/libcrm.a"
else
    echo "strip not found: $PREFIX/lib/libcrm.a keeps its debug info" >&2
fi
install -m 644 "$ROOT/crm-ffi/crm.supp" "$PREFIX/share/crm/crm.supp"
sed -e "s|@PREFIX@|$PREFIX|g" -e "s|@VERSION@|$VERSION|g" "$ROOT/crm-ffi/crm.pc.in" >"$PREFIX/lib/pkgconfig/crm.pc"
echo "installed crm $VERSION into $PREFIX"
