#!/usr/bin/env bash
# One command for the side-by-side benchmark: builds the fused-attention benchmark, makes sure
# PyTorch (python3-torch) and jemalloc are installed, unpacks OpenBLAS from its Debian package
# into build/openblas (not installed system-wide: Debian's default libblas.so.3 is the reference
# BLAS, at which PyTorch's GEMMs crawl), and runs bench/compare_torch.py against PyTorch at its
# best and as shipped, and PyTorch 2.x (build/peer-venv, from PyPI) for its own
# scaled_dot_product_attention in float32 and bfloat16. Extra arguments go to compare_torch.py
# (e.g. --quick, --threads 1).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/bench/torch_peer.sh"
torch_peer_install
"$root/scripts/build.sh" "$root/build" -DCMAKE_BUILD_TYPE=Release -- flash_attention_bench
blas="$(torch_peer_openblas "$root/build")"
torch2="$(torch_peer_venv "$root/build")"  # PyTorch 2.x for its own scaled_dot_product_attention
exec /usr/bin/python3 "$root/bench/compare_torch.py" --bench "$root/build/flash_attention_bench" --blas-dir "$blas" \
  --torch2 "$torch2" "$@"
