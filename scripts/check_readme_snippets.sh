#!/usr/bin/env bash
# README.md's C, C++, Rust and Go snippets must be the code CI compiles: each example's region
# between `readme:begin` and `readme:end` must appear in README.md line for line (leading
# whitespace ignored). Usage: scripts/check_readme_snippets.sh [SRC_DIR]
set -euo pipefail
SRC=${1:-$(cd "$(dirname "$0")/.." && pwd)}
strip() { sed -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//'; }
readme=$(strip < "$SRC/README.md" | tr '\n' '\001')
status=0
for f in examples/c/main.c examples/cpp/main.cpp examples/rust/tests/tiny.rs examples/go/gemma12b_test.go; do
  snippet=$(awk '/readme:begin/{on=1; next} /readme:end/{on=0} on' "$SRC/$f" | strip | tr '\n' '\001')
  if [[ -z "$snippet" ]]; then
    echo "$f: no readme:begin / readme:end region"
    status=1
  elif [[ "$readme" != *"$snippet"* ]]; then
    echo "$f: its readme region is not in README.md (copy it there verbatim)"
    status=1
  else
    echo "$f: README snippet matches ($(tr -cd '\001' <<< "$snippet" | wc -c) lines)"
  fi
done
exit $status
