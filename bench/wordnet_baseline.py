#!/usr/bin/python3
"""The baseline of the WordNet supersense task (docs/models.md): TF-IDF features of word unigrams
and bigrams (sublinear tf) and a multinomial logistic regression, with C chosen on the validation
split, scored on the test split: accuracy and macro-F1 (scikit-learn's, average="macro").
Debian's python3-sklearn (bench/wordnet_classifier.sh installs it); reads the TSV files of
`attend gen wordnet`.

  bench/wordnet_baseline.py DIR [--json OUT]
"""
import argparse
import json
import time

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score


def read(path):
    texts, labels = [], []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 2:
                raise SystemExit(f"{path}:{n}: expected text<TAB>label")
            texts.append(parts[0])
            labels.append(parts[1])
    return texts, labels


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--json")
    a = ap.parse_args()
    train, valid, test = (read(f"{a.dir}/{s}.tsv") for s in ("train", "valid", "test"))
    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2)
    xtr = vec.fit_transform(train[0])
    xva, xte = vec.transform(valid[0]), vec.transform(test[0])
    best = None
    for c in (1.0, 3.0, 10.0, 30.0, 100.0):
        t0 = time.time()
        clf = LogisticRegression(C=c, max_iter=1000)
        clf.fit(xtr, train[1])
        acc = accuracy_score(valid[1], clf.predict(xva))
        print(f"C {c:g}: validation accuracy {100 * acc:.2f}% ({time.time() - t0:.0f} s)", flush=True)
        if best is None or acc > best[0]:
            best = (acc, c, clf)
    _, c, clf = best
    pred = clf.predict(xte)
    acc, f1 = accuracy_score(test[1], pred), f1_score(test[1], pred, average="macro")
    print(f"test ({len(test[1])} glosses), C {c:g}: accuracy {100 * acc:.2f}%, macro-F1 {100 * f1:.2f}%")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"C": c, "accuracy": acc, "macro_f1": f1, "features": xtr.shape[1]}, f, indent=2)


if __name__ == "__main__":
    main()
