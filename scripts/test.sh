#!/usr/bin/env bash
# Builds and runs every test: a Release build, then the unit tests once more under
# AddressSanitizer + UndefinedBehaviorSanitizer (separate build directory). Safe to re-run.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
jobs="$(nproc)"
"$root/scripts/deps.sh"
"$root/scripts/deps.sh" --also chromium  # only for the test of the HTML pages in a browser (tests/browser)

echo "== Release build and tests"
"$root/scripts/build.sh" "$root/build" -DCMAKE_BUILD_TYPE=Release -DATTEND_WERROR=ON

echo "== fresh-machine audit of the Release build"
# Every header, library and CMake package file the build used must come from a package a fresh
# Debian 12 machine ships or from scripts/deps.sh's list, so that a package installed by hand on
# this machine cannot hide a missing install step.
audit="$root/../shared/fresh-machine/audit"
if [ -x "$audit" ]; then
  # shellcheck disable=SC2046
  "$audit" "$root/build" $("$root/scripts/deps.sh" --list)
else
  echo "fresh-machine audit skipped: $audit not found (it ships beside the project's checkout, not with it)"
fi
ctest --test-dir "$root/build" --output-on-failure -j "$jobs" -E '^Python[.]'

echo "== Python package: pytest on the module built into build/python (python/tests)"
# The same suite is the ctest entry Python.Pytest; it runs here instead so that its counts show.
PYTHONPATH="$root/build/python" /usr/bin/python3 -m pytest -q -ra -p no:cacheprovider "$root/python/tests"

echo "== loader fuzz harness, smoke run (clang + libFuzzer; long runs: scripts/fuzz.sh SECONDS, docs/robustness.md)"
"$root/scripts/fuzz.sh" 5

echo "== AddressSanitizer + UndefinedBehaviorSanitizer build and unit tests"
# -O1 -g1 (line tables) compiles about twice as fast as -O2 -g and still gives symbolized
# reports; ATTEND_TEST_QUICK=1 shrinks the largest sweeps. The tests that drive the attend binary
# (E2E.*, BadInputCli.*) ran in the Release pass above; this pass builds only the test executables:
# one per area (tests/CMakeLists.txt), and the models conformance suite, which has its own.
"$root/scripts/build.sh" "$root/build-asan" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1" -DATTEND_SANITIZE=ON -- $(cd "$root/tests" && \
  ls unit gradcheck golden e2e | sed -n 's/^\([a-z]*\)_.*\.cc$/test_\1/p' | sort -u | tr '\n' ' ') \
  test_models_conformance
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ATTEND_TEST_QUICK=1 \
  ctest --test-dir "$root/build-asan" --output-on-failure -j "$jobs" -E '^(E2E|BadInputCli)[.]'
