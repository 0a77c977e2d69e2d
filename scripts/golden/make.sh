#!/usr/bin/env bash
# Re-makes the PyTorch golden files of tests/golden/data in one command: installs Debian's PyTorch
# 1.13 (python3-torch, which the committed files were made with) when it is missing, then runs the
# generators. Root or sudo is needed only for that install. The tests themselves never need Python.
#
#   scripts/golden/make.sh                 every generator
#   scripts/golden/make.sh make_rnn_golden one of them (file name with or without .py)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
"$here/../deps.sh" --also python3-torch
scripts=("$@")
[ ${#scripts[@]} -gt 0 ] ||
  scripts=(make_golden make_rnn_golden make_train_golden make_transformer_golden make_transformer_step_golden
           make_gpt_golden make_conv_golden)
for s in "${scripts[@]}"; do
  echo "== ${s%.py}.py"
  /usr/bin/python3 "$here/${s%.py}.py"
done
