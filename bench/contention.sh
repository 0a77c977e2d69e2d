#!/usr/bin/env bash
# Threads on a busy machine: the Multi30k Transformer's training speed (bench/multi30k_transformer.sh's
# model and batches) on 1 and 2 threads, on an idle machine and with a competing process that
# keeps one core busy, under each OpenMP wait policy given: training steps per second between
# step WARMUP and step STEPS, from the progress lines' arrival times (every run trains on the same
# batches, so steps/s compare as tokens/s do).
#
#   bench/contention.sh [--steps 30] [--warmup 8] [--policies "default passive spin10k"]
# Policies: default (libgomp's: spin about 300k iterations, then sleep), passive
# (OMP_WAIT_POLICY=passive: sleep at once), spinN (GOMP_SPINCOUNT=N), active (spin forever),
# and attend (no variable set: whatever attend itself sets; the same as default until it sets one).
# Results: runs/contention/results.md (the table is printed too).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/multi30k_setup.sh"
run="${ATTEND_RUN_DIR:-$root/runs/contention}"
steps=30 warmup=8 policies="default passive spin10k spin100k"
while [ $# -gt 0 ]; do
  case "$1" in
    --steps) steps="$2"; shift 2 ;;
    --warmup) warmup="$2"; shift 2 ;;
    --policies) policies="$2"; shift 2 ;;
    *) echo "usage: bench/contention.sh [--steps N] [--warmup N] [--policies LIST]" >&2; exit 2 ;;
  esac
done
mkdir -p "$run"
[ -e "$run/spm.model" ] || "$attend" vocab --input "$data/train.de" "$data/train.en" --out "$run/spm" \
  --model-type bpe --vocab-size 8000 --threads 2 > "$run/vocab.log" 2>&1

policy_env() {
  case "$1" in
    default | attend) echo "" ;;  # the same environment: attend's own choice, libgomp's before it had one
    passive) echo "OMP_WAIT_POLICY=passive" ;;
    active) echo "OMP_WAIT_POLICY=active" ;;
    spin*) n="${1#spin}"; n="${n/k/000}"; echo "GOMP_SPINCOUNT=$n" ;;
    *) echo "bench/contention.sh: unknown policy $1" >&2; exit 2 ;;
  esac
}

# One training run; prints its target tokens/s over steps warmup..steps.
train_rate() {
  local threads="$1" policy="$2" log="$run/train.$1.$2.$3.log"
  # shellcheck disable=SC2046
  env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT $(policy_env "$policy") ATTEND_NUM_THREADS="$threads" \
    "$attend" train --arch transformer --train-src "$data/train.de" --train-tgt "$data/train.en" \
    --spm "$run/spm.model" --d-model 256 --heads 4 --ffn 1024 --enc-layers 3 --dec-layers 3 --norm-first 1 \
    --dropout 0.2 --attention-dropout 0.1 --share-embeddings 1 --tie-output 1 --label-smoothing 0.1 \
    --schedule noam --warmup 800 --lr 1e-3 --beta2 0.98 --batch 128 --max-steps "$steps" --threads "$threads" \
    -o "$run/scratch.ckpt" 2>&1 |
    while IFS= read -r line; do printf '%s %s\n' "$(date +%s.%N)" "$line"; done > "$log"
  # Progress lines: "<arrival time> epoch E/N | batch B/M | step S | ...": steps per second from
  # the arrival times of the first line at step >= WARMUP and the last line.
  /usr/bin/python3 - "$log" "$warmup" <<'PY'
import re, sys
rows = []
for line in open(sys.argv[1]):
    m = re.match(r"(\S+) .*\| step (\d+) \|", line)
    if m:
        rows.append((float(m.group(1)), int(m.group(2))))
warm = int(sys.argv[2])
a = next((r for r in rows if r[1] >= warm), None)
b = rows[-1] if rows else None
if a is None or b is None or b[1] <= a[1]:
    print("nan")
else:
    print(f"{(b[1] - a[1]) / (b[0] - a[0]):.3f}")
PY
}

busy_pid=""
start_busy() { /usr/bin/python3 -c "while True: pass" & busy_pid=$!; }
stop_busy() { [ -n "$busy_pid" ] && kill "$busy_pid" 2>/dev/null; wait "$busy_pid" 2>/dev/null || true; busy_pid=""; }
trap stop_busy EXIT

{
  echo "| policy (steps/s) | 1 thread idle | 2 threads idle | 1 thread, a core busy | 2 threads, a core busy |"
  echo "|---|---|---|---|---|"
} > "$run/results.md"
cat "$run/results.md"
for policy in $policies; do
  one="$(train_rate 1 "$policy" idle)"
  two="$(train_rate 2 "$policy" idle)"
  start_busy
  one_b="$(train_rate 1 "$policy" busy)"
  two_b="$(train_rate 2 "$policy" busy)"
  stop_busy
  row="| $policy | $one | $two | $one_b | $two_b |"
  echo "$row" | tee -a "$run/results.md"
done
echo "CPU: $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1), $(nproc) cores; steps $warmup..$steps of batches of 128 sentences; steps/s from progress-line arrival times (same batches in every run)" | tee -a "$run/results.md"
