#!/usr/bin/env bash
# Re-makes the files of the PyTorch <-> attend conversion tests in one command (tests/data/convert/
# and tests/golden/data/convert_*.json; checked by tests/golden/app_golden_convert.cc):
#   1. tiny SentencePiece models (identity normalization: no NFKC table, so a few KB each) of a
#      small German-English corpus written here: joint.model (both sides), de.model and en.model;
#   2. a tiny attend transformer trained on it (post-norm, no final norms, tied output, sinusoidal
#      positions), attend_postnorm.ckpt (--best: the weights without the optimizer), the input of the
#      export test;
#   3. make_convert_golden.py with Debian's PyTorch 1.13 (python3-torch, installed when missing):
#      random PyTorch models saved as safetensors with their logits, nn.MultiheadAttention state
#      dicts with their outputs, and the export of step 2 loaded into PyTorch with its logits.
# Everything is seeded: running it again rewrites the same files.
#
#   scripts/golden/make_convert_golden.sh [ATTEND_BINARY]      (default: build/attend)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
attend="$(realpath "${1:-$root/build/attend}")"
out="$root/tests/data/convert"
/usr/bin/python3 -c 'import torch' 2>/dev/null || "$root/scripts/deps.sh" --also python3-torch
mkdir -p "$out"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
cat > train.en <<'TXT'
a man in a red hat runs to the dog .
two women sing in the snow .
the dog runs in the green grass .
a girl with a hat plays in the park .
three men stand in front of a house .
a boy rides a bike to the park .
a woman reads a book in the sun .
two dogs play with a ball in the snow .
a man and a woman walk on the street .
children play in the water at the beach .
TXT
cat > train.de <<'TXT'
ein mann mit einem roten hut läuft zum hund .
zwei frauen singen im schnee .
der hund läuft im grünen gras .
ein mädchen mit hut spielt im park .
drei männer stehen vor einem haus .
ein junge fährt mit dem rad zum park .
eine frau liest ein buch in der sonne .
zwei hunde spielen mit einem ball im schnee .
ein mann und eine frau gehen auf der straße .
kinder spielen im wasser am strand .
TXT
export ATTEND_NUM_THREADS=1
spm="--model-type bpe --normalization identity"
"$attend" vocab --input train.de --input train.en $spm --vocab-size 60 --out joint 2> vocab.log
"$attend" vocab --input train.de $spm --vocab-size 52 --out de 2>> vocab.log
"$attend" vocab --input train.en $spm --vocab-size 44 --out en 2>> vocab.log
cp joint.model de.model en.model "$out/"
"$attend" train --train-src train.de --train-tgt train.en --spm joint.model --arch transformer --d-model 16 \
  --heads 2 --ffn 32 --enc-layers 2 --dec-layers 2 --norm-first 0 --max-positions 64 --batch 4 --epochs 3 \
  --seed 1 --show 0 --valid-src train.de --valid-tgt train.en --best "$out/attend_postnorm.ckpt" -o full.ckpt 2> train.log
cd "$here"
/usr/bin/python3 make_convert_golden.py --attend "$attend" --work "$work"
ls -l "$out" "$root"/tests/golden/data/convert_*.json
