#!/usr/bin/env bash
# One command for the side-by-side benchmark: builds the fused-attention benchmark, makes sure
# PyTorch (python3-torch) and jemalloc are installed, unpacks OpenBLAS from its Debian package
# into build/openblas (not installed system-wide: Debian's default libblas.so.3 is the reference
# BLAS, at which PyTorch's GEMMs crawl), and runs bench/compare_torch.py against PyTorch at its
# best and as shipped. Extra arguments go to compare_torch.py (e.g. --quick, --threads 1).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/deps.sh"
need=()
for p in python3-torch libjemalloc2; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi
"$root/scripts/build.sh" "$root/build" -DCMAKE_BUILD_TYPE=Release -- flash_attention_bench
blas="$root/build/openblas/usr/lib/x86_64-linux-gnu/openblas-pthread"
if [ ! -e "$blas/libblas.so.3" ]; then
  tmp="$(mktemp -d)"
  (cd "$tmp" && apt-get download libopenblas0-pthread >/dev/null)
  dpkg -x "$tmp"/libopenblas0-pthread_*.deb "$root/build/openblas"
  rm -rf "$tmp"
fi
exec /usr/bin/python3 "$root/bench/compare_torch.py" --bench "$root/build/flash_attention_bench" --blas-dir "$blas" "$@"
