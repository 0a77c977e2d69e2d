#!/usr/bin/env bash
# VISION TRANSFORMER TRAINING: attend's vit against the same model in PyTorch 2.x (PyPI,
# build/peer-venv) on Fashion-MNIST (Debian's dataset-fashion-mnist), in one command:
#   1. check: attend trains 300 steps; PyTorch's model loaded with those weights classifies the
#      10,000 test images exactly as `attend eval --images` does (accuracies within 0.05%);
#   2. training images/s on 1 and 2 threads, 3 interleaved repeats, medians, ratio, and attend's
#      GFLOP/s against the SGEMM ceiling measured in the same run (bench/vit_torch.py says how).
# The model: d 96, 6 pre-norm layers, 4 heads, ffn 192, 4x4 patches (50 tokens), batch 128, Adam,
# shift-2 and flip augmentation (both sides).
#   bench/vit_speed.sh [--threads-list 1,2] [--repeats 3] [--steps 50] [--warmup-steps 15]
# Results: runs/vit_speed/results.{md,json}. Env: ATTEND_RUN_DIR, ATTEND_NO_BUILD=1.
# The 30-minute accuracy run is the README's `attend train --arch vit` command (docs/models.md).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/bench/torch_peer.sh"
run="${ATTEND_RUN_DIR:-$root/runs/vit_speed}"
"$root/scripts/deps.sh" --also libjemalloc2 python3-venv dataset-fashion-mnist
[ -n "${ATTEND_NO_BUILD:-}" ] ||
  "$root/scripts/build.sh" "$root/build" -DCMAKE_BUILD_TYPE=Release -- attend_cli flash_attention_bench
py="$(torch_peer_venv "$root/build")"
mkdir -p "$run"
"$py" "$root/bench/vit_torch.py" bench --attend "$root/build/attend" --python "$py" --out-dir "$run" \
  --sgemm-bench "$root/build/flash_attention_bench" --images /usr/share/datasets/fashion-mnist \
  --command "bench/vit_speed.sh $*" "$@" 2>&1 | tee "$run/speed.log"
