#!/usr/bin/env bash
# The King James Bible as a language-modelling corpus for `attend train --arch gpt`
# (bench/gpt_speed.sh, bench/gpt_generate_speed.sh): one document per chapter, split by chapter.
#
#   - the text: Debian's bible-kjv (its bible-kjv-text data), installed by scripts/deps.sh --also
#     bible-kjv, dumped whole with `bible "gen1:1-rev22:21"` (1189 chapters, 31102 verses);
#   - one document (line) per chapter: its verses in order, verse numbers dropped, the lines the
#     tool wraps joined back, everything separated by single spaces;
#   - the split: chapters ranked by sha1("<seed>:<book> <chapter>") (fixed, independent of any
#     library's RNG); the first $KJV_VALID (60) are validation, the next $KJV_TEST (60) test, the
#     rest (1069) training; each file keeps the Bible's order;
#   - a SentencePiece BPE model of 8000 pieces on train.txt (`attend vocab`): spm.model/spm.vocab.
# Writes $KJV_DIR (default runs/kjv): kjv.txt (all chapters, "Book N<TAB>text"), train.txt,
# valid.txt, test.txt, spm.model, spm.vocab. Idempotent: what exists is kept (delete the directory,
# or a file, to make it again). Prints documents and words per split.
#
#   bench/kjv_corpus.sh
# Env: KJV_DIR, KJV_SEED (1), KJV_VALID (60), KJV_TEST (60), KJV_VOCAB (8000),
#      ATTEND_NO_BUILD=1 (use build/attend as it is).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="${KJV_DIR:-$root/runs/kjv}"
seed="${KJV_SEED:-1}"
n_valid="${KJV_VALID:-60}"
n_test="${KJV_TEST:-60}"
vocab="${KJV_VOCAB:-8000}"
"$root/scripts/deps.sh" --also bible-kjv
mkdir -p "$dir"

if [ ! -s "$dir/kjv.txt" ]; then
  # COLUMNS: the tool wraps verses at the terminal width; the parser joins wrapped lines anyway.
  COLUMNS=100000 bible "gen1:1-rev22:21" | python3 -c '
import re, sys
chapters, cur = [], None
prev_blank = True
for line in sys.stdin.read().split("\n"):
    if not line.strip():
        prev_blank = True
        continue
    h = re.fullmatch(r"((?:[1-3] )?[A-Z][A-Za-z ]*?) (\d+)", line)
    if prev_blank and h and not line.startswith(" "):
        cur = [f"{h[1]} {h[2]}", []]
        chapters.append(cur)
    else:
        v = re.match(r"\s+(\d+) (.*)", line)
        if v:
            cur[1].append(v[2].split())
        elif cur and cur[1]:
            cur[1][-1].extend(line.split())  # a wrapped verse goes on
        else:
            sys.exit(f"kjv_corpus: unexpected line {line!r}")
    prev_blank = False
with open(sys.argv[1] + ".tmp", "w") as f:
    for name, verses in chapters:
        f.write(name + "\t" + " ".join(w for v in verses for w in v) + "\n")
print(f"kjv_corpus: {len(chapters)} chapters, {sum(len(v) for _, v in chapters)} verses", file=sys.stderr)
' "$dir/kjv.txt"
  mv "$dir/kjv.txt.tmp" "$dir/kjv.txt"
fi

if [ ! -s "$dir/train.txt" ] || [ ! -s "$dir/valid.txt" ] || [ ! -s "$dir/test.txt" ]; then
  python3 - "$dir" "$seed" "$n_valid" "$n_test" <<'EOF'
import hashlib, os, sys
d, seed, n_valid, n_test = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
rows = [l.split("\t", 1) for l in open(os.path.join(d, "kjv.txt"), encoding="utf-8").read().split("\n") if l]
if len(rows) != 1189:
    sys.exit(f"kjv_corpus: {len(rows)} chapters in kjv.txt, expected 1189")
rank = sorted(range(len(rows)), key=lambda i: hashlib.sha1(f"{seed}:{rows[i][0]}".encode()).hexdigest())
split = {i: "valid" for i in rank[:n_valid]}
split.update({i: "test" for i in rank[n_valid:n_valid + n_test]})
for name in ("train", "valid", "test"):
    with open(os.path.join(d, name + ".txt.tmp"), "w", encoding="utf-8") as f:
        for i, (_, text) in enumerate(rows):
            if split.get(i, "train") == name:
                f.write(text + "\n")
for name in ("train", "valid", "test"):
    os.replace(os.path.join(d, name + ".txt.tmp"), os.path.join(d, name + ".txt"))
with open(os.path.join(d, "split.txt"), "w") as f:  # which chapter went where
    for i, (ch, _) in enumerate(rows):
        f.write(f"{ch}\t{split.get(i, 'train')}\n")
EOF
fi

if [ ! -s "$dir/spm.model" ]; then
  [ -n "${ATTEND_NO_BUILD:-}" ] || "$root/scripts/build.sh" "$root/build" -DCMAKE_BUILD_TYPE=Release -- attend_cli
  "$root/build/attend" vocab --input "$dir/train.txt" --model-type bpe --vocab-size "$vocab" --out "$dir/spm"
fi

for name in train valid test; do
  printf 'kjv_corpus: %-5s %5d documents %8d words\n' "$name" "$(grep -c . "$dir/$name.txt")" \
    "$(wc -w < "$dir/$name.txt")"
done
echo "kjv_corpus: $dir (spm.model: BPE $vocab)"
