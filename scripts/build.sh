#!/usr/bin/env bash
# Configures and builds attend with CMake + Ninja. Usage: scripts/build.sh BUILD_DIR [cmake args...] [-- targets...]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="$1"; shift
cmake_args=(); targets=()
while [ $# -gt 0 ]; do
  if [ "$1" = "--" ]; then shift; targets=("$@"); break; fi
  cmake_args+=("$1"); shift
done
cmake -S "$root" -B "$dir" -G Ninja "${cmake_args[@]}" >/dev/null
cmake --build "$dir" -- "${targets[@]}"
