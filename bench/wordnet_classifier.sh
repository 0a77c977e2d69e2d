#!/usr/bin/env bash
# The WordNet supersense study of docs/models.md in one command: `attend gen wordnet` (WordNet 3.0
# glosses labelled with their lexicographer file, 41 classes, split by synset 80/10/10), the TF-IDF +
# logistic-regression baseline (bench/wordnet_baseline.py, Debian's scikit-learn), then the
# attention-pooling classifier trained for ATTEND_WORDNET_MINUTES (default 25) on 1 thread and
# scored on the same test split (accuracy, macro-F1), with its pooling drawn for one test gloss.
# Output in runs/wordnet/ (override with ATTEND_RUN_DIR).
#
#   bench/wordnet_classifier.sh [extra attend train options, e.g. --encoder transformer]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/deps.sh" --also wordnet-base python3-sklearn
if [ -z "${ATTEND_BIN:-}" ]; then  # ATTEND_BIN: a binary built elsewhere (then nothing is built)
  "$root/scripts/build.sh" "$root/build" -DCMAKE_BUILD_TYPE=Release -- attend_cli
fi
attend="${ATTEND_BIN:-$root/build/attend}"
run="${ATTEND_RUN_DIR:-$root/runs/wordnet}"
minutes="${ATTEND_WORDNET_MINUTES:-25}"
mkdir -p "$run"
"$attend" gen wordnet -o "$run" --seed 1
echo "== baseline: TF-IDF (1-2 grams) + logistic regression, C chosen on valid"
/usr/bin/python3 "$root/bench/wordnet_baseline.py" "$run" --json "$run/baseline.json" | tee "$run/baseline.txt"
echo "== classifier: BiGRU + self-attentive pooling (4 hops), $minutes min on 1 thread"
"$attend" train --arch classifier --train-tsv "$run/train.tsv" --valid-tsv "$run/valid.tsv" --source-tokens word \
  --lowercase --min-freq 2 --embed 128 --hidden 128 --hops 4 --attention-dim 64 --mlp 256 --dropout 0.3 \
  --batch 64 --epochs 100 --max-time "$minutes" --threads 1 --seed 1 "$@" \
  -o "$run/classifier.ckpt" 2> "$run/classifier.train.log"
grep '^epoch .* done' "$run/classifier.train.log" | tail -1 | cut -c1-160
# The last weights, not --best's: the validation loss turns up (epoch 14) while the accuracy still
# climbs for ten epochs (docs/models.md).
"$attend" eval -m "$run/classifier.ckpt" --tsv "$run/test.tsv" --json "$run/classifier.eval.json" |
  tee "$run/classifier.eval.txt" | head -3
example="$(sed -n 3p "$run/test.tsv" | cut -f1)"
for ext in png html; do
  "$attend" show -m "$run/classifier.ckpt" -s "$example" -o "$run/pooling.$ext" > /dev/null
done
/usr/bin/python3 - "$run/baseline.json" "$run/classifier.eval.json" <<'PY'
import json, sys
b, c = (json.load(open(p)) for p in sys.argv[1:])
print(f"test accuracy: classifier {c['accuracy']:.2f}% against the baseline's {100 * b['accuracy']:.2f}% "
      f"({c['accuracy'] - 100 * b['accuracy']:+.2f} points); macro-F1 {c['macro_f1']:.2f}% against "
      f"{100 * b['macro_f1']:.2f}%")
PY
