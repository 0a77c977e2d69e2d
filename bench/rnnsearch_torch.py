#!/usr/bin/python3
"""RNNsearch (Bahdanau, Cho & Bengio 2015) on Multi30k de->en in PyTorch, and its training speed
side by side with `attend train --arch rnnsearch` (bench/rnnsearch_speed.sh runs both in one go).

The model is attend's rnnsearch (src/models/rnnsearch.cc, include/attend/models/seq2seq.h), written
the way a PyTorch user would write it: nn.Embedding (padding_idx 0), a bidirectional nn.GRU over a
packed batch, nn.GRUCell stepped in a Python loop, additive attention from nn.Linear layers:
    annotations h_j = [fwd_j; bwd_j]                  nn.GRU(E, H, bidirectional), packed
    s_0 = tanh(W_s bwd_1)                             nn.Linear(H, H) on h_n[1]
    a_t = softmax_j(v^T tanh(W_q s_{t-1} + W_k h_j + b)), source padding masked out
    c_t = sum_j a_tj h_j
    s_t = GRUCell([E y_{t-1}; c_t], s_{t-1})
    logits_t = W_o dropout(tanh(U_o [s_t; E y_{t-1}; c_t] + b_o))   (deep output, no maxout,
                                                      over all steps at once after the loop)
  dropout on the source and target embeddings and on the output layer's input, as in attend.
  W_k's bias is attend's b, so the parameters are the same tensors with the same shapes (and the
  same initial distributions: PyTorch's defaults, which attend copies); the count is printed.
Training step as attend's `train` does it: loss = mean token cross-entropy over the targets
y_1..y_n </s> (padding ignored), backward, global gradient-norm clipping (5), Adam (lr 1e-3,
betas 0.9/0.999, eps 1e-8). Tokens/s counts target tokens + 1 (</s>) per sentence, as attend does.

Data: the same tokens, vocabularies and batches as attend, reproduced here in Python:
  - tokenizer (src/data/tokenizer.cc, --lowercase): ASCII and Latin-1 capitals lowercased, split on
    ASCII whitespace, every ASCII punctuation character its own token except '-' and '\\'' between
    two word characters (ASCII alnum or any non-ASCII byte);
  - vocabulary (src/data/vocab.cc): <pad> <unk> <s> </s>, then tokens of count >= --min-freq by
    count descending, then bytes; built on every training pair, then pairs longer than
    --max-length tokens on either side are dropped (none in Multi30k);
  - batches (src/data/batching.cc): the Philox4x32-10 stream of seed --seed shuffles the pairs,
    a stable sort by max(source, target) length (bucket width 1) follows, the order is cut into
    batches of --batch pairs, and the batch order is shuffled. This is attend's plan for epoch 0,
    so both sides train on the same padded batches in the same order (the driver checks the
    vocabulary sizes, pair and batch counts against attend's own report, and that attend's
    printed rate agrees with these batches' token counts).
What still differs: dropout masks and initial values are drawn by different generators (same
distributions), so the loss trajectories agree only roughly. The encoder's work on padding:
PyTorch's packed GRU skips the padded source steps, attend's GRU computes them and masks the
result (same values). Timing: PyTorch's step times come from perf_counter inside the worker (the
batch tensors are built inside the timed loop, as attend's trainer builds its batches inside its
steps); attend's from the arrival of its progress lines on a pipe (a few ms at most per line).

Two modes:
  PyTorch only (the worker; set the environment yourself, see bench/torch_peer.py):
    /usr/bin/python3 bench/rnnsearch_torch.py [--threads 1] [--warmup 20] [--steps 200]
        [--embed 256] [--hidden 256] [--attention-dim H] [--readout H] [--dropout 0.3]
  Side by side (what bench/rnnsearch_speed.sh runs): --attend PATH runs `attend train` for
    warmup + steps steps, timestamps its progress lines as they arrive (the trainer prints one
    after a step, at most one per second), and takes attend's rate over the steps (a, b] between
    the first line at or after the warm-up and the last line: tokens of those batches (known from
    the plan) over the time between the two lines. PyTorch runs in a subprocess per configuration
    (peer: at its best, OpenBLAS + jemalloc; shipped with --shipped) and its rate is taken over the
    same steps (a, b]. Steps up to the warm-up are excluded on both sides; warmup + steps must
    stay within the first epoch (attend validates at the end of an epoch).
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

from torch_peer import loaded_libraries, torch_env

DATA = "/work/shared/data/multi30k/raw"
PAD, UNK, BOS, EOS = 0, 1, 2, 3
SPECIALS = [b"<pad>", b"<unk>", b"<s>", b"</s>"]


# ---------------------------------------------------------------------------------------------
# Data: attend's tokenizer, vocabulary and batch plan

def read_lines(path):
    """std::getline over '\\n', one trailing '\\r' removed (src/data/corpus.cc)."""
    with open(path, "rb") as f:
        data = f.read()
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return [l[:-1] if l.endswith(b"\r") else l for l in lines]


def utf8_lower(s):
    """ASCII A-Z and U+00C0..U+00DE except U+00D7 lowercased (src/data/utf8.cc)."""
    s = s.lower()  # bytes.lower() changes ASCII letters only
    if b"\xc3" not in s:
        return s
    out = bytearray(s)
    i = 0
    while i < len(out):
        if out[i] == 0xC3 and i + 1 < len(out):
            d = out[i + 1]
            if 0x80 <= d <= 0x9E and d != 0x97:
                out[i + 1] = d + 0x20
            i += 1
        i += 1
    return bytes(out)


# A token: a run of non-space, non-punctuation bytes (a '-' or '\'' between two word bytes joins),
# or one ASCII punctuation byte. Word bytes: ASCII alnum and every byte >= 0x80. Whitespace is
# attend's is_space (bytes.split()'s set).
_PUNCT = rb"!-/:-@\[-`{-~"
_WORD = rb"0-9A-Za-z\x80-\xff"
_TOKEN = re.compile(rb"(?:[^" + _PUNCT + rb" \t\n\r\x0b\x0c]|(?<=[" + _WORD + rb"])['-](?=[" + _WORD + rb"]))+|[" +
                    _PUNCT + rb"]")


def tokenize(line, lowercase):
    return _TOKEN.findall(utf8_lower(line) if lowercase else line)


def build_vocab(sentences, min_freq):
    counts = {}
    for s in sentences:
        for t in s:
            counts[t] = counts.get(t, 0) + 1
    kept = [(t, n) for t, n in counts.items() if n >= min_freq and t not in SPECIALS]
    kept.sort(key=lambda tn: (-tn[1], tn[0]))
    vocab = {t: i for i, t in enumerate(SPECIALS)}
    for t, _ in kept:
        vocab[t] = len(vocab)
    return vocab


def load_corpus(src_path, tgt_path, lowercase=True, min_freq=2, max_length=100):
    """-> (examples [(source ids, target ids)], source vocab size, target vocab size, dropped)."""
    src = [tokenize(l, lowercase) for l in read_lines(src_path)]
    tgt = [tokenize(l, lowercase) for l in read_lines(tgt_path)]
    if len(src) != len(tgt):
        sys.exit(f"{src_path} and {tgt_path} differ in length: {len(src)} vs {len(tgt)} lines")
    sv, tv = build_vocab(src, min_freq), build_vocab(tgt, min_freq)
    examples, dropped = [], 0
    for s, t in zip(src, tgt):
        e = ([sv.get(x, UNK) for x in s], [tv.get(x, UNK) for x in t])
        if not e[0] or max(len(e[0]), len(e[1])) > max_length:
            dropped += 1
            continue
        examples.append(e)
    return examples, len(sv), len(tv), dropped


_M32 = 0xFFFFFFFF


def philox4x32(key, ctr_lo, ctr_hi):
    """One Philox4x32-10 block (include/attend/core/rng.h)."""
    c0, c1, c2, c3 = ctr_lo & _M32, (ctr_lo >> 32) & _M32, ctr_hi & _M32, (ctr_hi >> 32) & _M32
    k0, k1 = key & _M32, (key >> 32) & _M32
    for _ in range(10):
        p0 = 0xD2511F53 * c0
        p1 = 0xCD9E8D57 * c2
        c0, c1, c2, c3 = (p1 >> 32) ^ c1 ^ k0, p1 & _M32, (p0 >> 32) ^ c3 ^ k1, p0 & _M32
        k0 = (k0 + 0x9E3779B9) & _M32
        k1 = (k1 + 0xBB67AE85) & _M32
    return c0, c1, c2, c3


class Rng:
    """attend::Rng's next_u64 stream."""

    def __init__(self, seed, offset=0):
        self.seed, self.offset = seed, offset

    def next_u64(self):
        w = philox4x32(self.seed, self.offset, 3)
        self.offset += 1
        return (w[0] << 32) | w[1]

    def below(self, n):
        return self.next_u64() % n


def batch_plan(examples, epoch=0, seed=1, max_sentences=64, max_tokens=None, max_length=100, bucket_width=1,
               shuffle=True):
    """Batcher::plan (src/data/batching.cc) with `attend train`'s options: the example indices of
    every batch of `epoch`, in the order they are served."""
    if max_tokens is None:
        max_tokens = max_sentences * (max_length + 2)
    n = len(examples)
    rng = Rng(seed, epoch << 40)
    order = list(range(n))
    if shuffle:
        for i in range(n - 1, 0, -1):
            j = rng.below(i + 1)
            order[i], order[j] = order[j], order[i]

    def length(i):
        return max(len(examples[i][0]), len(examples[i][1]))

    order.sort(key=lambda i: length(i) // bucket_width)  # stable, as std::stable_sort
    batches, cur, cur_max = [], [], 0
    for i in order:
        l = length(i)
        new_max = max(cur_max, l)
        if cur and (len(cur) + 1 > max_sentences or (len(cur) + 1) * new_max > max_tokens):
            batches.append(cur)
            cur, cur_max = [], 0
        cur.append(i)
        cur_max = max(cur_max, l)
    if cur:
        batches.append(cur)
    if shuffle:
        for i in range(len(batches) - 1, 0, -1):
            j = rng.below(i + 1)
            batches[i], batches[j] = batches[j], batches[i]
    return batches


def batch_tokens(examples, ids):
    """Target tokens + </s> per sentence: what attend's tok/s counts."""
    return sum(len(examples[i][1]) + 1 for i in ids)


# ---------------------------------------------------------------------------------------------
# PyTorch: the model and its training loop (the worker)

def make_model(nn, torch, src_vocab, tgt_vocab, E, H, A, R, dropout):
    F = torch.nn.functional
    pack = torch.nn.utils.rnn.pack_padded_sequence
    unpack = torch.nn.utils.rnn.pad_packed_sequence

    class RNNSearch(nn.Module):
        def __init__(self):
            super().__init__()
            self.src_embed = nn.Embedding(src_vocab, E, padding_idx=PAD)
            self.tgt_embed = nn.Embedding(tgt_vocab, E, padding_idx=PAD)
            self.encoder = nn.GRU(E, H, batch_first=True, bidirectional=True)
            self.init_state = nn.Linear(H, H)            # W_s
            self.W_q = nn.Linear(H, A, bias=False)
            self.W_k = nn.Linear(2 * H, A)               # its bias is the score's b
            self.v = nn.Linear(A, 1, bias=False)
            self.decoder = nn.GRUCell(E + 2 * H, H)
            self.readout = nn.Linear(H + E + 2 * H, R)   # U_o, b_o
            self.output = nn.Linear(R, tgt_vocab)        # W_o
            self.drop = nn.Dropout(dropout)

        def forward(self, src, src_lengths, tgt_in):
            # src [B, S], src_lengths [B] (CPU int64), tgt_in [B, T] -> logits [B, T, V]
            S = src.size(1)
            x = self.drop(self.src_embed(src))                                       # [B, S, E]
            packed, h_n = self.encoder(pack(x, src_lengths, batch_first=True, enforce_sorted=False))
            keys, _ = unpack(packed, batch_first=True, total_length=S)               # [B, S, 2H]
            s = torch.tanh(self.init_state(h_n[1]))                                  # [B, H]
            projected = self.W_k(keys)                                               # [B, S, A]
            pad = torch.arange(S).unsqueeze(0) >= src_lengths.unsqueeze(1)           # [B, S]
            emb = self.drop(self.tgt_embed(tgt_in))                                  # [B, T, E]
            states, contexts = [], []
            for t in range(tgt_in.size(1)):
                scores = self.v(torch.tanh(projected + self.W_q(s).unsqueeze(1))).squeeze(2)  # [B, S]
                a = F.softmax(scores.masked_fill(pad, float("-inf")), dim=1)
                c = torch.bmm(a.unsqueeze(1), keys).squeeze(1)                       # [B, 2H]
                s = self.decoder(torch.cat([emb[:, t], c], 1), s)                    # [B, H]
                states.append(s)
                contexts.append(c)
            readout = torch.tanh(self.readout(torch.cat([torch.stack(states, 1), emb, torch.stack(contexts, 1)], 2)))
            return self.output(self.drop(readout))                                   # [B, T, V]

    return RNNSearch()


def make_batch(torch, examples, ids):
    """Padded src [B, S], src_lengths [B], tgt_in [B, T+1] (<s> y), tgt_out [B, T+1] (y </s>)."""
    B = len(ids)
    S = max(len(examples[i][0]) for i in ids)
    T = max(len(examples[i][1]) for i in ids)
    src = [[PAD] * S for _ in range(B)]
    tin = [[PAD] * (T + 1) for _ in range(B)]
    tout = [[PAD] * (T + 1) for _ in range(B)]
    for r, i in enumerate(ids):
        s, t = examples[i]
        src[r][:len(s)] = s
        tin[r][:len(t) + 1] = [BOS] + t
        tout[r][:len(t) + 1] = t + [EOS]
    lengths = torch.tensor([len(examples[i][0]) for i in ids], dtype=torch.int64)
    return (torch.tensor(src, dtype=torch.int64), lengths, torch.tensor(tin, dtype=torch.int64),
            torch.tensor(tout, dtype=torch.int64))


def run_worker(args):
    import torch
    from torch import nn

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    examples, sv, tv, dropped = load_corpus(os.path.join(args.data, "train.de"), os.path.join(args.data, "train.en"),
                                            True, args.min_freq, args.max_length)
    plan = batch_plan(examples, 0, args.seed, args.batch, max_length=args.max_length)
    total = args.warmup + args.steps
    if total > len(plan):
        sys.exit(f"warmup + steps = {total} is more than the {len(plan)} batches of an epoch")
    A = args.attention_dim or args.hidden
    R = args.readout or args.hidden
    model = make_model(nn, torch, sv, tv, args.embed, args.hidden, A, R, args.dropout)
    n_params = sum(p.numel() for p in model.parameters())
    blas, jemalloc = loaded_libraries()
    a = torch.randn(512, 512)
    t0 = time.perf_counter()
    for _ in range(20):
        a @ a
    gemm = 20 * 2 * 512 ** 3 / (time.perf_counter() - t0) * 1e-9
    print(f"PyTorch {torch.__version__}: rnnsearch ({n_params} parameters), {len(examples)} training pairs "
          f"({dropped} dropped), vocabularies {sv} / {tv}; {torch.get_num_threads()} thread(s); "
          f"BLAS {blas} (SGEMM 512^3 {gemm:.0f} GFLOP/s); jemalloc {'yes' if jemalloc else 'no'}", flush=True)

    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    model.train()
    times, tokens, losses = [], [], []
    log_every = max(1, total // 10)
    start = time.perf_counter()
    for step in range(total):
        ids = plan[step]
        src, src_len, tgt_in, tgt_out = make_batch(torch, examples, ids)
        opt.zero_grad(set_to_none=True)
        logits = model(src, src_len, tgt_in)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)), tgt_out.reshape(-1),
                                                 ignore_index=PAD)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        opt.step()
        lv = loss.item()
        times.append(time.perf_counter() - start)
        tokens.append(batch_tokens(examples, ids))
        losses.append(lv)
        if (step + 1) % log_every == 0 or step + 1 == total:
            print(f"  step {step + 1}/{total} | loss {lv:.4f} | {sum(tokens) / times[-1]:.0f} tok/s since step 1",
                  flush=True)

    w = args.warmup
    tok = sum(tokens[w:])
    secs = times[-1] - (times[w - 1] if w > 0 else 0.0)
    last = min(10, args.steps)
    end_loss = sum(l * n for l, n in zip(losses[-last:], tokens[-last:])) / sum(tokens[-last:])
    print(f"PyTorch: {tok / secs:.0f} tok/s over steps {w + 1}..{total} ({tok} target tokens in {secs:.2f} s); "
          f"loss {losses[0]:.4f} at step 1, {end_loss:.4f} over the last {last} steps", flush=True)
    if args.json:
        print("RESULT " + json.dumps(dict(params=n_params, src_vocab=sv, tgt_vocab=tv, pairs=len(examples),
                                          batches=len(plan), blas=blas, jemalloc=jemalloc, gemm=gemm,
                                          times=times, tokens=tokens, losses=losses)), flush=True)


# ---------------------------------------------------------------------------------------------
# The side-by-side driver

_HEADER = re.compile(r"attend train: (\S+) \((\d+) parameters\), (\d+) training pairs .*vocabularies (\d+) / (\d+)")
_PROGRESS = re.compile(r"epoch \d+/\d+ \| batch (\d+)/(\d+) \| step (\d+) \| loss (\S+) \| (\S+) tok/s \| "
                       r"lr \S+ \| eta (\S+) epoch")


def parse_rate(s):
    mult = {"k": 1e3, "M": 1e6}.get(s[-1:], 1.0)
    return float(s[:-1] if s[-1:] in "kM" else s) * mult


def parse_duration(s):
    m = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(\d+)s", s)
    if not m:
        return None
    h, mi, se = (int(x) if x else 0 for x in m.groups())
    return 3600 * h + 60 * mi + se


def parse_train_header(line):
    """attend train's first line for a sequence-to-sequence model -> dict, or None."""
    h = _HEADER.match(line)
    return dict(arch=h[1], params=int(h[2]), pairs=int(h[3]), src_vocab=int(h[4]), tgt_vocab=int(h[5])) if h else None


def follow_attend_train(cmd, parse_header=parse_train_header):
    """Runs `attend train` (cmd), timestamping each progress line as it arrives: returns the header
    ("attend train: ARCH (N parameters), ...", as parse_header reads it: a language model's differs)
    as a dict and the progress lines (time, batch, step, loss, rate, eta). Other lines are echoed; a
    non-zero exit ends the benchmark with its last lines."""
    print("$ " + " ".join(cmd), flush=True)
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, bufsize=1)
    header, lines, other = None, [], []
    for raw in proc.stderr:
        now = time.perf_counter()
        line = raw.rstrip("\n")
        m = _PROGRESS.match(line)
        if m:
            lines.append(dict(t=now, batch=int(m[1]), nb=int(m[2]), step=int(m[3]), loss=float(m[4]),
                              rate=parse_rate(m[5]), eta=parse_duration(m[6])))
            continue
        other.append(line)
        h = parse_header(line) if header is None else None
        if h:
            header = h
        print("  attend| " + line, flush=True)
    if proc.wait() != 0:
        sys.exit(f"attend train exited with {proc.returncode}:\n" + "\n".join(other[-20:]))
    if header is None:
        sys.exit("attend train printed no 'attend train: ... parameters' line")
    return header, lines


def attend_interval(lines, batches, cum, warmup):
    """From attend's progress lines (follow_attend_train) over a plan of `batches` batches whose
    cumulative target tokens are cum[k] after step k: checks attend's batch count and its printed
    token counts against the plan, then returns the first and last line after the warm-up and the
    target tokens/s between them."""
    if lines and lines[0]["nb"] != batches:
        sys.exit(f"attend has {lines[0]['nb']} batches per epoch, this script {batches}")
    # attend's printed cumulative rate vs these batches: rate * elapsed (elapsed from the eta,
    # eta = elapsed / k * (batches - k), rounded to seconds: only etas of 10 s or more) should be
    # the tokens of steps 1..k.
    devs = [l["rate"] * l["eta"] * l["step"] / (l["nb"] - l["step"]) / cum[l["step"]] - 1 for l in lines
            if l["eta"] is not None and l["nb"] > l["step"] and l["step"] >= 2 and l["eta"] >= 10]
    if devs:
        dev = sorted(abs(d) for d in devs)[len(devs) // 2]
        print(f"# attend's printed tok/s vs this script's batches: median deviation {100 * dev:.1f}% "
              "(rounding of tok/s and eta: a few %)", flush=True)
        if dev > 0.1:
            print("# WARNING: attend's token counts do not match this script's batch plan", flush=True)
    after = [l for l in lines if l["step"] >= warmup]
    if len(after) < 2 or after[-1]["step"] == after[0]["step"]:
        sys.exit("attend printed fewer than two progress lines after the warm-up: raise --steps "
                 f"(lines at steps {[l['step'] for l in lines]})")
    la, lb = after[0], after[-1]
    return la, lb, (cum[lb["step"]] - cum[la["step"]]) / (lb["t"] - la["t"])


def run_attend(args, threads, workdir):
    d = args.data
    cmd = [args.attend, "train", "--train-src", f"{d}/train.de", "--train-tgt", f"{d}/train.en",
           "--valid-src", f"{d}/val.de", "--valid-tgt", f"{d}/val.en", "--lowercase", "--min-freq", str(args.min_freq),
           "--max-length", str(args.max_length), "--arch", "rnnsearch", "--embed", str(args.embed),
           "--hidden", str(args.hidden), "--attention-dim", str(args.attention_dim or args.hidden),
           "--readout", str(args.readout or args.hidden), "--dropout", str(args.dropout), "--batch", str(args.batch),
           "--lr", str(args.lr), "--clip", str(args.clip), "--epochs", "1",
           "--max-steps", str(args.warmup + args.steps), "--valid-decode", "10", "--show", "0",
           "--seed", str(args.seed), "--threads", str(threads), "-o", os.path.join(workdir, "rnnsearch.ckpt")]
    return follow_attend_train(cmd)


def run_torch(args, config, threads):
    cmd = [sys.executable, os.path.abspath(__file__), "--json", "--threads", str(threads), "--warmup",
           str(args.warmup), "--steps", str(args.steps), "--embed", str(args.embed), "--hidden", str(args.hidden),
           "--attention-dim", str(args.attention_dim or args.hidden), "--readout", str(args.readout or args.hidden),
           "--dropout", str(args.dropout), "--batch", str(args.batch), "--lr", str(args.lr), "--clip", str(args.clip),
           "--min-freq", str(args.min_freq), "--max-length", str(args.max_length), "--seed", str(args.seed),
           "--data", args.data]
    print(f"# PyTorch {config}, {threads} thread(s)", flush=True)
    proc = subprocess.Popen(cmd, env=torch_env(config, threads, args.blas_dir), stdout=subprocess.PIPE, text=True,
                            bufsize=1)
    result = None
    for line in proc.stdout:
        if line.startswith("RESULT "):
            result = json.loads(line[7:])
        else:
            print("  torch| " + line.rstrip("\n"), flush=True)
    if proc.wait() != 0 or result is None:
        print(f"# PyTorch {config} ({threads} threads) failed (exit {proc.returncode})", file=sys.stderr)
        return None
    return result


def interval_rate(times, tokens, a, b):
    """Tokens/s over steps a+1..b from per-step end times (times[k-1] = end of step k)."""
    return sum(tokens[a:b]) / (times[b - 1] - times[a - 1])


def interval_loss(losses, tokens, a, b):
    return sum(l * n for l, n in zip(losses[a:b], tokens[a:b])) / sum(tokens[a:b])


def run_compare(args):
    examples, sv, tv, dropped = load_corpus(os.path.join(args.data, "train.de"), os.path.join(args.data, "train.en"),
                                            True, args.min_freq, args.max_length)
    plan = batch_plan(examples, 0, args.seed, args.batch, max_length=args.max_length)
    total = args.warmup + args.steps
    if total >= len(plan):
        sys.exit(f"warmup + steps = {total}: keep it below the {len(plan)} batches of an epoch "
                 "(attend validates at the end of an epoch, inside the measured time)")
    tokens = [batch_tokens(examples, ids) for ids in plan[:total]]
    cum = [0]
    for n in tokens:
        cum.append(cum[-1] + n)
    threads_list = [int(t) for t in str(args.threads).split(",") if t]
    configs = ["peer"] + (["shipped"] if args.shipped else [])
    rows, notes = [], []
    for threads in threads_list:
        with tempfile.TemporaryDirectory(prefix="rnnsearch_speed_") as workdir:
            header, lines = run_attend(args, threads, workdir)
        # Same data and model as ours?
        mine = dict(params=None, pairs=len(examples), src_vocab=sv, tgt_vocab=tv)
        for k in ("pairs", "src_vocab", "tgt_vocab"):
            if header[k] != mine[k]:
                sys.exit(f"attend's {k} {header[k]} != this script's {mine[k]}: the data pipelines differ")
        la, lb, attend_rate = attend_interval(lines, len(plan), cum, args.warmup)
        a, b = la["step"], lb["step"]
        attend_loss = (lb["loss"] * cum[b] - la["loss"] * cum[a]) / (cum[b] - cum[a])
        first = lines[0]
        print(f"# attend: {attend_rate:.0f} tok/s over steps {a + 1}..{b} ({cum[b] - cum[a]} target tokens in "
              f"{lb['t'] - la['t']:.2f} s); loss {first['loss']:.4f} at step {first['step']} (mean so far), "
              f"{attend_loss:.4f} over steps {a + 1}..{b}; its own last line: {lb['rate']:.0f} tok/s over steps 1..{b}",
              flush=True)
        row = dict(threads=threads, steps=(a, b), attend=attend_rate, params=header["params"])
        for config in configs:
            r = run_torch(args, config, threads)
            if r is None:
                row[config] = None
                continue
            if r["tokens"][:total] != tokens:
                sys.exit("the PyTorch worker's batches differ from the plan")
            row[config] = interval_rate(r["times"], r["tokens"], a, b)
            row[config + "_params"] = r["params"]
            print(f"# PyTorch {config}: {row[config]:.0f} tok/s over steps {a + 1}..{b}; loss {r['losses'][0]:.4f} "
                  f"at step 1, {interval_loss(r['losses'], r['tokens'], a, b):.4f} over steps {a + 1}..{b}",
                  flush=True)
        rows.append(row)

    E, H = args.embed, args.hidden
    print(f"\nrnnsearch, Multi30k de->en (lowercased, min-freq {args.min_freq}; vocabularies {sv} / {tv}), "
          f"E={E} H={H} A={args.attention_dim or H} R={args.readout or H}, dropout {args.dropout}, "
          f"batch {args.batch}, the same batches on both sides; target tokens/s (+1 </s> per sentence) over "
          f"steps (a, b] after a warm-up of {args.warmup}; ratio = attend / PyTorch (> 1: attend faster)")
    for r in rows:
        tp = r.get("peer_params")
        notes.append(f"parameters: attend {r['params']}, PyTorch {tp if tp is not None else '?'}"
                     + ("" if tp == r["params"] else "  <-- DIFFERENT"))
    hdr = f"{'threads':>7} | {'steps':>9} | {'attend tok/s':>12} | {'PyTorch tok/s':>13} | {'ratio':>6}"
    if args.shipped:
        hdr += f" | {'shipped tok/s':>13} | {'ratio':>6}"
    print(hdr)
    for r in rows:
        steps = f"{r['steps'][0] + 1}..{r['steps'][1]}"
        line = f"{r['threads']:>7} | {steps:>9} | {r['attend']:>12.0f} |"
        for config in configs:
            v = r.get(config)
            line += (f" {v:>13.0f} | {r['attend'] / v:>5.2f}x" if v else f" {'failed':>13} | {'':>6}")
            if config != configs[-1]:
                line += " |"
        print(line)
    for n in sorted(set(notes)):
        print(n)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--attend", default=None, help="path of the attend binary: run the side-by-side comparison")
    ap.add_argument("--threads", default="1", help="thread count (the comparison takes a list: 1,2)")
    ap.add_argument("--warmup", type=int, default=None, help="steps excluded from the rate (default 20, quick 3)")
    ap.add_argument("--steps", type=int, default=None, help="measured steps (default 200, quick 20)")
    ap.add_argument("--quick", action="store_true", help="a short run: warm-up 3, 20 steps")
    ap.add_argument("--embed", type=int, default=256)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--attention-dim", type=int, default=0, help="default: --hidden")
    ap.add_argument("--readout", type=int, default=0, help="default: --hidden")
    ap.add_argument("--dropout", type=float, default=0.3)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--clip", type=float, default=5.0)
    ap.add_argument("--min-freq", type=int, default=2)
    ap.add_argument("--max-length", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--data", default=DATA, help="directory with train.de, train.en, val.de, val.en")
    ap.add_argument("--shipped", action="store_true", help="also run PyTorch as shipped (reference BLAS: slow)")
    ap.add_argument("--blas-dir", default=None, help="directory with OpenBLAS's libblas.so.3 for the peer")
    ap.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.warmup is None:
        args.warmup = 3 if args.quick else 20
    if args.steps is None:
        args.steps = 20 if args.quick else 200
    if args.warmup < 1 or args.steps < 1:
        sys.exit("--warmup and --steps must be at least 1")
    if args.attend:
        run_compare(args)
    else:
        args.threads = int(args.threads)
        run_worker(args)


if __name__ == "__main__":
    main()
