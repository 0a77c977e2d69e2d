#!/usr/bin/env bash
# The normalizer study of docs/attention.md in one command: number words -> digits, read as
# characters ("nine hundred seven thousand twelve" -> "907012"). Each digit is written by one word
# (or none: a zero), so the right alignment of a target character is a whole word of the source, a
# contiguous segment of characters: the setting of Kim et al.'s (2017) character-to-word
# segmentation attention. rnnsearch (additive attention) is trained with each normalizer for the
# same minutes, on the same data and seed; each is scored on 2,000 held-out pairs (exact match,
# and the source positions per output character with a weight > 0 and >= 0.01) and draws its
# attention for one test sentence. About 4 x ATTEND_STUDY_MINUTES minutes on 1 thread; output in
# runs/normalizers/ (override with ATTEND_RUN_DIR).
#
#   bench/normalizer_study.sh [softmax sparsemax entmax15 crf-segment entmax:1.25 ...]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -z "${ATTEND_BIN:-}" ]; then  # ATTEND_BIN: a binary built elsewhere (then nothing is built)
  "$root/scripts/deps.sh"
  "$root/scripts/build.sh" "$root/build" -DCMAKE_BUILD_TYPE=Release -- attend_cli
fi
attend="${ATTEND_BIN:-$root/build/attend}"
run="${ATTEND_RUN_DIR:-$root/runs/normalizers}"
minutes="${ATTEND_STUDY_MINUTES:-4}"
mkdir -p "$run/data"
# Numbers of 1-9 digits, 3,000 training pairs: few enough that how the attention is normalized shows.
"$attend" gen number-words -o "$run/data" --train 3000 --valid 300 --test 2000 --min-length 1 --max-length 9 \
  --seed 7 > /dev/null
for s in train valid test; do  # words are the source, digits the target
  cp "$run/data/$s.tgt" "$run/data/$s.words"
  cp "$run/data/$s.src" "$run/data/$s.digits"
done
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(softmax sparsemax entmax15 crf-segment)
example="$(sed -n 7p "$run/data/test.words")"
for n in "${names[@]}"; do
  tag="${n//:/-}"
  echo "== $n: rnnsearch, $minutes min"
  "$attend" train --arch rnnsearch --normalizer "$n" --source-tokens char --target-tokens char \
    --train-src "$run/data/train.words" --train-tgt "$run/data/train.digits" \
    --valid-src "$run/data/valid.words" --valid-tgt "$run/data/valid.digits" \
    --embed 32 --hidden 64 --attention-dim 64 --readout 64 --batch 32 --epochs 1000 --max-time "$minutes" \
    --threads 1 --seed 1 --show 0 -o "$run/$tag.ckpt" --best "$run/$tag.best.ckpt" 2> "$run/$tag.train.log"
  echo "   $(grep '^epoch .* done' "$run/$tag.train.log" | tail -1 | cut -c1-100)"
  "$attend" eval -m "$run/$tag.best.ckpt" --src "$run/data/test.words" --ref "$run/data/test.digits" --beam 1 \
    --json "$run/$tag.eval.json" | tee "$run/$tag.eval.txt" | grep -E "exact match  |attention"
  for ext in png svg; do
    "$attend" show -m "$run/$tag.best.ckpt" -s "$example" --beam 1 --title "rnnsearch, $n" \
      -o "$run/$tag.$ext" > /dev/null
  done
done
echo
{ echo "| normalizer | exact match | positions with weight > 0 | with weight >= 0.01 |"
  echo "|---|---|---|---|"
  for n in "${names[@]}"; do
    tag="${n//:/-}"
    /usr/bin/python3 - "$run/$tag.eval.json" "$n" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
a = j.get("attention", {})
print(f"| {sys.argv[2]} | {100 * j['exact_match']:.2f}% | {a.get('nonzero_per_token', float('nan')):.2f} | "
      f"{a.get('at_least_1pct_per_token', float('nan')):.2f} |")
PY
  done
} | tee "$run/table.md"
