#!/usr/bin/env bash
# Installs the Debian 12 packages attend builds with, when any is missing. Safe to re-run.
# Called by the README's commands; needs root or sudo only when something is missing.
#   scripts/deps.sh                 install what is missing
#   scripts/deps.sh --list          print the packages, one per line (the fresh-machine audit reads this)
#   scripts/deps.sh --also PKG...   install what is missing of these too (benchmarks and golden
#                                   generators name their own extra packages this way)
# This list is the one place that names them: anything the build, the tests or the CLI use must
# come from a package here or from one a fresh Debian 12 machine already has.
set -euo pipefail

ATTEND_PACKAGES=(g++ cmake ninja-build pkgconf python3 libdnnl-dev nlohmann-json3-dev libcli11-dev libgtest-dev
                 libgmock-dev libbenchmark-dev libpng-dev libsentencepiece-dev zlib1g-dev
                 clang-14 libclang-rt-14-dev   # these two: the loader fuzz harness (scripts/fuzz.sh)
                 pybind11-dev python3-dev python3-numpy python3-pytest)  # the Python package (python/)

wanted=("${ATTEND_PACKAGES[@]}")
case "${1:-}" in
  --list) printf '%s\n' "${ATTEND_PACKAGES[@]}"; exit 0 ;;
  --also) shift; wanted+=("$@") ;;
  "") ;;
  *) echo "usage: scripts/deps.sh [--list | --also PKG...]" >&2; exit 2 ;;
esac

missing=()
for p in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "attend: installing Debian packages: ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "attend: need root or sudo to install ${missing[*]}" >&2; exit 1; }
    SUDO="sudo"
  fi
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
