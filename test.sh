#!/usr/bin/env bash
# Install what is missing, build, and run the whole suite through ctest.
# Runs the default build, then the address+undefined sanitizer build (skip it with --no-asan).
set -euo pipefail
cd "$(dirname "$0")"
asan=1
for a in "$@"; do
  case "$a" in
    --no-asan) asan=0 ;;
    *) echo "usage: ./test.sh [--no-asan]" >&2; exit 2 ;;
  esac
done

packaging/deps.sh default
if ! command -v clang++ >/dev/null || ! command -v clang >/dev/null; then
  echo "WARNING: clang/clang++ not found: the fuzz tests (fuzz_model_60s, fuzz_npy_60s) are not registered" >&2
fi
if [ "$asan" -eq 1 ]; then
  packaging/deps.sh asan
  echo "== sanitizer build (address, undefined) =="
  ctest --preset asan
fi
echo "== default build =="
ctest --preset default
