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

echo "== C, static archive (pkg-config gemma12b-static)"
cc -std=c11 -Wall -Wextra -Werror "$SRC/examples/c/main.c" $(pkg-config --cflags --libs gemma12b-static) -o "$WORK/c-static"
if ldd "$WORK/c-static" | grep -q libgemma12b; then echo "c-static links libgemma12b.so"; exit 1; fi
out=$(env -u LD_LIBRARY_PATH "$WORK/c-static" "$MODEL" "$PROMPT")
echo "$out"
[[ "$out" == *"generated:$EXPECTED" ]]

echo "== C++, static archive (find_package, gemma12b::static)"
cmake -S "$SRC/examples/cpp" -B "$WORK/cpp-static" -G Ninja -DCMAKE_PREFIX_PATH="$PREFIX" -DGEMMA12B_STATIC=ON \
  > "$WORK/cpp-static-config.log"
cmake --build "$WORK/cpp-static" > "$WORK/cpp-static-build.log"
if ldd "$WORK/cpp-static/gemma12b-cpp-example" | grep -q libgemma12b; then echo "cpp-static links libgemma12b.so"; exit 1; fi
out=$(env -u LD_LIBRARY_PATH "$WORK/cpp-static/gemma12b-cpp-example" "$MODEL" "$PROMPT")
echo "$out"
[[ "$out" == *"generated:$EXPECTED" ]]

echo "== Rust (cargo test --offline)"
(cd "$SRC/examples/rust" && GEMMA12B_LIB_DIR="$PREFIX/lib" GEMMA12B_TEST_MODEL="$MODEL" \
  CARGO_TARGET_DIR="$WORK/rust-target" cargo test --offline --quiet)

echo "== Go (cgo, go test)"
(cd "$SRC/examples/go" && GOFLAGS=-mod=mod GOPROXY=off GOCACHE="$WORK/go-cache" GOPATH="$WORK/gopath" \
  GEMMA12B_TEST_MODEL="$MODEL" go test ./...)
echo "== Conan recipe: syntax, and its test_package built with plain CMake against the install"
python3 -m py_compile "$SRC/conan/conanfile.py" "$SRC/conan/test_package/conanfile.py"
cmake -S "$SRC/conan/test_package" -B "$WORK/conan-test-package" -G Ninja -DCMAKE_PREFIX_PATH="$PREFIX" \
  > "$WORK/conan-tp-config.log"
cmake --build "$WORK/conan-test-package" > "$WORK/conan-tp-build.log"
"$WORK/conan-test-package/test_package" "$MODEL"
"$WORK/conan-test-package/test_package_c" "$MODEL"
if command -v conan > /dev/null; then
  echo "== conan create (a conan command exists)"
  (cd "$SRC" && conan create conan/ --build=missing)
else
  echo "== conan create skipped: no conan command on this machine (see README, Conan)"
fi
echo "consumers: all passed"
