#!/usr/bin/env bash
# tests/fuzz/run.sh — builds the libFuzzer harnesses (clang, -DQINS_FUZZ=ON) and runs each for a
# bounded time. Exits non-zero on any finding (crash, sanitizer report, trap) or build failure.
# Usage: tests/fuzz/run.sh [seconds per harness, default 60]
set -euo pipefail
secs="${1:-60}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${QINS_FUZZ_BUILD:-$root/build-fuzz}"
CC=clang cmake -S "$root" -B "$build" -DQINS_FUZZ=ON -DQINS_CUDA=OFF -DQINS_BUILD_TESTS=OFF \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
status=0
for src in "$root"/tests/fuzz/fuzz_*.c; do
    name="$(basename "$src" .c)"
    cmake --build "$build" -j2 --target "$name" >/dev/null
    corpus="$build/corpus/$name"
    mkdir -p "$corpus"
    echo "== $name: ${secs}s"
    if ! (cd "$build" && "./$name" -max_total_time="$secs" -rss_limit_mb=2048 -print_final_stats=0 "$corpus" \
            >"$build/$name.log" 2>&1); then
        echo "FAIL: $name found a problem; see $build/$name.log and $build/crash-*"
        tail -40 "$build/$name.log"
        status=1
    else
        grep -E "^Done|#[0-9]+.*DONE" "$build/$name.log" | tail -1 || true
    fi
done
exit $status
