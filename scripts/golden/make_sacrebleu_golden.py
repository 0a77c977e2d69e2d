#!/usr/bin/env python3
"""Writes tests/golden/data/sacrebleu_*.json: corpus BLEU and chrF as sacreBLEU itself computes
them with its defaults, for tests/golden/train_sacrebleu_golden.cc (which needs no Python).

Run through scripts/golden/make_sacrebleu_golden.sh: it makes a virtual environment under
build/golden-venv with the pinned sacreBLEU from PyPI and runs this script in it.

Files (self-contained: every text a case uses is stored in the file):
  sacrebleu_multi30k.json  the Multi30k test set (test_2016_flickr.en) as the reference and
                           systems made from it deterministically: the references themselves,
                           perturbed copies (word drops, swaps, case and punctuation changes),
                           lowercased, tokenized, truncated, HTML-escaped and word-shuffled copies,
                           the German source as a bad system, the shuffled validation set, and one
                           case with two reference sets.
  sacrebleu_edge.json      small cases: empty hypotheses, an all-empty corpus, one word, unicode
                           punctuation, symbols and spaces, numbers with commas and periods, '&'
                           entities, quotes, hyphens, "<skipped>", line breaks, trailing spaces;
                           plus the 13a tokenization of each edge string.

Format: {"sacrebleu_version": "2.6.0",
         "texts": {name: [line, ...]},
         "tokenize_13a": [[input, output], ...],
         "cases": [{"name", "hyp": text name, "refs": [text name, ...],
                    "bleu": {score, counts, totals, precisions, bp, sys_len, ref_len,
                             str, formatted, signature},
                    "chrf": {score, stats (hyp, ref, match per order 1..6, summed over the corpus),
                             str, formatted, signature}}]}
"str" is Score.format() (what print(score) shows), "formatted" is
Score.format(signature=str(signature)), the line sacrebleu's command line prints.
"""
import json
import logging
import os
import random
import sys

import sacrebleu
from sacrebleu.metrics import BLEU, CHRF
from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a
from sacrebleu.utils import sum_of_lists

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(ROOT, "tests", "golden", "data")
MULTI30K = os.environ.get("ATTEND_MULTI30K", "/work/shared/data/multi30k/raw")


def read_lines(path):
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f]


def score_case(name, texts, hyp, refs, lowercase=False):
    """lowercase: sacrebleu -lc (both BLEU and chrF compare lowercased text)."""
    hyps = texts[hyp]
    ref_sets = [texts[r] for r in refs]
    for r in ref_sets:
        assert len(r) == len(hyps), (name, len(r), len(hyps))

    bleu = BLEU(lowercase=lowercase)
    b = bleu.corpus_score(hyps, ref_sets)
    bsig = str(bleu.get_signature())

    chrf = CHRF(lowercase=lowercase)
    stats = sum_of_lists(chrf._extract_corpus_statistics(hyps, ref_sets))
    c = chrf.corpus_score(hyps, ref_sets)
    assert c.score == chrf._compute_score_from_stats(stats).score
    csig = str(chrf.get_signature())

    # The public compatibility functions give the same numbers.
    assert sacrebleu.corpus_bleu(hyps, ref_sets, lowercase=lowercase).score == b.score
    if not lowercase:
        assert sacrebleu.corpus_chrf(hyps, ref_sets).score == c.score
    return {
        "name": name,
        "hyp": hyp,
        "refs": refs,
        "lowercase": lowercase,
        "bleu": {
            "score": b.score, "counts": list(b.counts), "totals": list(b.totals),
            "precisions": list(b.precisions), "bp": b.bp, "sys_len": b.sys_len, "ref_len": b.ref_len,
            "str": b.format(), "formatted": b.format(signature=bsig), "signature": bsig,
        },
        "chrf": {
            "score": c.score, "stats": [int(x) for x in stats],
            "str": c.format(), "formatted": c.format(signature=csig), "signature": csig,
        },
    }


# ---- deterministic systems made from the references ---------------------------------------------

def perturb(lines, seed):
    """Each line gets 0-3 edits: drop a word, swap two neighbours, change a word's case, change
    or add punctuation. Same seed, same output."""
    rng = random.Random(seed)
    out = []
    for line in lines:
        words = line.split()
        for _ in range(rng.randint(0, 3)):
            if not words:
                break
            kind = rng.randrange(6)
            i = rng.randrange(len(words))
            if kind == 0 and len(words) > 1:
                del words[i]
            elif kind == 1 and i + 1 < len(words):
                words[i], words[i + 1] = words[i + 1], words[i]
            elif kind == 2:
                words[i] = words[i].upper() if rng.random() < 0.5 else words[i].lower()
            elif kind == 3:
                words[-1] = words[-1].rstrip(".!?") + rng.choice(["", ".", "!", " .", "?", "..."])
            elif kind == 4:
                words[i] = words[i] + rng.choice([",", ";", ":", "-", "'s", "\""])
            else:
                words.insert(i, rng.choice(["the", "a", "&", "-", "\u2014", "(", ")", "\"", "1,000", "3.5"]))
        out.append(" ".join(words))
    return out


def tokenized(lines):
    """What a Moses-tokenized system output looks like: spaces around punctuation."""
    out = []
    for line in lines:
        for p in [".", ",", "!", "?", ";", ":", "\"", "(", ")"]:
            line = line.replace(p, f" {p} ")
        out.append(" ".join(line.replace("'s", " 's").split()))
    return out


def html_escaped(lines):
    return [l.replace("&", "&amp;").replace("\"", "&quot;").replace("<", "&lt;").replace(">", "&gt;") for l in lines]


def word_shuffled(lines, seed):
    rng = random.Random(seed)
    out = []
    for line in lines:
        words = line.split()
        rng.shuffle(words)
        out.append(" ".join(words))
    return out


def multi30k():
    test_en = read_lines(os.path.join(MULTI30K, "test_2016_flickr.en"))
    test_de = read_lines(os.path.join(MULTI30K, "test_2016_flickr.de"))
    val_en = read_lines(os.path.join(MULTI30K, "val.en"))
    rng = random.Random(11)
    val_shuffled = val_en[:]
    rng.shuffle(val_shuffled)
    texts = {
        "test_en": test_en,
        "perturbed": perturb(test_en, 1),
        "perturbed2": perturb(test_en, 2),
        "lowercased": [l.lower() for l in test_en],
        "tokenized": tokenized(test_en),
        "truncated": [" ".join(l.split()[: max(1, len(l.split()) // 2)]) for l in test_en],
        "html_escaped": html_escaped(perturb(test_en, 3)),
        "word_shuffled": word_shuffled(test_en, 4),
        "german_source": test_de,
        "val_shuffled": val_shuffled[: len(test_en)],
    }
    cases = [score_case(f"multi30k_{h}", texts, h, ["test_en"])
             for h in ["test_en", "perturbed", "lowercased", "tokenized", "truncated", "html_escaped",
                       "word_shuffled", "german_source", "val_shuffled"]]
    cases.append(score_case("multi30k_perturbed_two_refs", texts, "perturbed", ["test_en", "perturbed2"]))
    cases.append(score_case("multi30k_truncated_two_refs", texts, "truncated", ["perturbed2", "test_en"]))
    # sacrebleu -lc, as attend eval --lowercase reports it next to the cased score.
    for h in ["perturbed", "lowercased", "html_escaped", "german_source"]:
        cases.append(score_case(f"multi30k_{h}_lc", texts, h, ["test_en"], lowercase=True))
    return {"texts": texts, "cases": cases}


# ---- edge cases --------------------------------------------------------------------------------

EDGE_STRINGS = [
    "", " ", "one", "The cat sat on the mat.", "  leading and trailing  \t", "trailing newline-\n",
    "joined-\nline", "two\nlines", "<skipped> words", "a<skipped>b",
    "&quot;quoted&quot; &amp; &lt;tag&gt; &amp;quot; &apos; &#39;", "AT&T & Co.&", "R&D&amp;",
    "\"double\" 'single' `back` \u00b4acute\u00b4 \u2018curly\u2019 \u201ccurly\u201d \u201elow\u201c \u00abguil\u00bb",
    "well-known 1990-2000 a - b -- x--y -5 5- (-3) e-mail 3-D",
    "1,000.50 3.14 .5 5. 1.000,00 a.b a,b 10,5% $3.50 1.2.3 end. ,start",
    "Dr. Smith, Ph.D., arrived at 5 p.m.!", "What?! No... Yes!!! (maybe) [ok] {x} <y> |z| ~w ^v _u",
    "caf\u00e9 na\u00efve \u00fcber Stra\u00dfe \u00c9COLE e\u0301",  # precomposed and combining accents
    "price: 5\u20ac, \u00a35, \u00a55, \u00a9 2024, \u00bd cup, 90\u00b0, \u00b1 2, 3\u00d74",
    "em\u2014dash en\u2013dash \u2026ellipsis\u2026 \u00a1hola! \u00bfqu\u00e9? \u2022 bullet \u2122",
    "no\u00a0break thin\u2009space ideo\u3000space zero\u200bwidth nnbsp\u202fx line\u2028sep para\u2029sep",
    "\u6f22\u5b57\u3001\u304b\u306a\u3002 \ud55c\uad6d\uc5b4. \u0420\u0443\u0441\u0441\u043a\u0438\u0439, \u03b5\u03bb\u03bb\u03b7\u03bd\u03b9\u03ba\u03ac;",
    "emoji \U0001f600 \U0001f44d\U0001f3fd and flags \U0001f1e9\U0001f1ea!",
    "tab\there\rcarriage\x0bvt\x0cff\x1cfs\x1dgs\x1ers\x1fus\x85nel end",
    "It's John's dog's bone; don't won't y'all 'tis", "@user #tag http://x.org/a?b=c&d=e email@x.com",
    "a", "A", ".", ",,", "-", "&", "&amp;", "\u2014",
]


def edge():
    texts = {}

    def add(name, lines):
        texts[name] = lines
        return name

    cases = []

    def case(name, hyps, refs_list):
        h = add(name + ".hyp", hyps)
        rs = [add(f"{name}.ref{k}", r) for k, r in enumerate(refs_list)]
        cases.append(score_case(name, texts, h, rs))

    case("empty_hypothesis", ["", "a man is walking his dog in the park .", ""],
         [["A man rides a bike.", "A man is walking his dog in the park.", "Two children play."]])
    case("all_empty", ["", "", ""], [["", "", ""]])
    case("empty_hyps_nonempty_refs", ["", ""], [["A dog runs.", "A cat sleeps."]])
    case("nonempty_hyps_empty_refs", ["A dog runs.", "A cat sleeps."], [["", ""]])
    case("one_word", ["dog"], [["dog"]])
    case("one_word_wrong", ["dog"], [["cat"]])
    case("one_word_vs_sentence", ["Dog"], [["A dog runs in the park."]])
    case("identical", ["A man in an orange hat starring at something."],
         [["A man in an orange hat starring at something."]])
    case("smoothing_three_and_four_grams", ["the quick brown fox jumped over", "a lazy dog slept"],
         [["the quick red fox jumps over", "the lazy dog sleeps"]])
    case("short_lines_no_four_grams", ["a b c", "d e"], [["a b c", "d e"]])
    case("long_hypothesis", ["a man is riding a red bike down a long road in the city at night with friends"],
         [["A man rides a bike."]])
    case("unicode_punctuation", EDGE_STRINGS[13:14] + EDGE_STRINGS[20:25],
         [["\"double\" 'single' `back` acute \u2018curly\u2019 \"curly\" \u201elow\u201c \u00abguil\u00bb",
           "price: 5 \u20ac, \u00a3 5, \u00a55, \u00a9 2023, 1/2 cup, 90\u00b0, +- 2, 3x4",
           "em \u2014 dash en-dash ...ellipsis... \u00a1hola! \u00bfque? \u2022 bullet \u2122",
           "no break thin space ideo\u3000space zero\u200bwidth nnbsp\u202fx line\u2028sep para sep",
           "\u6f22\u5b57\u3001\u304b\u306a\u3002 \ud55c\uad6d\uc5b4. \u0420\u0443\u0441\u0441\u043a\u0438\u0439, \u03b5\u03bb\u03bb\u03b7\u03bd\u03b9\u03ba\u03ac",
           "emoji \U0001f600 \U0001f44d and flags \U0001f1e9\U0001f1ea !"]])
    case("numbers", ["It costs 1,000.50 dollars, i.e. 3.14 times 5.", "Call 1990-2000 at 10,5% or .5 ."],
         [["It costs 1,000.50 dollars, i.e. 3.14 times 5 .", "Call 1990 - 2000 at 10,5 % or 0.5."]])
    case("ampersands_and_entities", ["AT&T &amp; R&D &quot;win&quot; &lt;3", "Tom &amp;amp; Jerry &apos;s"],
         [["AT & T & R & D \"win\" <3", "Tom & Jerry 's"]])
    case("quotes", ["He said \"yes\" and 'no' \u201cmaybe\u201d.", "It's John's."],
         [["He said \u201cyes\u201d and \"no\" \"maybe\".", "It is John's."]])
    case("hyphens", ["A well-known 3-D e-mail, 5-6 times - or -7.", "x--y - z"],
         [["A well known 3 - D email , 5 - 6 times -- or - 7 .", "x - - y-z"]])
    case("skipped_and_line_breaks", ["a <skipped> b", "c-\nd e", "f-\n"],
         [["a b", "cd e", "f"]])
    case("whitespace_variants", ["  a\tb  c \u00a0 d\u3000e  ", "x\u200by"], [["a b c d e", "x y"]])
    case("edge_strings_against_themselves", EDGE_STRINGS, [EDGE_STRINGS])
    case("edge_strings_against_reversed", EDGE_STRINGS, [EDGE_STRINGS[::-1]])
    case("chrf_short_refs", ["abcdefgh", "ab", "abc def", "x"], [["abc", "abcdefgh", "a b c d e f", "xy"]])
    case("chrf_best_reference_per_sentence", ["the cat sat on the mat", "a dog in the snow"],
         [["a cat was on a mat", "two dogs in the snow"], ["the cat sat on the mat", "dogs"],
          ["", "a dog in the snow"]])
    # "abbb" scores the same sentence chrF against "acab" and "bac" with different statistics:
    # sacreBLEU keeps the first reference.
    case("chrf_tied_references", ["abbb", "the cat"], [["acab", "the cat"], ["bac", "a cat"]])
    case("three_refs_closest_length", ["a b c d e f", "a b c"],
         [["a b c d", "a b"], ["a b c d e f g h", "a b c d"], ["a b c d e", "x y z w v"]])

    tok = Tokenizer13a()
    pairs = [[s, tok(s)] for s in EDGE_STRINGS]
    return {"texts": texts, "cases": cases, "tokenize_13a": pairs}


def write(name, doc):
    doc = {"sacrebleu_version": sacrebleu.__version__, **doc}
    path = os.path.join(OUT, name + ".json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=0)
        f.write("\n")
    print(f"wrote {os.path.relpath(path, ROOT)} ({os.path.getsize(path)} bytes, {len(doc['cases'])} cases)")


def main():
    # sacreBLEU warns about tokenized-looking output, which the "tokenized" system is on purpose.
    logging.getLogger("sacrebleu").setLevel(logging.ERROR)
    if not os.path.isdir(MULTI30K):
        sys.exit(f"make_sacrebleu_golden: {MULTI30K} not found (set ATTEND_MULTI30K to the raw Multi30k directory)")
    write("sacrebleu_edge", edge())
    write("sacrebleu_multi30k", multi30k())


if __name__ == "__main__":
    main()
