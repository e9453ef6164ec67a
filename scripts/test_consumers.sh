#!/usr/bin/env bash
# Installs the build into a scratch prefix and builds + runs every consumer against it, the way
# a user would: C (pkg-config), C++ (find_package), Rust (cargo test --offline), Go (cgo,
# go test). Usage: scripts/test_consumers.sh BUILD_DIR MODEL.gguf
set -euo pipefail
BUILD=$(realpath "$1")
MODEL=$(realpath "$2")
SRC=$(cd "$(dirname "$0")/.." && pwd)
WORK="$BUILD/consumers"
PREFIX="$WORK/prefix"
rm -rf "$WORK"
mkdir -p "$WORK"
cmake --install "$BUILD" --prefix "$PREFIX" > "$WORK/install.log"
export PKG_CONFIG_PATH="$PREFIX/lib/pkgconfig"
export LD_LIBRARY_PATH="$PREFIX/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
PROMPT=2,126,308,283,71,194,314,247
EXPECTED="$(printf ' 247%.0s' $(seq 16))"

echo "== C (pkg-config)"
cc -std=c11 -Wall -Wextra -Werror "$SRC/examples/c/main.c" $(pkg-config --cflags --libs gemma12b) -o "$WORK/c-example"
out=$("$WORK/c-example" "$MODEL" "$PROMPT")
echo "$out"
[[ "$out" == *"generated:$EXPECTED" ]]

echo "== C++ (find_package)"
cmake -S "$SRC/examples/cpp" -B "$WORK/cpp" -G Ninja -DCMAKE_PREFIX_PATH="$PREFIX" > "$WORK/cpp-config.log"
cmake --build "$WORK/cpp" > "$WORK/cpp-build.log"
out=$("$WORK/cpp/gemma12b-cpp-example" "$MODEL" "$PROMPT")
echo "$out"
[[ "$out" == *"generated:$EXPECTED" ]]

echo "== Rust (cargo test --offline)"
(cd "$SRC/examples/rust" && GEMMA12B_LIB_DIR="$PREFIX/lib" GEMMA12B_TEST_MODEL="$MODEL" \
  CARGO_TARGET_DIR="$WORK/rust-target" cargo test --offline --quiet)

echo "== Go (cgo, go test)"
(cd "$SRC/examples/go" && GOFLAGS=-mod=mod GOPROXY=off GOCACHE="$WORK/go-cache" GOPATH="$WORK/gopath" \
  GEMMA12B_TEST_MODEL="$MODEL" go test ./...)
echo "consumers: all passed"
