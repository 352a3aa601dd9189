#!/usr/bin/env bash
# run.sh — the two README commands and the CI tiers in one place.
#   ./run.sh main   install missing Debian packages, build (Release), run the main job on the default model
#   ./run.sh test   build (Release) and run the Criterion suite through ctest
#   ./run.sh asan   build Debug with AddressSanitizer + UBSan (CUDA off) and run the suite
#   ./run.sh fuzz   build the libFuzzer harnesses with clang and run each for a bounded time
# Environment: QINS_MODELS (folder with stories260K.gguf; default ./models, then ../shared/models),
# BUILD_DIR (default build), QINS_WERROR (default ON), QINS_CUDA (default ON: used when nvcc exists).
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(pwd)
PACKAGES="build-essential cmake pkg-config git libhdf5-dev hdf5-tools libopenblas-dev libopenblas-openmp-dev libcriterion-dev libcsv-dev libinih-dev libcjson-dev libzstd-dev gnuplot-nox clang python3"

setup() {
    local missing=()
    for p in $PACKAGES; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "run.sh: installing ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

models() {
    if [ -z "${QINS_MODELS:-}" ]; then
        if [ -f models/stories260K.gguf ]; then export QINS_MODELS=$ROOT/models
        elif [ -f ../shared/models/stories260K.gguf ]; then export QINS_MODELS=$(cd ../shared/models && pwd)
        else
            echo "run.sh: stories260K.gguf not found: put it in ./models or set QINS_MODELS (see README)" >&2
            exit 1
        fi
    fi
    export QINS_MODELS=$(cd "$QINS_MODELS" && pwd)
}

build() { # build DIR TYPE extra-cmake-args...
    local dir=$1 type=$2; shift 2
    cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE="$type" -DQINS_WERROR="${QINS_WERROR:-ON}" \
        -DQINS_CUDA="${QINS_CUDA:-ON}" "$@" >"$dir.configure.log" 2>&1 || { cat "$dir.configure.log"; exit 1; }
    grep -E "^-- (OpenBLAS|HDF5|inih|libcsv|gnuplot|CUDA|Criterion|cJSON):" "$dir.configure.log" || true
    cmake --build "$dir" -j"$(nproc)"
}

main_job() {
    local b=${BUILD_DIR:-build} model=$QINS_MODELS/stories260K.gguf text
    text=$(dirname "$QINS_MODELS")/data/tinystories_train_sample_2MiB.txt
    echo "== qins info"; "$b/qins" info "$model"
    echo "== greedy generation"; "$b/qins" generate --model "$model" --prompt "Once upon a time" --tokens 64
    if [ -f "$text" ]; then
        echo "== perplexity (100 windows of 256)"; "$b/qins" perplexity --model "$model" --text-file "$text" --ctx 256 --chunks 100
    fi
    if [ -x "$b/qins-phase0" ]; then
        echo "== phase 0 self-check: run -> gate -> report -> reproduce"
        "$b/qins-phase0" --config experiments/phase0.ini
        "$b/qins-gate" 0 || true   # the gate's verdict is printed; NO-GO is a result, not a failure
        "$b/qins" report
        run=$(ls -t results/phase0/*.h5 | head -1)
        "$b/qins" reproduce "$run"
    fi
}

case "${1:-}" in
    main) setup; models; build "${BUILD_DIR:-build}" Release; main_job ;;
    test) setup; models; build "${BUILD_DIR:-build}" Release; (cd "${BUILD_DIR:-build}" && ctest --output-on-failure) ;;
    asan) setup; models; BUILD_DIR=${BUILD_DIR:-build-asan}; QINS_CUDA=OFF build "$BUILD_DIR" Debug -DQINS_SANITIZE=ON
          (cd "$BUILD_DIR" && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure) ;;
    fuzz) setup; if [ -x tests/fuzz/run.sh ]; then tests/fuzz/run.sh; else echo "run.sh: no fuzz harnesses yet"; fi ;;
    *) sed -n '2,9p' "$0"; exit 2 ;;
esac
