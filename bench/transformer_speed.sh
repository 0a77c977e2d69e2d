#!/usr/bin/env bash
# TRAINING speed of attend's Transformer against the same model in PyTorch 2.x (PyPI, in
# build/peer-venv) and PyTorch 1.13 (Debian python3-torch, on OpenBLAS + jemalloc as
# /work/shared/PEERS.md says), in one command: target tokens/s on 1 and 2 threads.
#
# The model and recipe are bench/multi30k_transformer.sh's: d_model 256, 4 heads, ffn 1024, 3+3
# layers, pre-norm, shared embeddings + tied output, joint SentencePiece BPE 8000 (trained here by
# `attend vocab` into the run directory, once), dropout 0.2, attention dropout 0.1, label smoothing
# 0.1, Adam beta2 0.98, Noam warm-up 800, clipping 5, batches of 128 sentences.
# How it is fair (details in bench/transformer_torch.py's header):
#   - the same data: Multi30k train.de/train.en encoded by the SAME SentencePiece model (`attend
#     vocab --encode --ids`, so PyTorch needs no sentencepiece), the same pairs kept;
#   - the same batches in the same order: attend's batch plan of epoch 0 (src/data/batching.cc:
#     seeded shuffle, stable sort by length, 128 sentences, batch order shuffled) rebuilt in Python
#     and checked against attend's own counts;
#   - the same model with the same parameter count (nn.TransformerEncoder/DecoderLayer,
#     batch_first=True, norm_first=True) and the same training step (label-smoothed cross-entropy,
#     clipping, Adam, schedule);
#   - the same thread count (attend --threads T; torch.set_num_threads(T) with OMP/OpenBLAS
#     threads = T), a warm-up, then the same steps timed on every side (attend: by the arrival of
#     its progress lines; PyTorch: per-step clock), repeats interleaved
#     (attend, torch2, torch1.13, then the next thread count), medians reported;
#   - PyTorch 2.x's attention kernel is recorded and printed (it runs its fused flash kernel only
#     without attention dropout: add --attention-dropout 0 to measure both sides that way).
# Also records the CPU (/proc/cpuinfo) and attend's SGEMM ceiling (bench/flash_attention_bench).
# Results: runs/transformer_speed/results.{md,json} (+ speed.log); the Markdown table is printed.
#
#   bench/transformer_speed.sh [--threads 1,2] [--warmup 10] [--steps 40] [--repeats 3] [--quick]
#       [--attention-dropout 0.1] [--no-torch113] [other model options of transformer_torch.py]
# Env: MULTI30K (data directory, default ../shared/data/multi30k/raw), ATTEND_RUN_DIR (results),
#      ATTEND_NO_BUILD=1 (use build/attend as it is).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/bench/torch_peer.sh"
data="${MULTI30K:-$root/../shared/data/multi30k/raw}"
run="${ATTEND_RUN_DIR:-$root/runs/transformer_speed}"
for f in train.de train.en; do
  [ -r "$data/$f" ] || { echo "transformer_speed: $data/$f is missing (set MULTI30K)" >&2; exit 2; }
done
torch_peer_install
[ -n "${ATTEND_NO_BUILD:-}" ] ||
  "$root/scripts/build.sh" "$root/build" -DCMAKE_BUILD_TYPE=Release -- attend_cli flash_attention_bench
blas="$(torch_peer_openblas "$root/build")"
py2="$(torch_peer_venv "$root/build")"
mkdir -p "$run"
if [ ! -e "$run/spm.model" ]; then
  "$root/build/attend" vocab --input "$data/train.de" "$data/train.en" --out "$run/spm" --model-type bpe \
    --vocab-size 8000
fi
/usr/bin/python3 "$root/bench/transformer_torch.py" train-speed --attend "$root/build/attend" --python2 "$py2" \
  --blas-dir "$blas" --sgemm-bench "$root/build/flash_attention_bench" --spm "$run/spm.model" --data "$data" \
  --out-dir "$run" --command "bench/transformer_speed.sh $*" "$@" 2>&1 | tee "$run/speed.log"
