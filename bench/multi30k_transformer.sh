#!/usr/bin/env bash
# Multi30k German -> English with the Transformer, as docs/models.md reports it, in one command:
# a joint SentencePiece BPE model (8,000 pieces) of both training sides, original casing; a
# 3+3-layer, d_model 256 Transformer (shared embeddings, tied output, label smoothing 0.1, Adam
# beta2 0.98, Noam warm-up) trained for at most MAX_TIME minutes (default 90) on THREADS threads
# (default 2), keeping the checkpoint of the best validation loss; then test_2016_flickr with beam 5
# and greedy search: sacreBLEU-exact BLEU (cased, and lowercased as `sacrebleu -lc`) and chrF of
# the detokenized output, the learning curve (validation BLEU and loss against time) as a picture,
# and every layer's and head's attention for one test sentence.
# Outputs go to runs/multi30k_transformer/ (override with ATTEND_RUN_DIR); the data directory
# defaults to ../shared/data/multi30k/raw next to the repository (override with MULTI30K).
#
#   [MAX_TIME=90] [THREADS=2] bench/multi30k_transformer.sh [other `attend train` options]
#   STAGE=eval bench/multi30k_transformer.sh    # score and draw an existing run again
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
data="${MULTI30K:-$root/../shared/data/multi30k/raw}"
for f in train.de train.en val.de val.en test_2016_flickr.de test_2016_flickr.en; do
  [ -r "$data/$f" ] || { echo "multi30k: $data/$f is missing (set MULTI30K to the raw data directory)" >&2; exit 2; }
done
"$root/scripts/deps.sh"
"$root/scripts/build.sh" "$root/build" -DCMAKE_BUILD_TYPE=Release -- attend_cli
attend="$root/build/attend"
run="${ATTEND_RUN_DIR:-$root/runs/multi30k_transformer}"
threads="${THREADS:-2}"
mkdir -p "$run"

if [ "${STAGE:-all}" != eval ]; then
  "$attend" vocab --input "$data/train.de" "$data/train.en" --out "$run/spm" --model-type bpe \
    --vocab-size 8000 --threads "$threads"
  rm -f "$run/transformer.best.ckpt"  # written at the first validation; never a previous run's
  # Each line of the log is prefixed with the seconds since training started, for the curve.
  start=$SECONDS
  "$attend" train --arch transformer --train-src "$data/train.de" --train-tgt "$data/train.en" \
    --valid-src "$data/val.de" --valid-tgt "$data/val.en" --spm "$run/spm.model" \
    --d-model 256 --heads 4 --ffn 1024 --enc-layers 3 --dec-layers 3 --norm-first 1 \
    --dropout 0.2 --attention-dropout 0.1 --share-embeddings 1 --tie-output 1 \
    --label-smoothing 0.1 --schedule noam --warmup 800 --lr 1e-3 --beta2 0.98 --batch 128 \
    --epochs 100 --max-time "${MAX_TIME:-90}" --valid-decode 500 --threads "$threads" \
    -o "$run/transformer.ckpt" --best "$run/transformer.best.ckpt" "$@" 2>&1 |
    while IFS= read -r line; do printf '%6d %s\n' $((SECONDS - start)) "$line"; done | tee "$run/train.log"
fi

model="$run/transformer.best.ckpt"
[ -e "$model" ] || model="$run/transformer.ckpt"  # stopped before the first validation
for beam in 5 1; do
  echo "== test_2016_flickr, beam $beam ($model)"
  "$attend" eval -m "$model" --src "$data/test_2016_flickr.de" --ref "$data/test_2016_flickr.en" \
    --beam "$beam" --threads "$threads" --json "$run/test.beam$beam.json"
  "$attend" eval -m "$model" --src "$data/test_2016_flickr.de" --ref "$data/test_2016_flickr.en" \
    --beam "$beam" --threads "$threads" --lowercase --json "$run/test.beam$beam.lc.json" | grep -E 'BLEU|chrF'
done
"$attend" translate -m "$model" --beam 5 --threads "$threads" -i "$data/test_2016_flickr.de" -o "$run/test.hyp.en"

# The learning curve from the validation lines of the log ("SECONDS validation: loss L ... BLEU B").
{
  printf 'minutes of training\tvalidation BLEU (greedy, 500 sentences)\tvalidation loss (nats per token)\n'
  awk '$2 == "validation:" { printf "%.2f\t%s\t%s\n", $1 / 60, $10, $4 }' "$run/train.log"
} > "$run/curve.tsv"
"$attend" plot --curve "$run/curve.tsv" --label "transformer, $threads thread(s)" \
  --title "Transformer on Multi30k de-en: validation during training" -o "$run/learning_curve.png"

sentence="$(sed -n 2p "$data/test_2016_flickr.de")"
for kind in cross encoder decoder; do
  "$attend" show -m "$model" -s "$sentence" --beam 5 --attention "$kind" -o "$run/attention.$kind.png"
done
"$attend" show -m "$model" -s "$sentence" --beam 5 --attention all -o "$run/attention.html"
echo "translations: $run/test.hyp.en; curve: $run/learning_curve.png; attention: $run/attention.{cross,encoder,decoder}.png, $run/attention.html"
