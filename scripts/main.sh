#!/usr/bin/env bash
# The main job: installs what is missing, builds (Release), trains rnnsearch (Bahdanau attention)
# on the embedded `dates` task from scratch, evaluates it on held-out dates, translates a few and
# draws the alignment. Everything goes to runs/dates/ (override with ATTEND_RUN_DIR).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/deps.sh"
"$root/scripts/build.sh" "$root/build" -DCMAKE_BUILD_TYPE=Release -- attend_cli
attend="$root/build/attend"
run="${ATTEND_RUN_DIR:-$root/runs/dates}"
mkdir -p "$run"

echo "== training rnnsearch on dates (20000 pairs, 3 epochs)"
"$attend" train --task dates --train-size 20000 --valid-size 500 --epochs 3 --arch rnnsearch \
  --embed 64 --hidden 128 --seed 1 --out "$run/model.ckpt"

echo "== held-out evaluation (1000 dates the model never saw)"
"$attend" eval --model "$run/model.ckpt" --task-test 1000 --beam 5

echo "== translations"
printf '%s\n' "tuesday 3 march 2015" "3/3/15" "March 3rd, 2015" "the 29th of february 2024" "1 jan 1999" \
  "1987-11-28" "28/11/1987" "NOVEMBER 28, 1987" "march third 2015" "Tue., Mar. 3, 2015" |
  "$attend" translate --model "$run/model.ckpt" --beam 5

echo "== alignment of 'tuesday 3 march 2015'"
"$attend" show --model "$run/model.ckpt" --source "tuesday 3 march 2015" --out "$run/alignment.png"
"$attend" show --model "$run/model.ckpt" --source "tuesday 3 march 2015" --out "$run/alignment.html" >/dev/null
echo "pictures: $run/alignment.png and $run/alignment.html"
