#!/usr/bin/env bash
# Re-makes tests/golden/data/sacrebleu_*.json (BLEU and chrF as sacreBLEU computes them) in one
# command: creates a virtual environment under build/golden-venv with the pinned sacreBLEU from
# PyPI (only when it is missing or holds another version), then runs make_sacrebleu_golden.py.
# Needs python3-venv and a reachable PyPI; the tests themselves never need Python.
#
#   scripts/golden/make_sacrebleu_golden.sh
#   ATTEND_MULTI30K=/path/to/multi30k/raw scripts/golden/make_sacrebleu_golden.sh
#
# The version is pinned because the goldens' signature lines carry it ("version:2.6.0") and
# include/attend/train/metrics.h's kSacrebleuVersion must name the same one.
set -euo pipefail
SACREBLEU_VERSION=2.6.0
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="$root/build/golden-venv"
if ! "$venv/bin/python" -c "import sacrebleu, sys; sys.exit(sacrebleu.__version__ != '$SACREBLEU_VERSION')" 2>/dev/null; then
  echo "golden: installing sacrebleu==$SACREBLEU_VERSION into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "sacrebleu==$SACREBLEU_VERSION"
fi
"$venv/bin/python" "$here/make_sacrebleu_golden.py"
