#!/usr/bin/env bash
# GPT TRAINING: attend against the same model in PyTorch 2.x (PyPI, build/peer-venv), in one command,
# on the King James Bible (bench/kjv_corpus.sh: one document per chapter, BPE 8000):
#   1. check (before any timing; the run stops if it fails):
#      (a) PyTorch's perplexity of attend's initial checkpoint = `attend eval --text valid.txt`
#          (relative nll difference < 1e-5): the parameter mapping, the stream and the windows;
#      (b) 6 steps without dropout from attend's initial weights on attend's batches, attend and
#          PyTorch: the weights after them agree (|attend - PyTorch| / |attend - initial| < 0.05;
#          seen: ~1e-5) - the window order, loss, clipping, schedule and Adam are the same; each
#          side's result is also scored by the other side's evaluation;
#   2. training tokens/s on 1 and 2 threads: the same batches from the same initial weights, the
#      rate over steps 16..65 (after 15 warm-up steps: PyTorch's first steps are slow), 3
#      interleaved repeats, medians, ratio;
#   3. the same wall time: each side trains --minutes (20) on the largest thread count from
#      attend's initial weights in attend's window order; validation perplexity of both final
#      models by PyTorch's evaluation and by attend's (`attend eval --text`, which reads PyTorch's
#      weights written back as an attend checkpoint). The cosine schedule's horizon is the same for
#      both: the steps the faster side's measured rate (part 2) covers in --minutes (or --horizon N),
#      and a step cap; neither side validates while training.
# The model and recipe (chosen for a 2-core CPU; nanoGPT's small-model settings): C 256, 4 heads,
# ffn 1024, 4 layers, context 256, batches of 16 windows (4096 tokens), dropout 0.1 (attention
# dropout 0: PyTorch keeps its fused flash kernel), Adam lr 1e-3, beta2 0.99, cosine with 200
# warm-up steps, gradient clipping 1.0, seed 1. About 5.3M parameters (2.1M of them the tied
# embedding). Override with gpt_torch.py's options (--d-model, --layers, --lr, ...).
# How it is fair: the same ids (encoded by `attend vocab` with the same SentencePiece model), the
# same windows and order (attend's Philox shuffle, rebuilt in Python and checked against attend's
# token counts), the same initial weights (attend's), the same step; the same thread count
# (attend --threads T; torch.set_num_threads(T), OMP_NUM_THREADS=T, jemalloc); warm-up excluded;
# interleaved repeats. What differs: dropout masks (each side's own generator), PyTorch's kernels
# (MKL GEMMs, its flash attention: the kernel it ran is printed) vs attend's. PyTorch runs eager
# (what nanoGPT does with compile=False); --torch-compile trains torch.compile(model) instead (it
# compiles during the warm-up steps; in the wall-time run the compilation counts against its time).
# The CPU (/proc/cpuinfo model name, family, model) is printed with the results, and both GEMM
# ceilings: attend's (bench/flash_attention_bench, built here) and PyTorch's (its SGEMM 2048^3).
# Results: runs/gpt_speed/results.{md,json}, speed.log, attend.ckpt and torch.ckpt (the wall-time
# models: bench/gpt_generate_speed.sh uses attend.ckpt).
#
#   bench/gpt_speed.sh [--quick] [--threads 1,2] [--minutes 20] [--repeats 3] [--steps 50]
#       [--warmup-steps 15] [--wall-threads N] [--horizon STEPS] [--skip check,speed,wall] [--torch-compile]
#       [model options]
#   --quick: 2 warm-up + 4 measured steps, 1 repeat, 1 minute each: checks the pipeline (~10 min).
# Env: KJV_DIR (corpus, default runs/kjv), ATTEND_RUN_DIR (results), ATTEND_NO_BUILD=1.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/bench/torch_peer.sh"
kjv="${KJV_DIR:-$root/runs/kjv}"
run="${ATTEND_RUN_DIR:-$root/runs/gpt_speed}"
"$root/scripts/deps.sh" --also libjemalloc2 python3-venv
[ -n "${ATTEND_NO_BUILD:-}" ] ||
  "$root/scripts/build.sh" "$root/build" -DCMAKE_BUILD_TYPE=Release -- attend_cli flash_attention_bench
KJV_DIR="$kjv" ATTEND_NO_BUILD=1 "$root/bench/kjv_corpus.sh"
py="$(torch_peer_venv "$root/build")"
sgemm=()
[ -x "$root/build/flash_attention_bench" ] && sgemm=(--sgemm-bench "$root/build/flash_attention_bench")
mkdir -p "$run"
"$py" "$root/bench/gpt_torch.py" bench --attend "$root/build/attend" --python "$py" --spm "$kjv/spm.model" \
  --train-text "$kjv/train.txt" --valid-text "$kjv/valid.txt" --out-dir "$run" ${sgemm[@]+"${sgemm[@]}"} \
  --command "bench/gpt_speed.sh $*" "$@" 2>&1 | tee "$run/speed.log"
