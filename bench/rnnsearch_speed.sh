#!/usr/bin/env bash
# Training speed of rnnsearch (Bahdanau et al. 2015) on Multi30k de->en, attend against the same
# model in PyTorch 1.13 (python3-torch), in one command: installs what is missing (attend's build
# dependencies, python3-torch, libjemalloc2), builds build/attend, unpacks OpenBLAS into
# build/openblas (bench/torch_peer.sh), then bench/rnnsearch_torch.py runs `attend train` and the
# PyTorch model on the same batches with the same sizes and thread count and prints a table of
# target tokens/s and the ratio attend/PyTorch. Both rates are over the same steps after a
# warm-up; see the header of bench/rnnsearch_torch.py for how each is measured and what differs.
#
#   bench/rnnsearch_speed.sh [--threads 1[,2]] [--steps 200] [--warmup 20] [--quick]
#                            [--embed 256] [--hidden 256] [--attention-dim H] [--readout H]
#                            [--dropout 0.3] [--batch 64] [--shipped] [--data DIR]
# (--shipped also runs PyTorch as shipped, on Debian's reference BLAS: slow.)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/bench/torch_peer.sh"
torch_peer_install
"$root/scripts/build.sh" "$root/build" -DCMAKE_BUILD_TYPE=Release -- attend_cli
blas="$(torch_peer_openblas "$root/build")"
exec /usr/bin/python3 "$root/bench/rnnsearch_torch.py" --attend "$root/build/attend" --blas-dir "$blas" "$@"
