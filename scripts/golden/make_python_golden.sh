#!/usr/bin/env bash
# Re-makes python/tests/data/torch_golden.npz with PyTorch 2.x from PyPI, in a virtual environment
# (build/peer-venv, shared with the benchmarks' peers). The tests themselves never need PyTorch.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="$root/build/peer-venv"
"$root/scripts/deps.sh" --also python3-venv
[ -x "$venv/bin/python" ] || /usr/bin/python3 -m venv "$venv"
"$venv/bin/python" -c "import torch, numpy" 2>/dev/null ||
  "$venv/bin/pip" install -q torch numpy
"$venv/bin/python" "$root/scripts/golden/make_python_golden.py"
