#!/usr/bin/env bash
# Held-out exact match of the dates model per format family (docs/models.md, "dates"). Trains the
# main job's model (the same command as scripts/main.sh) or takes a checkpoint trained with
# `attend train --task dates`; then, for each family, `attend gen dates --family F` writes the N
# pairs that follow the model's training and validation pairs in its seeded stream (pair i keeps
# its date in every family, so these are the held-out dates of `attend eval --task-test`, each
# written in family F), `attend eval --tsv` scores them, and one table comes out. Last, the inputs
# of issue 10 go through `attend translate`.
#
#   bench/dates_formats.sh [--model CKPT] [--test N] [--beam B]
#
# Files go to runs/dates_formats/ (override with ATTEND_RUN_DIR). ATTEND_BIN=path/to/attend uses
# that binary and skips the dependency check and the build. About 1-2 minutes with training on 1
# thread, 15 s without.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
model="" test=1000 beam=5
while [ $# -gt 0 ]; do
  case "$1" in
    --model) model="$2"; shift 2 ;;
    --test) test="$2"; shift 2 ;;
    --beam) beam="$2"; shift 2 ;;
    *) echo "dates_formats: unknown argument '$1' (known: --model CKPT, --test N, --beam B)" >&2; exit 2 ;;
  esac
done
if [ -n "${ATTEND_BIN:-}" ]; then
  attend="$ATTEND_BIN"
else
  "$root/scripts/deps.sh"
  "$root/scripts/build.sh" "$root/build" -DCMAKE_BUILD_TYPE=Release -- attend_cli
  attend="$root/build/attend"
fi
run="${ATTEND_RUN_DIR:-$root/runs/dates_formats}"
mkdir -p "$run"

if [ -z "$model" ]; then
  model="$run/model.ckpt"
  # Keep in step with scripts/main.sh.
  train=(train --task dates --train-size 20000 --valid-size 500 --epochs 3 --arch rnnsearch --embed 64 --hidden 128
         --seed 1 --show 0 --out "$model")
  echo "== attend ${train[*]}"
  start=$SECONDS
  "$attend" "${train[@]}" 2> "$run/train.log"
  echo "   trained in $((SECONDS - start)) s: $(grep '^epoch .* done' "$run/train.log" | tail -1 | cut -c1-110)"
fi

# The task stream of the checkpoint: its safetensors header holds the metadata as JSON strings.
meta() {
  head -c 1000000 "$model" | grep -ao "\"extra\\.$1\":\"[^\"]*\"" | head -1 | sed 's/.*:"\(.*\)"/\1/'
}
[ "$(meta task)" = dates ] || { echo "dates_formats: $model was not trained with attend train --task dates" >&2; exit 2; }
offset="$(meta task_offset)" seed="$(meta task_seed)"
echo "== $model: task seed $seed, held-out pairs $offset..$((offset + test - 1)), beam $beam"

"$attend" eval -m "$model" --task-test "$test" --beam "$beam" > "$run/mix.txt" 2> "$run/mix.log"
score() { sed -n 's/^exact match  *\([0-9.]*\)%.*/\1/p' "$1"; }
table="$run/table.md"
{
  echo "| family | example (first held-out pair) | held-out exact match |"
  echo "|---|---|---|"
  for family in iso us_numeric day_first_numeric month_name_first day_first_name spelled_out with_weekday upper_case \
                mixed_case; do
    dir="$run/$family"
    mkdir -p "$dir"
    "$attend" gen dates --family "$family" --seed "$seed" --train "$offset" --valid 0 --test "$test" --format tsv \
      -o "$dir" 2> /dev/null
    "$attend" eval -m "$model" --tsv "$dir/test.tsv" --beam "$beam" --json "$dir/eval.json" > "$dir/eval.txt" \
      2> "$dir/eval.log"
    pct="$(score "$dir/eval.txt")"
    right="$(awk -v p="$pct" -v n="$test" 'BEGIN { printf "%d", p * n / 100 + 0.5 }')"
    printf '| `%s` | "%s" -> %s | %s%% (%s/%s) |\n' "$family" "$(head -1 "$dir/test.tsv" | cut -f1)" \
      "$(head -1 "$dir/test.tsv" | cut -f2)" "$pct" "$right" "$test"
  done
  pct="$(score "$run/mix.txt")"
  printf '| all nine mixed (`attend eval --task-test %s`) | | **%s%%** |\n' "$test" "$pct"
} > "$table"
cat "$table"

echo
echo "== the inputs of issue 10 (attend translate --beam $beam)"
inputs=("1987-11-28" "28/11/1987" "NOVEMBER 28, 1987" "march third 2015" "Nov. 28, 1987" "Tue., Mar. 3, 2015"
        "the first of may 2015" "twenty-first of June, 1999" "Saturday, the 29th of February 2020" "3/4/2015")
expect=("1987-11-28" "1987-11-28" "1987-11-28" "2015-03-03" "1987-11-28" "2015-03-03" "2015-05-01" "1999-06-21"
        "2020-02-29" "2015-03-04")
mapfile -t got < <(printf '%s\n' "${inputs[@]}" | "$attend" translate -m "$model" --beam "$beam" 2> /dev/null)
wrong=0
for i in "${!inputs[@]}"; do
  mark=ok
  [ "${got[$i]:-}" = "${expect[$i]}" ] || { mark="WRONG (want ${expect[$i]})"; wrong=$((wrong + 1)); }
  printf '  %-38s -> %-12s %s\n' "${inputs[$i]}" "${got[$i]:-}" "$mark"
done
echo "$wrong of ${#inputs[@]} wrong; table in $table"
