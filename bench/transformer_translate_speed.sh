#!/usr/bin/env bash
# TRANSLATION speed of a trained attend Transformer against the SAME WEIGHTS in PyTorch 2.x (PyPI,
# in build/peer-venv), in one command: sentences/s of test_2016_flickr.de (1,000 sentences) with
# beam 5 and greedy search, on 1 and 2 threads, and each side's peak memory (max RSS).
#
# The PyTorch side (bench/transformer_torch.py) reads attend's checkpoint (safetensors; PyTorch
# parameter names) into nn.TransformerEncoder/Decoder layers and decodes incrementally with its own
# key/value cache: self-attention keys/values cached per layer and grown each step, cross-attention
# keys/values projected once per source, F.scaled_dot_product_attention.
# How it is fair:
#   - the same sentences (the source encoded by the checkpoint's own SentencePiece model) in the
#     same batches: attend translate sorts the lines by source length and cuts batches of --batch
#     (64) sentences; PyTorch does the same;
#   - the same search: src/decode/search.cc's greedy and beam search (2k candidates, EOS only from
#     the top k, GNMT length penalty alpha 0.6, maximum length ceil(2 S) + 10, the same stopping
#     rule), finished sentences dropped from the batch as attend drops them;
#   - checked before timing: both sides' outputs are compared sentence by sentence (PyTorch's ids
#     decoded by the same SentencePiece model); fewer than --min-agreement (95) % identical greedy
#     outputs stops the run; the beam agreement is reported too;
#   - the same thread count (attend --threads T; torch.set_num_threads(T), OMP threads T, jemalloc);
#     whole processes are timed, interleaved, medians of --repeats (3), and each side's start-up
#     (the same command on one sentence: loading, imports) is subtracted; max RSS from wait4 of each
#     child. PyTorch's own timer around its search loop is printed too, and the attention kernel
#     its decoding steps use.
# Results: runs/transformer_translate_speed/results.{md,json} (+ translate.log, the outputs).
#
#   [CHECKPOINT=runs/multi30k_transformer/transformer.best.ckpt] bench/transformer_translate_speed.sh
#       [--threads 1,2] [--beams 5,1] [--repeats 3] [--batch 64] [--min-agreement 95]
# Env: MULTI30K (data directory), ATTEND_RUN_DIR (results), ATTEND_NO_BUILD=1 (use build/attend).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/bench/torch_peer.sh"
data="${MULTI30K:-$root/../shared/data/multi30k/raw}"
run="${ATTEND_RUN_DIR:-$root/runs/transformer_translate_speed}"
checkpoint="${CHECKPOINT:-$root/runs/multi30k_transformer/transformer.best.ckpt}"
[ -r "$data/test_2016_flickr.de" ] ||
  { echo "transformer_translate_speed: $data/test_2016_flickr.de is missing (set MULTI30K)" >&2; exit 2; }
[ -r "$checkpoint" ] || { echo "transformer_translate_speed: no checkpoint $checkpoint (set CHECKPOINT)" >&2; exit 2; }
torch_peer_install
[ -n "${ATTEND_NO_BUILD:-}" ] || "$root/scripts/build.sh" "$root/build" -DCMAKE_BUILD_TYPE=Release -- attend_cli
py2="$(torch_peer_venv "$root/build")"
mkdir -p "$run"
/usr/bin/python3 "$root/bench/transformer_torch.py" translate-speed --attend "$root/build/attend" --python2 "$py2" \
  --checkpoint "$checkpoint" --input "$data/test_2016_flickr.de" --out-dir "$run" \
  --command "CHECKPOINT=$checkpoint bench/transformer_translate_speed.sh $*" "$@" 2>&1 | tee "$run/translate.log"
