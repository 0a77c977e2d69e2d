#!/usr/bin/env bash
# Re-makes tests/golden/data/sparse_normalizers.json and structured_attention.json in one command:
# the published implementations (entmax 1.3, torch-struct 0.5, pinned) are installed from PyPI
# into the peer virtual environment (build/peer-venv, PyTorch 2.x; bench/torch_peer.sh) when
# missing, then make_structured_golden.py runs. The tests themselves never need Python.
#
#   scripts/golden/make_structured_golden.sh
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
# shellcheck source=../../bench/torch_peer.sh
source "$root/bench/torch_peer.sh"
py="$(torch_peer_venv "$root/build")"
if ! "$py" -c "import entmax, torch_struct, importlib.metadata as m; import sys; \
sys.exit(m.version('entmax') != '1.3' or m.version('torch-struct') != '0.5')" 2>/dev/null; then
  echo "golden: installing entmax==1.3 torch-struct==0.5 into $root/build/peer-venv"
  "$py" -m pip install -q "entmax==1.3" "torch-struct==0.5"
fi
cd "$here"
"$py" -W ignore::UserWarning make_structured_golden.py
