#!/usr/bin/env bash
# tools/device-check.sh OUT_DIR — the prepared GPU-machine run (phase 4): checks the build's
# dependencies (no apt, no network there: it only says what is missing), builds with CUDA in a
# fresh folder (Release, all cores), runs the CUDA tests, qins-bench-cuda, qins-bench-fused_cuda
# and `qins-phase4 --cuda-only --out OUT_DIR` when that binary exists, and copies every log into
# OUT_DIR. Each step runs under `timeout` inside one overall budget (QINS_DEVICE_BUDGET seconds,
# default 285) so the whole script ends in under 5 minutes.
# Exit: 0 all ran on a GPU; 1 a step failed or timed out; 2 a dependency is missing; 3 no GPU
# (built and tested, nothing measured: a no-GPU run is never a CUDA result).
set -uo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 1 ] || { echo "usage: tools/device-check.sh OUT_DIR" >&2; exit 2; }
OUT=$1
mkdir -p "$OUT" || exit 2
OUT=$(cd "$OUT" && pwd)
BUILD=${BUILD_DIR:-build-device}
JOBS=${JOBS:-$(nproc)}
START=$(date +%s)
DEADLINE=$((START + ${QINS_DEVICE_BUDGET:-285}))
STATUS=0
LOG=$OUT/device-check.log
: >"$LOG"
say() { echo "device-check: $*" | tee -a "$LOG"; }

# step NAME MAX_SECONDS CMD...: runs CMD under timeout min(MAX, time left), output to OUT/NAME.log.
step() {
    local name=$1 max=$2 left; shift 2
    left=$((DEADLINE - $(date +%s)))
    if [ "$left" -lt 5 ]; then say "$name: SKIPPED, the time budget is spent"; STATUS=1; return 1; fi
    [ "$max" -gt "$left" ] && max=$left
    local t0=$(date +%s) rc
    timeout --kill-after=5 "$max" "$@" >"$OUT/$name.log" 2>&1
    rc=$?
    if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then say "$name: TIMED OUT after ${max}s (log $name.log)"; STATUS=1
    elif [ $rc -ne 0 ]; then say "$name: FAILED rc=$rc in $(( $(date +%s) - t0 ))s (log $name.log)"; STATUS=1
    else say "$name: ok in $(( $(date +%s) - t0 ))s (log $name.log)"; fi
    return $rc
}

# ---- dependencies (what run.sh's PACKAGES provide; on the GPU machine nothing can be installed)
missing=()
for t in cmake make gcc g++ pkg-config timeout; do command -v "$t" >/dev/null || missing+=("program $t"); done
NVCC=$(command -v nvcc || true)
[ -z "$NVCC" ] && [ -x /usr/local/cuda/bin/nvcc ] && NVCC=/usr/local/cuda/bin/nvcc
[ -z "$NVCC" ] && missing+=("nvcc (CUDA toolkit: /usr/local/cuda/bin/nvcc)")
for m in openblas inih libzstd libcjson criterion; do pkg-config --exists "$m" 2>/dev/null || missing+=("pkg-config module $m"); done
if ! { command -v h5cc >/dev/null || ls /usr/include/hdf5/serial/hdf5.h /usr/include/hdf5.h >/dev/null 2>&1; }; then
    missing+=("HDF5 C library (libhdf5-dev)")
fi
ls /usr/include/csv.h >/dev/null 2>&1 || missing+=("libcsv (libcsv-dev)")
# the phase-4 CUDA run opens the default model and text (core/paths.h's places); on the GPU machine
# nothing outside the checkout exists, so they travel in ./models and ./data (ignored by git: pass
# them in the device call's carry)
found() { local f; for f in "$@"; do [ -r "$f" ] && return 0; done; return 1; }
found "${QINS_MODELS:-/nonexistent}/stories260K.gguf" models/stories260K.gguf ../shared/models/stories260K.gguf ||
    missing+=("stories260K.gguf (put it in ./models or set QINS_MODELS)")
T=tinystories_train_sample_2MiB.txt
found "${QINS_DATA:-/nonexistent}/$T" "data/$T" "$T" "../shared/data/$T" ||
    missing+=("$T (put it in ./data or set QINS_DATA)")
if [ ${#missing[@]} -gt 0 ]; then
    say "MISSING dependencies (Debian: build-essential cmake pkg-config libopenblas-dev libinih-dev libzstd-dev"
    say "  libcjson-dev libcriterion-dev libhdf5-dev libcsv-dev; CUDA toolkit for nvcc):"
    for m in "${missing[@]}"; do say "  - $m"; done
    exit 2
fi
say "nvcc: $("$NVCC" --version | tail -1)"
GPU=0
if command -v nvidia-smi >/dev/null && nvidia-smi -L >"$OUT/nvidia-smi.txt" 2>&1; then
    GPU=1
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv \
        >>"$OUT/nvidia-smi.txt" 2>&1
    say "GPU: $(head -1 "$OUT/nvidia-smi.txt")"
else
    say "NO GPU: nvidia-smi is missing or lists no device; building and testing anyway (the CUDA tests will skip)"
fi
{ lscpu | grep -E "Model name|^CPU\(s\)"; git rev-parse HEAD 2>/dev/null; git status --short 2>/dev/null | head -20; } \
    >"$OUT/host.txt" 2>&1

# ---- build (fresh folder), tests, benchmarks
rm -rf "$BUILD"
step configure 60 cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DQINS_CUDA=ON -DQINS_WERROR=ON \
    -DCMAKE_CUDA_COMPILER="$NVCC" || { cp "$LOG" "$OUT/" 2>/dev/null; exit 1; }
grep -E "^-- (CUDA|OpenBLAS|HDF5|Criterion):" "$OUT/configure.log" | tee -a "$LOG"
grep -q "^-- CUDA: found" "$OUT/configure.log" || { say "FAILED: CMake did not enable CUDA (see configure.log)"; exit 1; }
step build 200 cmake --build "$BUILD" -j"$JOBS" || exit 1
step ctest-cuda 60 bash -c "cd '$BUILD' && ctest -R cuda --output-on-failure -V"
if grep -q "Skipped" "$OUT/ctest-cuda.log"; then say "ctest-cuda: CUDA tests were SKIPPED (no GPU): nothing was checked on a GPU"; fi
if [ $GPU -eq 1 ]; then
    step bench-cuda 30 "$BUILD/qins-bench-cuda"
    if [ -x "$BUILD/qins-phase4" ]; then
        # the phase binary measures the full case list itself: the bench is a smoke run here
        step bench-fused-cuda 60 "$BUILD/qins-bench-fused_cuda" --quick
        step phase4-cuda 120 "$BUILD/qins-phase4" --cuda-only --out "$OUT"
    else
        say "qins-phase4 not built yet (no phases/phase4.c in this tree): no phase-4 run file written;"
        say "  running the full qins-bench-fused_cuda case list instead (its table is in bench-fused-cuda.log)"
        step bench-fused-cuda 150 "$BUILD/qins-bench-fused_cuda"
    fi
fi
say "done in $(( $(date +%s) - START ))s; logs in $OUT"
if [ $GPU -eq 0 ]; then say "NO GPU: built and tested only, nothing measured (exit 3)"; exit 3; fi
exit $STATUS
