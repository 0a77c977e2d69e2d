#!/usr/bin/env bash
# Multi30k German -> English with the Transformer, as docs/models.md reports it, in one command:
# a joint SentencePiece BPE model (8,000 pieces) of both training sides, original casing; a
# 3+3-layer, d_model 256 Transformer (shared embeddings, tied output, label smoothing 0.1, Adam
# beta2 0.98, Noam warm-up) trained for at most MAX_TIME minutes (default 90) on THREADS threads
# (default 2), keeping the checkpoint of the best validation loss; then test_2016_flickr with beam 5
# and greedy search (beam search's length penalty chosen on the validation set): sacreBLEU-exact
# BLEU (cased, and lowercased as `sacrebleu -lc`) and chrF of the detokenized output, the learning
# curve (validation BLEU and loss against time) as a picture, and every layer's and head's
# attention for one test sentence.
# Outputs go to runs/multi30k_transformer/ (override with ATTEND_RUN_DIR); the data directory
# defaults to ../shared/data/multi30k/raw next to the repository (override with MULTI30K).
#
#   [MAX_TIME=90] [THREADS=2] bench/multi30k_transformer.sh [other `attend train` options]
#   STAGE=eval bench/multi30k_transformer.sh    # score and draw an existing run again
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/multi30k_setup.sh"
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
# Beam search's length penalty (GNMT alpha) is chosen on the validation set, never on the test set.
alpha=0.6 best=-1
for a in 0.6 1.0 1.5; do
  bleu="$("$attend" eval -m "$model" --src "$data/val.de" --ref "$data/val.en" --beam 5 --alpha "$a" \
    --threads "$threads" --json "$run/val.beam5.alpha$a.json" | sed -n 's/^BLEU[^=]*= \([0-9.]*\).*/\1/p')"
  echo "== val, beam 5, alpha $a: BLEU $bleu"
  if awk -v x="$bleu" -v y="$best" 'BEGIN { exit !(x > y) }'; then alpha=$a best=$bleu; fi
done
echo "== alpha $alpha (best validation BLEU $best)"
for beam in 5 1; do
  echo "== test_2016_flickr, beam $beam ($model)"
  "$attend" eval -m "$model" --src "$data/test_2016_flickr.de" --ref "$data/test_2016_flickr.en" \
    --beam "$beam" --alpha "$alpha" --threads "$threads" --json "$run/test.beam$beam.json"
  "$attend" eval -m "$model" --src "$data/test_2016_flickr.de" --ref "$data/test_2016_flickr.en" \
    --beam "$beam" --alpha "$alpha" --threads "$threads" --lowercase --json "$run/test.beam$beam.lc.json" |
    grep -E 'BLEU|chrF'
done
"$attend" translate -m "$model" --beam 5 --alpha "$alpha" --threads "$threads" -i "$data/test_2016_flickr.de" \
  -o "$run/test.hyp.en"

# The learning curve from the validation lines of the log ("SECONDS validation: loss L ... BLEU B").
{
  printf 'minutes of training\tvalidation BLEU\tvalidation loss\n'
  awk '$2 == "validation:" { printf "%.2f\t%s\t%s\n", $1 / 60, $10, $4 }' "$run/train.log"
} > "$run/curve.tsv"
trained="$(sed -n 's/.* \([0-9]*\) thread(s)$/\1/p' "$run/train.log" | head -1)"
"$attend" plot --curve "$run/curve.tsv" --label "transformer, $trained thread(s)" \
  --title "Transformer, Multi30k de-en: validation BLEU (greedy, 500 sentences) and loss (nats per token)" \
  -o "$run/learning_curve.png"

sentence="$(sed -n 2p "$data/test_2016_flickr.de")"
for kind in cross encoder decoder; do
  "$attend" show -m "$model" -s "$sentence" --beam 5 --alpha "$alpha" --attention "$kind" -o "$run/attention.$kind.png"
done
"$attend" show -m "$model" -s "$sentence" --beam 5 --alpha "$alpha" --attention all -o "$run/attention.html"
echo "translations: $run/test.hyp.en; curve: $run/learning_curve.png; attention: $run/attention.{cross,encoder,decoder}.png, $run/attention.html"
