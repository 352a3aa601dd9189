#!/usr/bin/env bash
# bench/engine_table.sh — the engine-speed table of docs/engine.md: `qins bench` on Phi-3.5-mini
# shaped models (2 and 4 blocks, random weights from `qins write-gguf`) for every weight type,
# stored as the file holds it and (for F16/BF16/Q8_0) dequantised to FP32 at load (the engine
# before native kernels). Prints the bench's `table |` rows as one markdown table.
# Usage: bench/engine_table.sh [BUILD_DIR] [MODEL_DIR]   (models are written there when missing)
set -euo pipefail
B=${1:-build}
M=${2:-models/bench}
mkdir -p "$M"
echo "| blocks | file type | in memory | threads | pp128 tok/s | % of sgemm | tg tok/s | % of bandwidth | peak RSS |"
echo "|---|---|---|---|---|---|---|---|---|"
for blocks in 2 4; do
    for t in f32 f16 bf16 q8_0; do
        f="$M/phi$blocks-$t.gguf"
        [ -f "$f" ] || "$B/qins" write-gguf --shape phi3.5-mini --layers "$blocks" --type "$t" --out "$f" >&2
        modes="stored"
        [ "$t" = f32 ] || modes="stored f32"
        for w in $modes; do
            "$B/qins" bench --model "$f" --pp 128 --tg 32 --reps 3 --threads 1,2 --weights "$w" |
                sed -n "s/^table | [a-z0-9_]* | /| $blocks | $t | /p"
        done
    done
done
