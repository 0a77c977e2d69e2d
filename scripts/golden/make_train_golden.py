#!/usr/bin/python3
"""Writes the golden files of the train layer: tests/golden/data/train_*.json.

Run with Debian's PyTorch 1.13:  scripts/golden/make.sh make_train_golden (installs python3-torch if missing)
Same file format as make_golden.py (whose writer this script reuses), read by
tests/support/golden.{h,cc} and checked by tests/golden/train_golden.cc.

  train_adam, train_adam_wd, train_sgd_momentum, train_sgd_nesterov:
      torch.optim in float32 (what attend trains in) on two parameters, for STEPS steps of fixed
      random gradients. "param.<p>" is the start, "grad.<s>.<p>" the gradient given at step s,
      "after.<s>.<p>" the parameter after step s, and "state.<slot>.<p>" the optimizer state at
      the end (exp_avg/exp_avg_sq for Adam, momentum_buffer for SGD).
  train_plateau:
      torch.optim.lr_scheduler.ReduceLROnPlateau: the metric fed at each epoch ("metrics") and the
      learning rate after each step ("lrs").
  train_bleu:
      corpus BLEU as sacreBLEU 2.x computes it by default (tokenize 13a, 4-gram, smooth 'exp',
      brevity penalty), re-implemented below from sacreBLEU's source with Python's re, so that the
      C++ (which works byte by byte, without regexes) has an independent oracle.
"""
import math
import os
import re
import sys
from collections import Counter

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_golden import gen, write  # noqa: E402

STEPS = 4
F32 = torch.float32


def optim_case(name, make_optimizer, seed, config):
    g = gen(seed)
    params = {
        "w": torch.randn(3, 4, generator=g, dtype=F32),
        "b": torch.randn(5, generator=g, dtype=F32),
    }
    tensors = {f"param.{k}": v.clone() for k, v in params.items()}
    leaves = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    opt = make_optimizer([leaves["w"], leaves["b"]])
    for s in range(STEPS):
        for k, p in leaves.items():
            # Gradients of varying scale (one step with a tiny gradient) exercise eps.
            scale = 1e-4 if s == 2 else 1.0
            grad = scale * torch.randn(p.shape, generator=g, dtype=F32)
            p.grad = grad.clone()
            tensors[f"grad.{s}.{k}"] = grad
        opt.step()
        for k, p in leaves.items():
            tensors[f"after.{s}.{k}"] = p.detach().clone()
    for k, p in leaves.items():
        for slot, value in opt.state[p].items():
            if slot != "step":
                tensors[f"state.{slot}.{k}"] = value
    write(name, dict(config, steps=STEPS), tensors)


def optim_cases():
    optim_case("train_adam", lambda ps: torch.optim.Adam(ps, lr=0.01), 501,
               {"lr": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0})
    optim_case("train_adam_wd", lambda ps: torch.optim.Adam(ps, lr=0.003, betas=(0.8, 0.99), eps=1e-6,
                                                              weight_decay=0.1), 502,
               {"lr": 0.003, "beta1": 0.8, "beta2": 0.99, "eps": 1e-6, "weight_decay": 0.1})
    optim_case("train_sgd_momentum", lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, dampening=0.1,
                                                                  weight_decay=0.01), 503,
               {"lr": 0.1, "momentum": 0.9, "dampening": 0.1, "weight_decay": 0.01, "nesterov": False})
    optim_case("train_sgd_nesterov", lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.8, nesterov=True), 504,
               {"lr": 0.05, "momentum": 0.8, "dampening": 0.0, "weight_decay": 0.0, "nesterov": True})


def plateau_case():
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=1.0)
    config = {"factor": 0.5, "patience": 2, "threshold": 0.01, "cooldown": 1, "min_lr": 0.1}
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=0.5, patience=2, threshold=0.01,
                                                       threshold_mode="rel", cooldown=1, min_lr=0.1)
    # Improvements, a plateau inside the relative threshold (0.995 is not < 1.0 * 0.99), cooldown,
    # further plateaus down to min_lr.
    metrics = [1.0, 0.995, 0.999, 0.998, 0.997, 0.5, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6,
               0.6, 0.6, 0.6, 0.1]
    lrs = []
    for m in metrics:
        sched.step(m)
        lrs.append(opt.param_groups[0]["lr"])
    write("train_plateau", config, {"metrics": torch.tensor(metrics, dtype=torch.float64),
                                     "lrs": torch.tensor(lrs, dtype=torch.float64)})


# ---- sacreBLEU 2.x, corpus_bleu with its defaults, re-implemented ---------------------------------
_13A = [
    (re.compile(r"([\{-\~\[-\` -\&\(-\+\:-\@\/])"), r" \1 "),
    (re.compile(r"([^0-9])([\.,])"), r"\1 \2 "),
    (re.compile(r"([\.,])([^0-9])"), r" \1 \2"),
    (re.compile(r"([0-9])(-)"), r"\1 \2 "),
]


def tokenize_13a(line):
    line = line.replace("<skipped>", "").replace("-\n", "").replace("\n", " ")
    if "&" in line:
        line = line.replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
    line = f" {line} "
    for pattern, repl in _13A:
        line = pattern.sub(repl, line)
    return " ".join(line.split())


def ngrams(words, n_max=4):
    c = Counter()
    for n in range(1, n_max + 1):
        for i in range(len(words) - n + 1):
            c[tuple(words[i:i + n])] += 1
    return c


def corpus_bleu(hyps, refs_list):
    correct = [0] * 4
    total = [0] * 4
    sys_len = ref_len = 0
    for i, hyp in enumerate(hyps):
        h = tokenize_13a(hyp).split()
        refs = [tokenize_13a(r[i]).split() for r in refs_list]
        hc = ngrams(h)
        max_ref = Counter()
        closest = None
        for r in refs:
            for k, v in ngrams(r).items():
                max_ref[k] = max(max_ref[k], v)
            d = abs(len(r) - len(h))
            if closest is None or d < closest[0] or (d == closest[0] and len(r) < closest[1]):
                closest = (d, len(r))
        sys_len += len(h)
        ref_len += closest[1]
        for k, v in hc.items():
            correct[len(k) - 1] += min(v, max_ref[k])
        for n in range(1, 5):
            total[n - 1] += max(0, len(h) - n + 1)
    precisions = [0.0] * 4
    if not any(correct):
        return 0.0, precisions, 0.0, sys_len, ref_len
    smooth = 1.0
    for n in range(1, 5):
        if total[n - 1] == 0:
            break
        if correct[n - 1] == 0:
            smooth *= 2
            precisions[n - 1] = 100.0 / (smooth * total[n - 1])
        else:
            precisions[n - 1] = 100.0 * correct[n - 1] / total[n - 1]
    bp = 1.0 if sys_len >= ref_len else (math.exp(1 - ref_len / sys_len) if sys_len > 0 else 0.0)
    score = bp * math.exp(sum(math.log(p) if p > 0 else -9999999999 for p in precisions) / 4)
    return score, precisions, bp, sys_len, ref_len


def bleu_case(name, hyps, refs):
    score, precisions, bp, sys_len, ref_len = corpus_bleu(hyps, [refs])
    write(name, {"hyps": hyps, "refs": refs, "tokenized_hyps": [tokenize_13a(h) for h in hyps],
                 "sys_len": sys_len, "ref_len": ref_len},
          {"score": torch.tensor([score], dtype=torch.float64),
           "precisions": torch.tensor(precisions, dtype=torch.float64),
           "bp": torch.tensor([bp], dtype=torch.float64)})


def bleu_cases():
    bleu_case("train_bleu_mt", [
        "The cat sat on the mat.",
        "It's 3.5 degrees, isn't it? (Yes-no.)",
        "A man in a blue shirt is riding a bike down the street.",
        "Two dogs play in the snow &amp; run, 1,000 times!",
    ], [
        "The cat is sitting on the mat.",
        "It is 3.5 degrees, isn't it? (Yes.)",
        "A man wearing a blue shirt rides a bicycle down the road.",
        "Two dogs are playing in the snow & running, 1,000 times!",
    ])
    # No 4-gram match anywhere: the 'exp' smoothing gives the 4-gram precision 100 / (2 * total).
    bleu_case("train_bleu_smooth", ["the quick brown fox jumped", "over a lazy dog"],
              ["the quick brown dog jumped", "over the lazy dog"])
    # Hypotheses longer than the references: no brevity penalty.
    bleu_case("train_bleu_long", ["1999-2000 was a year ... of the 2nd \"quoted\" kind, really, truly"],
              ["1999-2000 was the year of the second kind"])


if __name__ == "__main__":
    torch.manual_seed(0)
    optim_cases()
    plateau_case()
    bleu_cases()
