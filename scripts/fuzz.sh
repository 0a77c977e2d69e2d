#!/usr/bin/env bash
# Builds the loader fuzz harness (tests/fuzz/fuzz_loaders.cc: safetensors, checkpoint metadata, IDX,
# JSON) with clang, libFuzzer, ASan and UBSan in build-fuzz/ and runs it for SECONDS (default 60)
# on one core, starting from the committed seed corpus (tests/fuzz/corpus, never modified: new
# inputs go to build-fuzz/corpus). Prints executions, exec/s and crashes; exits non-zero when the
# harness found a crash (the input is saved under build-fuzz/crashes/, reproduce it with
# `build-fuzz/fuzz_loaders <file>`). Safe to re-run; the corpus grows across runs.
#
#   scripts/fuzz.sh [SECONDS]       e.g. nice -n 10 scripts/fuzz.sh 600
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seconds="${1:-60}"
build="${ATTEND_FUZZ_BUILD:-$root/build-fuzz}"
jobs="${ATTEND_JOBS:-$(nproc)}"
cxx="$(command -v clang++-14 || command -v clang++ || true)"
if [ -z "$cxx" ]; then
  echo "fuzz.sh: needs clang++ and libFuzzer (Debian: clang-14 libclang-rt-14-dev; scripts/deps.sh installs them)" >&2
  exit 1
fi

mkdir -p "$build"
if [ ! -f "$build/build.ninja" ]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_CXX_COMPILER="$cxx" -DATTEND_FUZZ=ON -DATTEND_BUILD_TESTS=OFF \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1" > "$build/configure.log" 2>&1 ||
    { cat "$build/configure.log" >&2; exit 1; }
fi
ninja -C "$build" -j "$jobs" fuzz_loaders > "$build/ninja.log" 2>&1 || { cat "$build/ninja.log" >&2; exit 1; }

mkdir -p "$build/corpus" "$build/crashes"
log="$build/fuzz.log"
set +e
TIMEFORMAT='%U %S'  # the harness's CPU time (user, system): on a busy machine far below the wall time
{ time ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  "$build/fuzz_loaders" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
  -dict="$root/tests/fuzz/loaders.dict" -print_final_stats=1 -artifact_prefix="$build/crashes/" "$build/corpus" \
  "$root/tests/fuzz/corpus" > "$log" 2>&1; } 2> "$build/cpu.txt"
rc=$?
set -e
cpu="$(awk '{ printf "%.0f", $1 + $2 }' "$build/cpu.txt" 2>/dev/null || true)"
execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)"
crashes="$(find "$build/crashes" -type f | wc -l)"
echo "fuzz_loaders: ${seconds} s (${cpu:-?} CPU s), ${execs:-?} executions, ${rate:-?} exec/s, corpus $(ls "$build/corpus" | wc -l) inputs, crash files in $build/crashes: $crashes"
if [ "$rc" -ne 0 ]; then
  grep -E '^(==[0-9]+==|SUMMARY|fuzz_loaders:|.*runtime error|.*uncaught exception|.*Test unit written)' "$log" | head -20 >&2
  echo "fuzz.sh: the harness failed (exit $rc); full log: $log" >&2
  exit 1
fi
