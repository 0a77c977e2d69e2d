#!/usr/bin/env bash
# The reverse length study of docs/models.md in one command: trains the no-attention baseline
# (seq2seq), rnnsearch (additive attention) and luong (general score, 1 and 2 layers) on `reverse`
# with lengths 5-60, scores the checkpoint of each one's best validation loss on 500 held-out
# sequences by source-length bucket (attend eval --json) and draws the comparison (attend plot).
# About 30 minutes on 1 thread; models, logs, reports and pictures go to runs/reverse/ (override
# with ATTEND_RUN_DIR).
#
#   bench/reverse_study.sh [seq2seq rnnsearch luong luong2 ...]   (default: all four)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/deps.sh"
"$root/scripts/build.sh" "$root/build" -DCMAKE_BUILD_TYPE=Release -- attend_cli
attend="$root/build/attend"
run="${ATTEND_RUN_DIR:-$root/runs/reverse}"
mkdir -p "$run"
data=(--task reverse --task-min-length 5 --task-max-length 60 --task-vocab 10 --train-size 20000
      --valid-size 300 --hidden 128 --show 0)
declare -A model=(
  [seq2seq]="--arch seq2seq --epochs 6"
  [rnnsearch]="--arch rnnsearch --epochs 6"
  [luong]="--arch luong --score general --epochs 15"
  [luong2]="--arch luong --score general --layers 2 --epochs 12"
)
declare -A label=(
  [seq2seq]="seq2seq (no attention)"
  [rnnsearch]="rnnsearch (additive)"
  [luong]="luong (general, 1 layer)"
  [luong2]="luong (general, 2 layers)"
)
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(seq2seq rnnsearch luong luong2)
for m in "${names[@]}"; do
  [ -n "${model[$m]:-}" ] || { echo "reverse_study: unknown model '$m' (known: ${!model[*]})" >&2; exit 2; }
  echo "== $m: attend train ${data[*]} ${model[$m]}"
  start=$SECONDS
  # shellcheck disable=SC2086
  "$attend" train "${data[@]}" ${model[$m]} -o "$run/$m.ckpt" --best "$run/$m.best.ckpt" 2> "$run/$m.train.log"
  echo "   trained in $((SECONDS - start)) s: $(grep '^epoch .* done' "$run/$m.train.log" | tail -1 | cut -c1-110)"
  "$attend" eval -m "$run/$m.best.ckpt" --task-test 500 --beam 1 --bucket-width 10 --json "$run/$m.eval.json" |
    tee "$run/$m.eval.txt"
done
plot=()
for m in rnnsearch luong luong2 seq2seq; do
  [ -e "$run/$m.eval.json" ] && plot+=(--eval "$run/$m.eval.json" --label "${label[$m]}")
done
for ext in png svg; do
  "$attend" plot "${plot[@]}" --title "reverse, lengths 5-60: exact match by source length (500 held-out)" \
    -o "$run/reverse_by_length.$ext"
done
