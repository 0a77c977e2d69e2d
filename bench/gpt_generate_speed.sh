#!/usr/bin/env bash
# GPT GENERATION with a key/value cache: attend generate against the same weights in PyTorch 2.x
# (its own cache, bench/gpt_torch.py) and in CTranslate2 (float32; int8 reported separately;
# converted by bench/gpt_to_ctranslate2.py), in one command: generated tokens/s at batch 1 and 16,
# greedy and sampled (temperature 0.8, top-p 0.9, seed 1), on 1 and 2 threads.
#
# The prompts: the first 8 words of each test chapter of the KJV corpus (bench/kjv_corpus.sh: 60
# prompts), at most 100 new tokens each (</s> ends a generation early), batches of B prompts in
# file order on every side. attend's plan (decode/search.cc): </s> + prompt as context, the shortest
# prompt fed at once, the rest of each prompt token by token, finished rows leave the batch; PyTorch
# follows the same plan; CTranslate2 does the same with include_prompt_in_result=False.
# Checked before timing (the largest thread count): greedy outputs identical to attend's, prompt by
# prompt (PyTorch's ids decoded by the same SentencePiece model: the same text; fewer than
# --min-agreement 90% stops the run), sampled ones too (PyTorch replicates attend's sampler and its
# Philox draws, so they agree; CTranslate2 has its own generator and is not expected to), and
# CTranslate2's greedy tokens against PyTorch's (reported).
# Timing: every side's own clock around its generation loop, the model loaded (attend generate's
# summary line on stderr; a Python process takes seconds to start); interleaved, medians of
# --repeats (3); whole-process times reported too. The same thread count everywhere (attend --threads
# T; torch.set_num_threads(T); CTranslate2 intra_threads T, inter_threads 1; OMP_NUM_THREADS=T,
# jemalloc for the Python peers). Tokens/s counts every generated token, </s> included: PyTorch's
# count for attend and PyTorch (the same texts), CTranslate2's own.
# Results: runs/gpt_generate_speed/results.{md,json}, generate.log, the outputs.
#
#   [CHECKPOINT=runs/gpt_speed/attend.ckpt] bench/gpt_generate_speed.sh [--quick] [--threads 1,2]
#       [--batches 1,16] [--modes greedy,sample] [--max-new 100] [--prompts N] [--repeats 3]
#       [--ct2 float32,int8] [--min-agreement 90]
#   --quick: 16 prompts, 32 new tokens, 1 repeat (~3 min).
# Env: CHECKPOINT (an attend GPT checkpoint; default: bench/gpt_speed.sh's wall-time model), KJV_DIR,
#      ATTEND_RUN_DIR, ATTEND_NO_BUILD=1.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/bench/torch_peer.sh"
kjv="${KJV_DIR:-$root/runs/kjv}"
run="${ATTEND_RUN_DIR:-$root/runs/gpt_generate_speed}"
checkpoint="${CHECKPOINT:-$root/runs/gpt_speed/attend.ckpt}"
[ -r "$checkpoint" ] || { echo "gpt_generate_speed: no checkpoint $checkpoint (run bench/gpt_speed.sh, or set CHECKPOINT)" >&2; exit 2; }
"$root/scripts/deps.sh" --also libjemalloc2 python3-venv
[ -n "${ATTEND_NO_BUILD:-}" ] || "$root/scripts/build.sh" "$root/build" -DCMAKE_BUILD_TYPE=Release -- attend_cli
KJV_DIR="$kjv" ATTEND_NO_BUILD=1 "$root/bench/kjv_corpus.sh"
py="$(torch_peer_venv_with "$root/build" ctranslate2)"
mkdir -p "$run"
"$py" "$root/bench/gpt_torch.py" generate-speed --attend "$root/build/attend" --python "$py" \
  --checkpoint "$checkpoint" --prompts-from "$kjv/test.txt" --out-dir "$run" \
  --command "CHECKPOINT=$checkpoint bench/gpt_generate_speed.sh $*" "$@" 2>&1 | tee "$run/generate.log"
