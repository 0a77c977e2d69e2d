#!/usr/bin/env bash
# Multi30k German -> English with rnnsearch, as docs/models.md reports it, in one command: trains
# for at most 60 minutes (--max-time) on 1 thread, keeps the checkpoint of the best validation
# loss, then scores test_2016_flickr (greedy and beam 5) and draws the alignment of a test
# sentence. Word vocabularies (count >= 2), both sides lowercased, so BLEU is case-insensitive
# (sacreBLEU 13a tokenization of the lowercased references), as in the common PyTorch tutorials.
# Outputs go to runs/multi30k/ (override with ATTEND_RUN_DIR); the data directory defaults to
# ../shared/data/multi30k/raw next to the repository (override with MULTI30K).
#
#   [MAX_TIME=60] bench/multi30k.sh [other `attend train` options, e.g. --seed 2]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/multi30k_setup.sh"
run="${ATTEND_RUN_DIR:-$root/runs/multi30k}"
mkdir -p "$run"
rm -f "$run/rnnsearch.best.ckpt"  # written at the first validation; never a previous run's

"$attend" train --train-src "$data/train.de" --train-tgt "$data/train.en" \
  --valid-src "$data/val.de" --valid-tgt "$data/val.en" --lowercase --min-freq 2 \
  --embed 256 --hidden 256 --attention-dim 256 --readout 256 --dropout 0.3 --batch 64 \
  --epochs 30 --max-time "${MAX_TIME:-60}" --valid-decode 1014 --threads 1 \
  -o "$run/rnnsearch.ckpt" --best "$run/rnnsearch.best.ckpt" "$@" 2>&1 | tee "$run/train.log"
model="$run/rnnsearch.best.ckpt"
[ -e "$model" ] || model="$run/rnnsearch.ckpt"  # stopped before the first validation
for beam in 1 5; do
  echo "== test_2016_flickr, beam $beam ($model)"
  "$attend" eval -m "$model" --src "$data/test_2016_flickr.de" \
    --ref "$data/test_2016_flickr.en" --beam "$beam" --bucket-width 10 --json "$run/test.beam$beam.json"
done
"$attend" translate -m "$model" --beam 5 -i "$data/test_2016_flickr.de" -o "$run/test.hyp.en"
sentence="$(sed -n 2p "$data/test_2016_flickr.de")"  # the picture of docs/models.md
for ext in png html; do
  "$attend" show -m "$model" -s "$sentence" --beam 5 -o "$run/alignment.$ext"
done
echo "translations: $run/test.hyp.en; alignment: $run/alignment.png"
