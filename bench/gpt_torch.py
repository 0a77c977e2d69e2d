#!/usr/bin/python3
"""attend's GPT (src/models/gpt.cc, include/attend/models/gpt.h) in PyTorch 2.x, side by side with
`attend train --arch gpt`, `attend eval --text` and `attend generate`: the same weights, the same
windows in the same order, the same training step and the same generation plan, checked against
attend before anything is timed. bench/gpt_speed.sh (training) and bench/gpt_generate_speed.sh
(generation, with CTranslate2 too) run it.

The model, as a GPT user writes it in PyTorch (nanoGPT's shape) with attend's parameter names, so an
attend checkpoint loads with load_state_dict(strict=True) and a trained one writes back:
    x_0    = dropout(embed(ids) + positions.weight[offset:offset+T])       nn.Embedding, no padding_idx
    block  = x + dropout(out_proj(SDPA(q, k, v, is_causal=True)))          q,k,v = in_proj(norm1(x)), [Wq; Wk; Wv]
             x + dropout(linear2(dropout(gelu(linear1(norm2(x))))))         gelu: exact erf form
    logits = blocks.norm(x_L) @ embed.weight^T                             tied output (or output.weight)
  LayerNorm eps 1e-5, attention scale 1/sqrt(D) (SDPA's default), dropout where attend has it
  (include/attend/nn/transformer.h: residual branches and inside the feed-forward) and
  attention-weight dropout (attention_dropout, default 0) as SDPA's dropout_p.
  Training runs torch.nn.functional.scaled_dot_product_attention(..., is_causal=True); the kernel it
  dispatched to (flash / math) is recorded from the aten ops of one step and printed.

Data, the same ids on both sides: the text files are encoded by `attend vocab --model SPM --encode
--ids` (the SentencePiece model `attend train --spm` embeds), and the stream is attend's
(app/generator.h): </s> doc_1 </s> doc_2 </s> ..., empty documents skipped. TokenWindows
(data/batching.h): n = ceil((len - 1) / T) windows, window i = stream[i T : i T + T + 1], the last
one shorter (padded with 0, not counted); each epoch's window order is a Fisher-Yates shuffle with
attend's Philox stream (seed, epoch << 40) (rnnsearch_torch.Rng), cut into batches of B in order.
The driver checks attend's token counts (its first line) and its printed tok/s against this plan.

Training step as attend's trainer (train/trainer.cc): loss = mean cross-entropy of the non-pad next
tokens, backward, global gradient-norm clipping (coef = clip / (norm + 1e-6), applied below 1),
lr of step s (1-based) from train/schedule.h (constant / noam / cosine with linear warm-up;
cosine's horizon is --max-steps when given, else epochs x batches per epoch), Adam (betas 0.9 /
beta2, eps 1e-8, torch.optim.Adam's default implementation, whose update attend copies). Initial
weights: attend's own, from an `attend train ... --max-time 1e-9` checkpoint (0 steps: `--max-steps
0` means no limit and `--epochs 0` is refused). Not the same: dropout masks (attend's Philox, PyTorch's
generator; same rates) - so with dropout the loss curves agree only statistically.

Perplexity as `attend eval --text` (app/generator.cc): windows of --context in stream order, no
shuffle, batches of 64, nll summed in float64 over the non-pad targets; per word = exp(nll / words),
words = whitespace words + 1 per document.

Generation as `attend generate` (decode/search.cc pick_search): a batch of prompts is fed
</s> prompt...; the first step feeds the shortest prefix's m tokens of every row at once, then one
token per row per step (rows still in their prompt are fed the prompt's next token, so every row is
at the same position and the cache needs no padding); a row stops at </s> or after max_new =
min(--max-new, positions - prefix + 1) tokens and leaves the batch (its cache rows dropped). The
cache: per layer past keys/values [N, H, t, D], grown by torch.cat each step. Greedy = arg max
(first maximum). Sampling replicates attend's sampler so both draw the same tokens: probs =
softmax(log_softmax(logits) / temperature) in float64, top-k then top-p (smallest most-probable set
reaching top_p of the kept mass, ties: lower id first), u = Philox uniform (seed, counter
(prompt index << 32) + tokens drawn, word 2), inverse CDF in id order; vectorized over the batch
(one sort per step, as a PyTorch top-p sampler does). The worker's clock covers the generation loop
only, after one untimed warm-up generation (first prompt, 2 tokens).

Modes (run by the venv's python; workers run in a fresh process each, with the environment of
bench/torch_peer.py, and print one RESULT json line):
  bench          --attend A --python PY --spm M --train-text F --valid-text F --out-dir D ...
                 (bench/gpt_speed.sh) the check (eval equality, training steps equality, both
                 ways), then training tokens/s per thread count, then the same-wall-time runs
                 (--skip check,speed,wall leaves parts out)
  generate-speed --attend A --python PY --checkpoint CKPT --prompts-from F --out-dir D ...
                 (bench/gpt_generate_speed.sh) outputs compared, then generated tokens/s, attend vs
                 PyTorch vs CTranslate2 (bench/gpt_to_ctranslate2.py)
  eval-worker    --checkpoint CKPT --stream S [--context T] [--batch 64]     nll of attend's windows
  train-worker   --init CKPT --stream S --context T --batch B --lr ... [--max-steps N | --max-time-s X]
                 [--save CKPT]                                                per-step times, losses
  generate-worker --checkpoint CKPT --prompts IDS [--temperature 0 | T --top-p P ...] --out IDS
"""
import argparse
import array
import base64
import json
import math
import os
import re
import struct
import subprocess
import sys
import tempfile
import time

from rnnsearch_torch import Rng, attend_interval, follow_attend_train, read_lines
from torch_peer import loaded_libraries, torch_env
from transformer_torch import (checkpoint_meta, cpu_model, encode_ids, fmt_ratio, median, read_checkpoint, read_ids,
                               run_measured, sdpa_backend, sgemm_ceiling, torch_blas, torch_gemm, write_ids)

PAD, EOS = 0, 3
HERE = os.path.dirname(os.path.abspath(__file__))


# ---------------------------------------------------------------------------------------------
# Data: attend's token stream, windows and batch plan

def count_words(line):
    """app::count_words: maximal runs of bytes other than ASCII whitespace (bytes.split's set)."""
    return len(line.split())


def text_stream(ids_lines, text_lines):
    """app::text_stream: -> (stream </s> doc_1 </s> ..., documents, words)."""
    if len(ids_lines) != len(text_lines):
        sys.exit(f"{len(ids_lines)} encoded lines for {len(text_lines)} text lines")
    stream, docs, words = [EOS], 0, 0
    for ids, text in zip(ids_lines, text_lines):
        if not ids:
            continue
        stream.extend(ids)
        stream.append(EOS)
        docs += 1
        words += count_words(text) + 1
    return stream, docs, words


def write_stream(path, stream):
    with open(path, "wb") as f:
        array.array("i", stream).tofile(f)


def read_stream(path):
    a = array.array("i")
    with open(path, "rb") as f:
        a.frombytes(f.read())
    return a


def num_windows(n, T):
    """TokenWindows: ceil((n - 1) / T)."""
    return (n - 1 + T - 1) // T


def window_plan(n_windows, batch, epoch, seed, shuffle=True):
    """TokenWindows::plan: the window indices of each batch of `epoch`, in order."""
    order = list(range(n_windows))
    if shuffle:
        rng = Rng(seed, epoch << 40)  # data/batching.cc epoch_rng
        for i in range(n_windows - 1, 0, -1):  # Fisher-Yates, below(rng, i + 1) = next_u64 % (i + 1)
            j = rng.below(i + 1)
            order[i], order[j] = order[j], order[i]
    return [order[i:i + batch] for i in range(0, n_windows, batch)]


def batch_targets(n, T, ids):
    """Predicted (non-pad) tokens of a batch of windows: what attend's tok/s counts."""
    return sum(min(T + 1, n - w * T) - 1 for w in ids)


def scheduled_lr(kind, lr, warmup, total, step):
    """train/schedule.cc scheduled_lr: the rate of step `step` (1-based)."""
    s, w = float(max(step, 1)), float(warmup)
    if kind == "constant":
        return lr * min(1.0, s / w) if warmup > 0 else lr
    if kind == "noam":
        return lr * min(s / w, math.sqrt(w / s))
    if kind == "cosine":
        if warmup > 0 and s < w:
            return lr * s / w
        p = min(1.0, (s - w) / float(total - warmup))
        return 0.5 * lr * (1.0 + math.cos(math.pi * p))
    sys.exit(f"schedule {kind}: constant, noam or cosine")


# ---------------------------------------------------------------------------------------------
# Checkpoints

def write_checkpoint(path, template, tensors):
    """An attend checkpoint with the model tensors of `tensors` ({name: float32 numpy array}) and
    the metadata of `template` (an attend checkpoint of the same model): attend eval/generate read
    it. Only the "model.*" tensors are written (no optimizer state)."""
    import numpy as np
    with open(template, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
    out = {"__metadata__": header.pop("__metadata__", {})}
    blobs, off = [], 0
    for name in sorted((k for k in header if k.startswith("model.")), key=lambda k: header[k]["data_offsets"][0]):
        a = np.ascontiguousarray(tensors[name[len("model."):]], dtype="<f4")
        if list(a.shape) != list(header[name]["shape"]):
            sys.exit(f"write_checkpoint: {name} has shape {list(a.shape)}, the template {header[name]['shape']}")
        b = a.tobytes()
        out[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(out, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(path + ".tmp", path)


def checkpoint_vocab(path):
    """The pieces of an attend language-model checkpoint's vocabulary, in id order."""
    _, meta = checkpoint_meta(path)
    lines = meta["vocab.target"].split("\n")
    if not lines[0].startswith("#attend-vocab"):
        sys.exit(f"{path}: unexpected vocabulary header {lines[0]!r}")
    return [l.rsplit("\t", 1)[0] for l in lines[1:] if l]


def checkpoint_spm(path, out):
    """The SentencePiece model embedded in a language-model checkpoint -> out."""
    _, meta = checkpoint_meta(path)
    with open(out, "wb") as f:
        f.write(base64.b64decode(meta["extra.sentencepiece.target"]))
    return out


def load_model(torch, path):
    tensors, meta = read_checkpoint(path)
    spec = json.loads(meta["model_config"])
    cfg = spec["model"]
    if cfg.get("architecture") != "gpt":
        sys.exit(f"{path}: architecture {cfg.get('architecture')}, not gpt")
    model = make_model(torch, cfg)
    model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in tensors.items()}, strict=True)
    return model, cfg


# ---------------------------------------------------------------------------------------------
# The PyTorch model

def make_model(torch, cfg):
    nn, F = torch.nn, torch.nn.functional
    C, H, Fd, L, V, P = (cfg["d_model"], cfg["num_heads"], cfg["ffn_dim"], cfg["num_layers"], cfg["vocab"],
                         cfg["max_positions"])
    D = C // H
    p, pa = cfg["dropout"], cfg["attention_dropout"]
    act = {"gelu": lambda x: F.gelu(x), "relu": F.relu}[cfg.get("activation", "gelu")]

    class SelfAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.in_proj_weight = nn.Parameter(torch.empty(3 * C, C).normal_(0.0, 0.02))
            self.in_proj_bias = nn.Parameter(torch.zeros(3 * C))
            self.out_proj = nn.Linear(C, C)

        def forward(self, x, cache=None):
            B, T, _ = x.shape
            q, k, v = F.linear(x, self.in_proj_weight, self.in_proj_bias).split(C, dim=2)
            q = q.view(B, T, H, D).transpose(1, 2)  # [B, H, T, D]
            k = k.view(B, T, H, D).transpose(1, 2)
            v = v.view(B, T, H, D).transpose(1, 2)
            if cache is not None:  # [past K, past V] of this layer, replaced by the grown ones
                if cache[0] is not None:
                    assert T == 1, "a cached step feeds one token per row"
                    k = torch.cat([cache[0], k], 2)
                    v = torch.cat([cache[1], v], 2)
                cache[0], cache[1] = k, v
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=pa if self.training else 0.0,
                                               is_causal=T > 1)
            return self.out_proj(y.transpose(1, 2).reshape(B, T, C))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.norm1 = nn.LayerNorm(C, eps=1e-5)
            self.self_attn = SelfAttention()
            self.norm2 = nn.LayerNorm(C, eps=1e-5)
            self.linear1 = nn.Linear(C, Fd)
            self.linear2 = nn.Linear(Fd, C)
            self.drop = nn.Dropout(p)

        def forward(self, x, cache=None):
            x = x + self.drop(self.self_attn(self.norm1(x), cache))
            return x + self.drop(self.linear2(self.drop(act(self.linear1(self.norm2(x))))))

    class Blocks(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleList([Block() for _ in range(L)])
            self.norm = nn.LayerNorm(C, eps=1e-5)

    class Positions(nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = nn.Parameter(torch.empty(P, C).normal_(0.0, 0.02))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(V, C)
            self.positions = Positions()
            self.blocks = Blocks()
            self.output = None if cfg.get("tie_output", True) else nn.Linear(C, V, bias=False)
            self.drop = nn.Dropout(p)

        def project(self, x):
            return F.linear(x, self.embed.weight) if self.output is None else self.output(x)

        def forward(self, ids):
            """ids [B, T] -> logits [B, T, V] (training and scoring)."""
            T = ids.size(1)
            x = self.drop(self.embed(ids) + self.positions.weight[:T])
            for layer in self.blocks.layers:
                x = layer(x)
            return self.project(self.blocks.norm(x))

        def step(self, ids, cache, offset):
            """Incremental: ids [N, t] at positions offset.., cache per layer [K, V] (grown in place)
            -> logits of the last position [N, V]."""
            t = ids.size(1)
            x = self.drop(self.embed(ids) + self.positions.weight[offset:offset + t])
            for layer, c in zip(self.blocks.layers, cache):
                x = layer(x, c)
            return self.project(self.blocks.norm(x[:, -1]))

    return GPT()


def window_batch(torch, stream_t, T, ids):
    """TokenWindows::make_batch: [B, width] windows, width T + 1 (less when all are the short last)."""
    n = stream_t.numel()
    lens = [min(T + 1, n - w * T) for w in ids]
    out = torch.full((len(ids), max(lens)), PAD, dtype=torch.int64)
    for r, (w, l) in enumerate(zip(ids, lens)):
        out[r, :l] = stream_t[w * T:w * T + l]
    return out


def load_stream_tensor(torch, path):
    import numpy as np
    return torch.from_numpy(np.fromfile(path, dtype=np.int32).astype(np.int64))


# ---------------------------------------------------------------------------------------------
# Workers

def set_threads(torch, n):
    torch.set_num_threads(n)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass


def evaluate(torch, model, stream_t, T, batch=64):
    """-> (nll summed in float64, predicted tokens) over attend's unshuffled windows."""
    F = torch.nn.functional
    n = stream_t.numel()
    nll, tokens = 0.0, 0
    model.eval()
    with torch.inference_mode():
        for ids in window_plan(num_windows(n, T), batch, 0, 0, shuffle=False):
            w = window_batch(torch, stream_t, T, ids)
            logits = model(w[:, :-1])
            y = w[:, 1:]
            nll += F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1), ignore_index=PAD,
                                   reduction="sum").item()
            tokens += int((y != PAD).sum())
    return nll, tokens


def run_eval_worker(args):
    import torch
    set_threads(torch, args.threads)
    model, cfg = load_model(torch, args.checkpoint)
    stream_t = load_stream_tensor(torch, args.stream)
    T = args.context or cfg["max_positions"]
    t0 = time.perf_counter()
    nll, tokens = evaluate(torch, model, stream_t, T, args.batch)
    print("RESULT " + json.dumps(dict(nll=nll, tokens=tokens, context=T, seconds=time.perf_counter() - t0)),
          flush=True)


def run_train_worker(args):
    import torch
    F = torch.nn.functional
    set_threads(torch, args.threads)
    torch.manual_seed(args.seed)
    model, cfg = load_model(torch, args.init)
    stream_t = load_stream_tensor(torch, args.stream)
    n, T, B = stream_t.numel(), args.context, args.batch
    W = num_windows(n, T)
    per_epoch = (W + B - 1) // B
    total = args.max_steps if args.max_steps > 0 else args.epochs * per_epoch
    params = list(model.parameters())
    n_params = sum(p.numel() for p in params)
    blas, jemalloc = loaded_libraries()
    blas = torch_blas(torch, blas)
    gemm = torch_gemm(torch) if args.gemm else None
    print(f"PyTorch {torch.__version__}: gpt ({n_params} parameters), {n} training tokens, {W} windows of {T}, "
          f"{per_epoch} batches of {B} per epoch; dropout {cfg['dropout']}; {torch.get_num_threads()} thread(s); "
          f"BLAS {blas}" + (f" (SGEMM 2048^3 {gemm:.0f} GFLOP/s)" if gemm else "") +
          f"; jemalloc {'yes' if jemalloc else 'no'}", flush=True)
    opt = torch.optim.Adam(params, lr=args.lr, betas=(0.9, args.beta2), eps=1e-8)
    model.train()
    run = torch.compile(model) if args.compile else model  # compiles in the first steps (the warm-up)
    plan_epoch, plan = -1, None

    def batch_of(step):  # step 0-based
        nonlocal plan_epoch, plan
        epoch, b = divmod(step, per_epoch)
        if epoch != plan_epoch:
            plan_epoch, plan = epoch, window_plan(W, B, epoch, args.seed)
        return window_batch(torch, stream_t, T, plan[b])

    def forward_backward(w, m=run):
        logits = m(w[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), w[:, 1:].reshape(-1), ignore_index=PAD)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        return loss

    times, tokens, losses = [], [], []
    reason, step = "epochs", 0
    last_log = start = time.perf_counter()
    while True:
        if args.max_steps > 0 and step >= args.max_steps:
            reason = "max_steps"
            break
        if args.max_time_s > 0 and time.perf_counter() - start >= args.max_time_s:
            reason = "time_limit"
            break
        if step >= args.epochs * per_epoch:
            break
        w = batch_of(step)
        loss = forward_backward(w)
        if args.clip > 0:
            torch.nn.utils.clip_grad_norm_(params, args.clip)
        step += 1
        for g in opt.param_groups:
            g["lr"] = scheduled_lr(args.schedule, args.lr, args.warmup, total, step)
        opt.step()
        now = time.perf_counter()
        times.append(now - start)
        tokens.append(int((w[:, 1:] != PAD).sum()))
        losses.append(loss.item())
        if now - last_log >= args.log_every_s or step == 1:
            last_log = now
            k = min(len(losses), 50)
            print(f"  step {step} | loss {sum(losses[-k:]) / k:.4f} (last {k}) | "
                  f"{sum(tokens) / times[-1]:.0f} tok/s since step 1 | lr {opt.param_groups[0]['lr']:.2e}", flush=True)
    print(f"  stopped ({reason}) after {step} steps, {times[-1] if times else 0:.1f} s", flush=True)
    if args.save:
        write_checkpoint(args.save, args.init, {k: v.detach().numpy() for k, v in model.state_dict().items()})
    backend = None
    if args.report_backend:  # one more forward + backward (no update), recorded
        backend = sdpa_backend(torch, lambda: forward_backward(batch_of(step), model))  # eager: ops visible
        if args.compile:
            backend += " (eager; this run used torch.compile)"
        print(f"  attention kernel (training step): {backend}", flush=True)
    print("RESULT " + json.dumps(dict(version=torch.__version__, params=n_params, blas=blas, jemalloc=jemalloc,
                                      gemm=gemm, backend=backend, reason=reason, steps=step, times=times,
                                      tokens=tokens, losses=losses)), flush=True)


def philox_uniforms(seed, counters):
    """Rng::uniform_at for many counters at once (numpy uint64): philox4x32(seed, counter, 2) ->
    u64_to_unit_double(w0, w1). counters: uint64 array."""
    import numpy as np
    M = np.uint64(0xFFFFFFFF)
    c0, c1 = counters & M, counters >> np.uint64(32)
    c2 = np.full_like(counters, 2)
    c3 = np.zeros_like(counters)
    k0, k1 = np.uint64(seed & 0xFFFFFFFF), np.uint64((seed >> 32) & 0xFFFFFFFF)
    m0, m1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
    for _ in range(10):
        p0, p1 = m0 * c0, m1 * c2
        c0, c1, c2, c3 = (p1 >> np.uint64(32)) ^ c1 ^ k0, p1 & M, (p0 >> np.uint64(32)) ^ c3 ^ k1, p0 & M
        k0 = (k0 + np.uint64(0x9E3779B9)) & M
        k1 = (k1 + np.uint64(0xBB67AE85)) & M
    return ((c0 << np.uint64(32)) | c1) >> np.uint64(11), 2.0 ** -53


class Sampler:
    """decode::sample (search.cc) for a batch: temperature, top-k, top-p, inverse CDF in id order
    with Philox uniforms of stream (prompt index) and counter (tokens drawn)."""

    def __init__(self, torch, temperature, top_k, top_p, seed):
        self.torch, self.t, self.k, self.p, self.seed = torch, temperature, top_k, top_p, seed

    def uniforms(self, streams, max_new):
        """[rows, max_new] float64 uniforms of each row's stream."""
        import numpy as np
        c = (np.asarray(streams, dtype=np.uint64)[:, None] << np.uint64(32)) + np.arange(max_new, dtype=np.uint64)
        bits, scale = philox_uniforms(self.seed, c)
        return self.torch.from_numpy(bits.astype(np.float64) * scale)

    def choose(self, logits, u):
        """logits [N, V], u [N] -> tokens [N]."""
        torch = self.torch
        F = torch.nn.functional
        V = logits.size(1)
        probs = torch.softmax(F.log_softmax(logits.float(), -1).double() / self.t, -1)
        if self.k == 0 and self.p >= 1.0:
            keep = torch.ones_like(probs, dtype=torch.bool)
        else:
            sp, si = probs.sort(dim=-1, descending=True, stable=True)
            k = V if self.k == 0 else min(self.k, V)
            sp, si = sp[:, :k], si[:, :k]
            ks = torch.ones_like(sp, dtype=torch.bool)
            if self.p < 1.0:
                before = torch.cumsum(sp, -1) - sp  # the mass of the more probable kept tokens
                ks = before < self.p * sp.sum(-1, keepdim=True)
                ks[:, 0] = True
            keep = torch.zeros_like(probs, dtype=torch.bool).scatter_(1, si, ks)
        cdf = torch.cumsum(torch.where(keep, probs, torch.zeros_like(probs)), -1)
        idx = torch.searchsorted(cdf, (u * cdf[:, -1]).unsqueeze(1).contiguous(), right=True).squeeze(1)
        last = (keep * torch.arange(V)).argmax(-1)  # the last kept id
        return torch.where(idx >= V, last, idx)


def generate_batch(torch, model, cfg, prompts, streams, max_new, sampler=None):
    """attend generate's plan (module docstring) for one batch -> per row the generated ids (</s>
    included when the row ended with it)."""
    P, eos = cfg["max_positions"], cfg["eos_id"]
    prefix = [[eos] + p for p in prompts]
    N = len(prefix)
    m = min(len(p) for p in prefix)
    limit = [min(max_new, P - len(p) + 1) for p in prefix]
    u = sampler.uniforms(streams, max(limit)) if sampler else None
    out = [[] for _ in range(N)]
    fed = [m] * N
    cache = [[None, None] for _ in model.blocks.layers]
    active = list(range(N))
    logits = model.step(torch.tensor([p[:m] for p in prefix], dtype=torch.int64), cache, 0)
    position = m
    while True:
        if sampler is None:
            best = logits.argmax(1).tolist()
        else:
            rows = torch.tensor(active)
            drawn = torch.tensor([min(len(out[r]), limit[r] - 1) for r in active])
            best = sampler.choose(logits, u[rows, drawn]).tolist()
        keep, nxt = [], []
        for i, r in enumerate(active):
            if fed[r] < len(prefix[r]):  # still in its prompt
                nxt.append(prefix[r][fed[r]])
                fed[r] += 1
                keep.append(i)
                continue
            v = best[i]
            out[r].append(v)
            if v == eos or len(out[r]) >= limit[r]:
                continue
            keep.append(i)
            nxt.append(v)
        if not keep:
            break
        if len(keep) != len(active):
            idx = torch.tensor(keep)
            cache = [[k.index_select(0, idx), v.index_select(0, idx)] for k, v in cache]
            active = [active[i] for i in keep]
        logits = model.step(torch.tensor(nxt, dtype=torch.int64).unsqueeze(1), cache, position)
        position += 1
    return out


def run_generate_worker(args):
    import torch
    set_threads(torch, args.threads)
    model, cfg = load_model(torch, args.checkpoint)
    model.eval()
    prompts = read_ids(args.prompts)
    if args.limit:
        prompts = prompts[:args.limit]
    sampler = Sampler(torch, args.temperature, args.top_k, args.top_p, args.seed) if args.temperature > 0 else None
    backend = None
    if args.report_backend:  # under no_grad: inference_mode would hide the kernel the op dispatches to
        with torch.no_grad():
            backend = sdpa_backend(torch, lambda: generate_batch(torch, model, cfg, prompts[:2], [0, 1], 3, sampler))
    results = []
    with torch.inference_mode():
        generate_batch(torch, model, cfg, prompts[:1], [0], 2, sampler)  # warm-up, not timed
        t0 = time.perf_counter()
        for b in range(0, len(prompts), args.batch):
            rows = prompts[b:b + args.batch]
            results += generate_batch(torch, model, cfg, rows, list(range(b, b + len(rows))), args.max_new, sampler)
        seconds = time.perf_counter() - t0
    if args.out:
        write_ids(args.out, results)
    print("RESULT " + json.dumps(dict(version=torch.__version__, prompts=len(prompts), seconds=seconds,
                                      tokens=sum(len(r) for r in results), backend=backend)), flush=True)


# ---------------------------------------------------------------------------------------------
# Drivers: shared pieces

_LM_HEADER = re.compile(r"attend train: (\S+) \((\d+) parameters\), (\d+) training tokens in (\d+) documents, "
                        r"(\d+) validation tokens; vocabulary (\d+)")


def parse_lm_header(line):
    h = _LM_HEADER.match(line)
    return dict(arch=h[1], params=int(h[2]), tokens=int(h[3]), documents=int(h[4]), valid_tokens=int(h[5]),
                vocab=int(h[6])) if h else None


def model_flags(a, dropout=None):
    return ["--arch", "gpt", "--context", str(a.context), "--d-model", str(a.d_model), "--heads", str(a.heads),
            "--ffn", str(a.ffn), "--layers", str(a.layers),
            "--dropout", str(a.dropout if dropout is None else dropout),
            "--attention-dropout", str(a.attention_dropout), "--batch", str(a.batch), "--lr", str(a.lr),
            "--schedule", a.schedule, "--warmup", str(a.warmup), "--beta2", str(a.beta2), "--clip", str(a.clip),
            "--seed", str(a.seed), "--show", "0"]


class Corpus:
    """Training (and validation) text as attend's ids and streams, files under out_dir."""

    def __init__(self, a, out):
        self.a, self.out = a, out
        self.train = self._side("train", a.train_text)
        self.valid = self._side("valid", a.valid_text) if a.valid_text else None

    def _side(self, name, path):
        ids_path = os.path.join(self.out, f"{name}.ids")
        encode_ids(self.a.attend, self.a.spm, path, ids_path)
        stream, docs, words = text_stream(read_ids(ids_path), read_lines(path))
        spath = os.path.join(self.out, f"{name}.stream")
        write_stream(spath, stream)
        return dict(text=path, stream=spath, n=len(stream), documents=docs, words=words)


def attend_init(a, corpus, out, dropout=None):
    """attend's initial weights for these flags: a checkpoint after 0 steps (--max-time 1e-9 stops
    before the first step and saves)."""
    path = os.path.join(out, "init.ckpt" if dropout is None else f"init.dropout{dropout}.ckpt")
    cmd = [a.attend, "train", "--train-text", corpus.train["text"], "--spm", a.spm] + model_flags(a, dropout) + \
        ["--max-time", "1e-9", "--epochs", "100000", "--threads", "1", "-o", path]  # (a cosine horizon > warm-up)
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0 or "after 0 steps" not in r.stderr:
        sys.exit(f"could not make attend's initial checkpoint:\n$ {' '.join(cmd)}\n{r.stderr}")
    h = parse_lm_header(r.stderr.split("\n")[0])
    if h is None or h["tokens"] != corpus.train["n"] or h["documents"] != corpus.train["documents"]:
        sys.exit(f"attend's stream ({h}) differs from this script's ({corpus.train['n']} tokens, "
                 f"{corpus.train['documents']} documents): the encodings differ")
    return path


def torch_worker(a, mode, threads, extra, echo="  torch| "):
    cmd = [a.python, os.path.abspath(__file__), mode, "--threads", str(threads)] + extra
    wall, rss, rc, r = run_measured(cmd, env=torch_env("peer", threads, None), echo=echo)
    if rc != 0 or r is None:
        sys.exit(f"PyTorch {mode} failed (exit {rc}): {' '.join(cmd)}")
    r["wall"], r["rss"] = wall, rss
    return r


def torch_eval(a, ckpt, stream, threads):
    r = torch_worker(a, "eval-worker", threads, ["--checkpoint", ckpt, "--stream", stream, "--context",
                                                 str(a.context)], echo=None)
    return r["nll"], r["tokens"]


def attend_eval(a, ckpt, text, out, threads):
    js = os.path.join(out, "attend_eval.json")
    cmd = [a.attend, "eval", "-m", ckpt, "--text", text, "--context", str(a.context), "--threads", str(threads),
           "--json", js]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        sys.exit(f"attend eval failed:\n$ {' '.join(cmd)}\n{r.stderr}")
    with open(js) as f:
        return json.load(f)


def train_flags(a, init, stream, extra):
    return (["--compile"] if getattr(a, "torch_compile", False) else []) + \
        ["--init", init, "--stream", stream, "--context", str(a.context), "--batch", str(a.batch), "--lr", str(a.lr),
         "--schedule", a.schedule, "--warmup", str(a.warmup), "--beta2", str(a.beta2), "--clip", str(a.clip),
         "--seed", str(a.seed)] + extra


def print_cpu():
    cpu = cpu_model()
    print(f"# CPU: {cpu}", flush=True)
    return cpu


# ---------------------------------------------------------------------------------------------
# check: correctness before any timing

def compare_tensors(ta, tb, t0):
    """max |a - b| and ||a - b|| / ||a - init|| over all tensors (numpy dicts)."""
    import numpy as np
    diff2 = upd2 = 0.0
    worst, worst_name = 0.0, None
    for k in ta:
        d = np.abs(ta[k].astype(np.float64) - tb[k])
        if d.max() > worst:
            worst, worst_name = float(d.max()), k
        diff2 += float((d ** 2).sum())
        upd2 += float(((ta[k].astype(np.float64) - t0[k]) ** 2).sum())
    return worst, worst_name, math.sqrt(diff2 / max(upd2, 1e-300))


def run_check(a):
    """(a) eval: PyTorch's perplexity of attend's checkpoints = attend eval --text; (b) training: K
    steps without dropout from attend's initial weights on attend's first batches, PyTorch's
    weights vs attend's after each side's K steps; (c) a trained model's perplexity both ways."""
    os.makedirs(a.out_dir, exist_ok=True)
    out = a.out_dir
    print_cpu()
    corpus = Corpus(a, out)
    valid = corpus.valid or corpus.train
    print(f"# streams: train {corpus.train['n']} tokens ({corpus.train['documents']} documents), valid "
          f"{valid['n']} tokens ({valid['documents']} documents, {valid['words']} words)", flush=True)
    threads = a.check_threads
    failures = []

    def eval_both(ckpt, what):
        nll, tokens = torch_eval(a, ckpt, valid["stream"], threads)
        j = attend_eval(a, ckpt, valid["text"], out, threads)
        rel = abs(nll - j["nll"]) / j["nll"]
        ok = tokens == j["tokens"] and rel < a.tolerance
        print(f"# (a) {what}: PyTorch nll {nll:.6f} over {tokens} tokens (ppl {math.exp(nll / tokens):.6f}); "
              f"attend eval nll {j['nll']:.6f} over {j['tokens']} (ppl {j['ppl_token']:.6f}); relative difference "
              f"{rel:.2e} {'OK' if ok else 'MISMATCH'}", flush=True)
        if j["words"] != valid["words"] or j["documents"] != valid["documents"]:
            print(f"#     words/documents: attend {j['words']}/{j['documents']}, this script {valid['words']}/"
                  f"{valid['documents']}  MISMATCH", flush=True)
            ok = False
        if not ok:
            failures.append(what)
        return nll, tokens

    # (a) on attend's initial weights (a random model still tells a wrong mapping apart)
    init = attend_init(a, corpus, out)
    eval_both(init, "initial weights")

    # (b) K steps without dropout, attend vs PyTorch, same initial weights and batches
    K = a.check_steps
    warm = max(1, min(a.warmup, K // 2))
    init0 = attend_init(a, corpus, out, dropout=0.0)
    a_ckpt, t_ckpt = os.path.join(out, "check.attend.ckpt"), os.path.join(out, "check.torch.ckpt")
    flags = model_flags(a, dropout=0.0)
    flags[flags.index("--warmup") + 1] = str(warm)
    cmd = [a.attend, "train", "--train-text", corpus.train["text"], "--spm", a.spm] + flags + \
        ["--max-steps", str(K), "--threads", str(threads), "-o", a_ckpt]
    header, lines = follow_attend_train(cmd, parse_lm_header)
    r = torch_worker(a, "train-worker", threads, ["--init", init0, "--stream", corpus.train["stream"], "--context",
                                                  str(a.context), "--batch", str(a.batch), "--lr", str(a.lr),
                                                  "--schedule", a.schedule, "--warmup", str(warm), "--beta2",
                                                  str(a.beta2), "--clip", str(a.clip), "--seed", str(a.seed),
                                                  "--max-steps", str(K), "--save", t_ckpt])
    n, T = corpus.train["n"], a.context
    plan = window_plan(num_windows(n, T), a.batch, 0, a.seed)
    per_epoch = len(plan)
    want = [batch_targets(n, T, ids) for e in range((K + per_epoch - 1) // per_epoch)
            for ids in window_plan(num_windows(n, T), a.batch, e, a.seed)][:K]
    if r["tokens"] != want:
        failures.append("PyTorch's batches")
        print(f"# (b) PyTorch's batch token counts {r['tokens']} != the plan's {want}  MISMATCH", flush=True)
    last = lines[-1] if lines else None
    if last is not None:  # attend's last progress line: the mean loss of its epoch so far (token-weighted)
        s1, s0 = last["step"], last["step"] - last["batch"]
        mean_t = sum(l * t for l, t in zip(r["losses"][s0:s1], r["tokens"][s0:s1])) / sum(r["tokens"][s0:s1])
        print(f"# (b) mean loss over steps {s0 + 1}..{s1}: attend {last['loss']:.4f}, PyTorch {mean_t:.4f}",
              flush=True)
    ta, _ = read_checkpoint(a_ckpt)
    tb, _ = read_checkpoint(t_ckpt)
    t0, _ = read_checkpoint(init0)
    worst, name, rel = compare_tensors(ta, tb, t0)
    ok = rel < a.step_tolerance
    print(f"# (b) after {K} steps (no dropout, warm-up {warm}, {a.schedule} to step {K}): weights differ by at most "
          f"{worst:.2e} ({name}); |attend - PyTorch| / |attend - initial| = {rel:.2e} "
          f"{'OK' if ok else 'MISMATCH'}", flush=True)
    if not ok:
        failures.append("training steps")
    # (c) the trained models: PyTorch's checkpoint read by attend eval, attend's by PyTorch
    na, ka = eval_both(a_ckpt, f"attend after {K} steps")
    nt, kt = eval_both(t_ckpt, f"PyTorch after {K} steps (its weights written as an attend checkpoint)")
    print(f"# (b) validation perplexity after {K} steps: attend's weights {math.exp(na / ka):.4f}, PyTorch's "
          f"{math.exp(nt / kt):.4f}", flush=True)
    if failures:
        sys.exit("check FAILED: " + ", ".join(failures))
    print("# check passed", flush=True)
    return corpus


# ---------------------------------------------------------------------------------------------
# train-speed: tokens/s on each thread count, interleaved repeats

def run_train_speed(a, corpus=None):
    out = a.out_dir
    os.makedirs(out, exist_ok=True)
    cpu = print_cpu()
    corpus = corpus or Corpus(a, out)
    init = attend_init(a, corpus, out)
    n, T = corpus.train["n"], a.context
    plan = window_plan(num_windows(n, T), a.batch, 0, a.seed)
    total = a.warmup_steps + a.steps
    if total >= len(plan):
        sys.exit(f"--warmup-steps + --steps = {total}: keep it below the {len(plan)} batches of an epoch "
                 "(attend ends an epoch with a checkpoint)")
    # The schedule runs to the last step of these short runs (--max-steps); attend's cosine needs more
    # steps than warm-up, so the warm-up is cut below them here (the rates do not depend on the lr).
    a0, a = a, argparse.Namespace(**vars(a))
    a.warmup = min(a0.warmup, total - 1)
    cum = [0]
    for ids in plan[:total]:
        cum.append(cum[-1] + batch_targets(n, T, ids))
    threads_list = [int(t) for t in str(a.threads).split(",") if t]
    sgemm = sgemm_ceiling(a.sgemm_bench, threads_list)
    if sgemm:
        print("# attend SGEMM ceiling (kernels::gemm 2048^3): " +
              ", ".join(f"{t} thr {g:.0f} GFLOP/s" for t, g in sorted(sgemm.items())), flush=True)
    rates = {(t, s): [] for t in threads_list for s in ("attend", "torch")}
    info = {}
    for rep in range(a.repeats):
        for threads in threads_list:
            print(f"\n## repeat {rep + 1}/{a.repeats}, {threads} thread(s)", flush=True)
            with tempfile.TemporaryDirectory(prefix="gpt_speed_") as work:
                cmd = [a.attend, "train", "--train-text", corpus.train["text"], "--spm", a.spm] + model_flags(a) + \
                    ["--max-steps", str(total), "--threads", str(threads), "-o", os.path.join(work, "gpt.ckpt")]
                header, lines = follow_attend_train(cmd, parse_lm_header)
            if header["tokens"] != n:
                sys.exit(f"attend's stream has {header['tokens']} tokens, this script's {n}")
            la, lb, rate_a = attend_interval(lines, len(plan), cum, a.warmup_steps)
            s0, s1 = la["step"], lb["step"]
            rates[(threads, "attend")].append(rate_a)
            info["attend_params"] = header["params"]
            print(f"# attend: {rate_a:.0f} tok/s over steps {s0 + 1}..{s1} ({cum[s1] - cum[s0]} tokens in "
                  f"{lb['t'] - la['t']:.2f} s)", flush=True)
            r = torch_worker(a, "train-worker", threads,
                             train_flags(a, init, corpus.train["stream"],
                                         ["--max-steps", str(total), "--gemm", "--report-backend"]))
            if r["tokens"] != [cum[k + 1] - cum[k] for k in range(total)]:
                sys.exit("PyTorch's batches differ from the plan")
            rate_t = (cum[s1] - cum[s0]) / (r["times"][s1 - 1] - r["times"][s0 - 1])
            rates[(threads, "torch")].append(rate_t)
            info["torch"] = dict(version=r["version"], params=r["params"], backend=r["backend"], blas=r["blas"],
                                 jemalloc=r["jemalloc"],
                                 gemm={**info.get("torch", {}).get("gemm", {}), str(threads): r["gemm"]})
            print(f"# PyTorch: {rate_t:.0f} tok/s over steps {s0 + 1}..{s1}; attend/PyTorch {rate_a / rate_t:.2f}x; "
                  f"mean loss over steps 1..{s1}: PyTorch "
                  f"{sum(l * t for l, t in zip(r['losses'][:s1], r['tokens'][:s1])) / cum[s1]:.4f}, attend "
                  f"{lb['loss']:.4f} (same data and initial weights, other dropout masks)", flush=True)
    table = [dict(threads=t, attend=median(rates[(t, "attend")]), torch=median(rates[(t, "torch")]),
                  runs=dict(attend=rates[(t, "attend")], torch=rates[(t, "torch")])) for t in threads_list]
    ti = info.get("torch", {})
    md = [f"GPT training tokens/s, {desc(a0)}; corpus {os.path.basename(os.path.dirname(os.path.abspath(corpus.train['text'])))}/"
          f"{os.path.basename(corpus.train['text'])} ({n} tokens). Rate over steps {a.warmup_steps + 1}.."
          f"{total} (after {a.warmup_steps} warm-up steps), the same batches from the same initial weights "
          f"(lr warm-up {a.warmup} steps in these short runs); "
          f"median of {a.repeats} interleaved repeat(s); ratio > 1: attend faster.",
          "",
          "| threads | attend tok/s | PyTorch tok/s | attend/PyTorch |",
          "|---:|---:|---:|---:|"]
    for row in table:
        md.append(f"| {row['threads']} | {row['attend']:.0f} | {row['torch']:.0f} | "
                  f"{fmt_ratio(row['attend'], row['torch'])} |")
    md += ["", f"CPU: {cpu}."]
    if sgemm:
        md.append("attend SGEMM ceiling (kernels::gemm 2048^3): " +
                  ", ".join(f"{t} thr {g:.0f} GFLOP/s" for t, g in sorted(sgemm.items())) + ".")
    if ti:
        md.append(f"PyTorch {ti['version']}: {ti['params']} parameters (attend {info.get('attend_params')}); "
                  f"attention kernel in training: {ti['backend']}; BLAS {ti['blas']} (SGEMM 2048^3 " +
                  ", ".join(f"{t} thr {g:.0f}" for t, g in sorted(ti["gemm"].items()) if g) +
                  f" GFLOP/s); jemalloc {'yes' if ti['jemalloc'] else 'no'}.")
    return table, md, dict(cpu=cpu, sgemm=sgemm, info=info)


def desc(a):
    return (f"C {a.d_model}, {a.heads} heads, ffn {a.ffn}, {a.layers} layers, context {a.context}, batch {a.batch} "
            f"windows, dropout {a.dropout}, attention dropout {a.attention_dropout}, Adam lr {a.lr} beta2 {a.beta2}, "
            f"{a.schedule} schedule, warm-up {a.warmup}, clip {a.clip}, seed {a.seed}; PyTorch "
            + ("torch.compile(model)" if a.torch_compile else "eager"))


# ---------------------------------------------------------------------------------------------
# wall-time: both train for the same minutes from the same start; perplexity of each

def run_wall_time(a, corpus=None, rates=None):
    out = a.out_dir
    os.makedirs(out, exist_ok=True)
    cpu = print_cpu()
    corpus = corpus or Corpus(a, out)
    if not corpus.valid:
        sys.exit("wall-time needs --valid-text")
    init = attend_init(a, corpus, out)
    n, T, B = corpus.train["n"], a.context, a.batch
    per_epoch = (num_windows(n, T) + B - 1) // B
    threads = a.wall_threads
    horizon = a.horizon
    if not horizon:
        if not rates:
            sys.exit("wall-time needs --horizon STEPS (the schedule's length) or the training rates of train-speed")
        best = max(rates)
        horizon = max(a.warmup + 1, int(round(best * a.minutes * 60.0 / (B * T))))
        print(f"# schedule horizon: {horizon} steps = what the faster side's measured {best:.0f} tok/s covers in "
              f"{a.minutes} min at {B * T} tokens per step", flush=True)
    # attend: --max-steps is the cosine horizon and a cap, --max-time the budget; no validation inside.
    a_ckpt, t_ckpt = os.path.join(out, "attend.ckpt"), os.path.join(out, "torch.ckpt")
    cmd = [a.attend, "train", "--train-text", corpus.train["text"], "--spm", a.spm] + model_flags(a) + \
        ["--max-steps", str(horizon), "--epochs", "100000", "--max-time", str(a.minutes), "--threads", str(threads),
         "-o", a_ckpt]
    t0 = time.perf_counter()
    header, lines = follow_attend_train(cmd, parse_lm_header)
    wall_a = time.perf_counter() - t0
    _, meta = checkpoint_meta(a_ckpt)  # the exact step count: the checkpoint's trainer state
    steps_a = json.loads(meta["trainer"])["global_step"]
    r = torch_worker(a, "train-worker", threads,
                     train_flags(a, init, corpus.train["stream"],
                                 ["--max-steps", str(horizon), "--epochs", "100000", "--max-time-s",
                                  str(60.0 * a.minutes), "--save", t_ckpt, "--log-every-s", "30"]))
    steps_t = r["steps"]
    res = {}
    for side, ckpt in (("attend", a_ckpt), ("torch", t_ckpt)):
        nll, tok = torch_eval(a, ckpt, corpus.valid["stream"], threads)
        j = attend_eval(a, ckpt, corpus.valid["text"], out, threads)
        res[side] = dict(ppl_torch_eval=math.exp(nll / tok), ppl_word_torch_eval=math.exp(nll / corpus.valid["words"]),
                         ppl_attend_eval=j["ppl_token"], ppl_word_attend_eval=j["ppl_word"])
    md = [f"Same wall time: {a.minutes} min of training on {threads} thread(s) each, from attend's initial weights, "
          f"the same window order; {desc(a)}; the {a.schedule} schedule runs to step {horizon} (a cap as well). "
          f"Validation: {os.path.basename(corpus.valid['text'])} ({corpus.valid['n'] - 1} tokens, "
          f"{corpus.valid['words']} words), windows of {T}.",
          "",
          "| side | steps | epochs | valid ppl/token (PyTorch eval) | (attend eval) | ppl/word (PyTorch eval) |",
          "|---|---:|---:|---:|---:|---:|"]
    for side, steps in (("attend", steps_a), ("torch", steps_t)):
        x = res[side]
        md.append(f"| {side} | {steps} | {steps / per_epoch:.2f} | {x['ppl_torch_eval']:.3f} | "
                  f"{x['ppl_attend_eval']:.3f} | {x['ppl_word_torch_eval']:.3f} |")
    md += ["", f"attend: stopped after {steps_a} steps ({wall_a:.0f} s including start-up); PyTorch: {r['reason']} "
           f"after {steps_t} steps ({r['times'][-1] if r['times'] else 0:.0f} s of training). CPU: {cpu}."]
    return res, md


# ---------------------------------------------------------------------------------------------
# generate-speed: attend vs PyTorch (own cache) vs CTranslate2, outputs compared before timing

def run_generate_speed(a):
    out = a.out_dir
    os.makedirs(out, exist_ok=True)
    cpu = print_cpu()
    ckpt = a.checkpoint
    spec, _ = checkpoint_meta(ckpt)
    cfg = spec["model"]
    spm = checkpoint_spm(ckpt, os.path.join(out, "model.spm"))
    vocab = checkpoint_vocab(ckpt)
    # Prompts: the first --prompt-words words of each document of --prompts-from.
    texts = [l for l in read_lines(a.prompts_from) if l.split()]
    if a.prompts:
        texts = texts[:a.prompts]
    prompts_txt = os.path.join(out, "prompts.txt")
    with open(prompts_txt, "wb") as f:
        for t in texts:
            f.write(b" ".join(t.split()[:a.prompt_words]) + b"\n")
    prompt_ids = os.path.join(out, "prompts.ids")
    encode_ids(a.attend, spm, prompts_txt, prompt_ids)
    prompts = read_ids(prompt_ids)
    prompt_lines = read_lines(prompts_txt)
    threads_list = [int(t) for t in str(a.threads).split(",") if t]
    batches = [int(b) for b in str(a.batches).split(",") if b]
    modes = [m for m in str(a.modes).split(",") if m]
    ct2_types = [c for c in str(a.ct2).split(",") if c]
    print(f"# model: {json.dumps(cfg)}; {len(prompts)} prompts of {a.prompt_words} words from {a.prompts_from}; "
          f"max-new {a.max_new}", flush=True)
    ct2_dirs = {}
    for ct in ct2_types:
        d = os.path.join(out, f"ct2.{ct}")
        run = subprocess.run([a.python, os.path.join(HERE, "gpt_to_ctranslate2.py"), "--checkpoint", ckpt, "--out", d,
                              "--quantization", ct, "--force"], env=torch_env("peer", 1, None))
        if run.returncode != 0:
            sys.exit(f"gpt_to_ctranslate2.py failed for {ct}")
        ct2_dirs[ct] = d
    # The conversion checked: CTranslate2's perplexity of --prompts-from (score_batch over attend's
    # evaluation windows) against attend eval --text.
    scores = {}
    if ct2_types:
        text_ids = os.path.join(out, "score.ids")
        encode_ids(a.attend, spm, a.prompts_from, text_ids)
        stream, _, _ = text_stream(read_ids(text_ids), read_lines(a.prompts_from))
        write_stream(os.path.join(out, "score.stream"), stream)
        T = cfg["max_positions"]
        j = attend_eval(argparse.Namespace(attend=a.attend, context=T), ckpt, a.prompts_from, out, max(threads_list))
        for ct in ct2_types:
            _, _, rc, r = run_measured([a.python, os.path.join(HERE, "gpt_to_ctranslate2.py"), "--score", ct2_dirs[ct],
                                        "--stream", os.path.join(out, "score.stream"), "--context", str(T),
                                        "--threads", str(max(threads_list))], env=torch_env("peer", 1, None))
            if rc != 0 or r is None:
                sys.exit(f"CTranslate2 --score failed for {ct}")
            scores[ct] = (r["nll"] - j["nll"]) / j["nll"]
            print(f"# CTranslate2 {ct} perplexity of {os.path.basename(a.prompts_from)}: "
                  f"{math.exp(r['nll'] / r['tokens']):.4f} over {r['tokens']} tokens; attend eval "
                  f"{j['ppl_token']:.4f} over {j['tokens']} (nll relative difference {scores[ct]:+.2e})", flush=True)
            if r["tokens"] != j["tokens"] or (ct == "float32" and abs(scores[ct]) > 1e-4):
                sys.exit(f"CTranslate2 {ct} does not score as attend does: the conversion is wrong")

    def attend_measured(cmd):
        """run_measured for attend generate, its generation seconds read from its stderr summary
        line ("attend generate: P prompt(s), T token(s) in S s (...)")."""
        with tempfile.TemporaryFile(mode="w+") as err:
            t0 = time.perf_counter()
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - t0
            err.seek(0)
            text = err.read()
        m = re.search(r"^attend generate: \d+ prompt\(s\), \d+ token\(s\) in ([0-9.]+) s", text, re.M)
        rc = os.waitstatus_to_exitcode(status)
        if rc == 0 and not m:
            sys.exit(f"attend generate printed no summary line: {' '.join(cmd)}\n{text}")
        return wall, usage.ru_maxrss / 1024.0, rc, dict(seconds=float(m.group(1))) if m else None

    def sampling(mode):
        return ["--temperature", "0"] if mode == "greedy" else \
            ["--temperature", str(a.temperature), "--top-p", str(a.top_p), "--top-k", str(a.top_k), "--seed",
             str(a.seed)]

    def attend_cmd(mode, batch, threads, inp, outp, max_new):
        return [a.attend, "generate", "-m", ckpt, "--prompt-file", inp, "--max-new", str(max_new), "--batch",
                str(batch), "--threads", str(threads), "-o", outp] + sampling(mode)

    def torch_cmd(mode, batch, threads, inp, outp, max_new, backend=False):
        return [a.python, os.path.abspath(__file__), "generate-worker", "--checkpoint", ckpt, "--prompts", inp,
                "--max-new", str(max_new), "--batch", str(batch), "--threads", str(threads), "--out", outp] + \
            sampling(mode) + (["--report-backend"] if backend else [])

    def ct2_cmd(ct, mode, batch, threads, inp, outp, max_new):
        return [a.python, os.path.join(HERE, "gpt_to_ctranslate2.py"), "--generate", ct2_dirs[ct], "--prompts", inp,
                "--max-new", str(max_new), "--batch", str(batch), "--threads", str(threads), "--out", outp] + \
            sampling(mode)

    def decode_texts(rows):
        """attend's Generation text for ids rows (generated ids without </s>), per prompt: the prompt,
        then what detokenize(prompt + ids) adds to detokenize(prompt) (app/generator.cc)."""
        both = os.path.join(out, "decode.ids")
        write_ids(both, [p + g for p, g in zip(prompts, rows)] + prompts)
        r = subprocess.run([a.attend, "vocab", "--model", spm, "--decode", "--ids", "-i", both], stdout=subprocess.PIPE,
                           check=True)
        lines = r.stdout.split(b"\n")[:2 * len(prompts)]
        full, ptext = lines[:len(prompts)], lines[len(prompts):]
        return [pl + (f[len(pt):] if f.startswith(pt) else b"") for pl, f, pt in zip(prompt_lines, full, ptext)]

    # 1. Outputs compared before timing (largest thread count, every batch size and mode).
    t_check = max(threads_list)
    agree, counts, backend = {}, {}, None
    for mode in modes:
        for batch in batches:
            a_out = os.path.join(out, f"attend.{mode}.b{batch}.txt")
            _, _, rc, _ = run_measured(attend_cmd(mode, batch, t_check, prompts_txt, a_out, a.max_new))
            if rc != 0:
                sys.exit(f"attend generate exited with {rc}: {' '.join(attend_cmd(mode, batch, t_check, prompts_txt, a_out, a.max_new))}")
            a_lines = read_lines(a_out)
            t_ids = os.path.join(out, f"torch.{mode}.b{batch}.ids")
            _, _, rc, r = run_measured(torch_cmd(mode, batch, t_check, prompt_ids, t_ids, a.max_new,
                                                 backend=backend is None), env=torch_env("peer", t_check, None),
                                       echo="  torch| ")
            if rc != 0 or r is None:
                sys.exit(f"the PyTorch generator exited with {rc}")
            backend = backend or r["backend"]
            t_rows = read_ids(t_ids)
            strip = lambda rows: [x[:-1] if x and x[-1] == EOS else x for x in rows]
            t_text = decode_texts(strip(t_rows))
            same = sum(x == y for x, y in zip(a_lines, t_text))
            agree[(mode, batch, "torch")] = (same, len(prompts))
            counts[(mode, batch)] = [len(x) for x in t_rows]  # tokens generated, </s> included
            print(f"# {mode}, batch {batch}: PyTorch and attend generate the same text for {same} of {len(prompts)} "
                  f"prompts", flush=True)
            diffs = [(i, x, y) for i, (x, y) in enumerate(zip(a_lines, t_text)) if x != y][:2]
            for i, x, y in diffs:
                print(f"#   prompt {i + 1}: attend  {x.decode('utf-8', 'replace')[:300]}\n"
                      f"#   {'':>{len(str(i + 1)) + 7}} PyTorch {y.decode('utf-8', 'replace')[:300]}", flush=True)
            for ct in ct2_types:
                c_ids = os.path.join(out, f"ct2.{ct}.{mode}.b{batch}.ids")
                _, _, rc, r = run_measured(ct2_cmd(ct, mode, batch, t_check, prompt_ids, c_ids, a.max_new),
                                           env=torch_env("peer", t_check, None), echo="  ct2| ")
                if rc != 0 or r is None:
                    sys.exit(f"the CTranslate2 generator exited with {rc}")
                c_rows = read_ids(c_ids)
                same_ids = sum(x == y for x, y in zip(c_rows, t_rows))
                agree[(mode, batch, "ct2." + ct)] = (same_ids, len(prompts))
                counts[(mode, batch, ct)] = [len(x) for x in c_rows]
                print(f"# {mode}, batch {batch}: CTranslate2 {ct} and PyTorch generate the same tokens for {same_ids} "
                      f"of {len(prompts)} prompts", flush=True)
    g = [agree[(m, b, "torch")] for m in modes for b in batches if m == "greedy"]
    pct = 100.0 * sum(s for s, _ in g) / max(1, sum(n for _, n in g))
    if "greedy" in modes and pct < a.min_agreement:
        sys.exit(f"greedy agreement attend/PyTorch {pct:.1f}% < --min-agreement {a.min_agreement}: not timing")
    print(f"# PyTorch attention kernel in a generation step: {backend}", flush=True)

    # 2. Timing, interleaved (every side of one configuration in turn), medians of --repeats.
    # Every side's own clock around its generation loop (the model loaded, imports done): attend
    # generate's summary line on stderr ("... in S s"), the RESULT line of the Python peers. A
    # process's start-up (loading the checkpoint; a Python interpreter's seconds) would swamp a
    # subtraction on runs this short. The whole-process times are kept as well.
    # Tokens: what PyTorch generated (</s> included) for attend and PyTorch (the same texts, above);
    # CTranslate2's own count for it.
    sides = ["attend", "torch"] + ["ct2." + c for c in ct2_types]
    meas = {}
    for rep in range(a.repeats):
        for threads in threads_list:
            for mode in modes:
                for batch in batches:
                    for side in sides:
                        m = meas.setdefault((threads, mode, batch, side), dict(full=[], inner=[], rss=[]))
                        o = os.path.join(out, "timing.out")
                        if side == "attend":
                            cmd = attend_cmd(mode, batch, threads, prompts_txt, o, a.max_new)
                            wall, rss, rc, r = attend_measured(cmd)
                        else:
                            cmd = torch_cmd(mode, batch, threads, prompt_ids, o, a.max_new) if side == "torch" else \
                                ct2_cmd(side[4:], mode, batch, threads, prompt_ids, o, a.max_new)
                            wall, rss, rc, r = run_measured(cmd, env=torch_env("peer", threads, None))
                        if rc != 0 or r is None:
                            sys.exit(f"{side} exited with {rc} or reported no time: {' '.join(cmd)}")
                        m["full"].append(wall)
                        m["rss"].append(rss)
                        m["inner"].append(r["seconds"])
                        print(f"# repeat {rep + 1}, {threads} thr, {mode}, batch {batch}, {side}: whole process "
                              f"{m['full'][-1]:.2f} s" +
                              (f"; generation alone {m['inner'][-1]:.2f} s" if m["inner"] else ""), flush=True)
    table = []
    for threads in threads_list:
        for mode in modes:
            for batch in batches:
                row = dict(threads=threads, mode=mode, batch=batch)
                for side in sides:
                    m = meas[(threads, mode, batch, side)]
                    n_tok = sum(counts[(mode, batch, side[4:])] if side.startswith("ct2.") else counts[(mode, batch)])
                    secs = median(m["inner"])
                    row[side] = n_tok / secs if secs and secs > 0 else None
                    row[side + "_tokens"] = n_tok
                    row[side + "_wall"] = median(m["full"])
                    row[side + "_rss"] = max(m["rss"])
                table.append(row)
    md = [f"GPT generation with a key/value cache: checkpoint {ckpt} ({cfg['num_layers']} layers, C {cfg['d_model']}, "
          f"{cfg['num_heads']} heads, ffn {cfg['ffn_dim']}, vocabulary {cfg['vocab']}, context {cfg['max_positions']}); "
          f"{len(prompts)} prompts (the first {a.prompt_words} words of each document of "
          f"{os.path.basename(a.prompts_from)}), at most {a.max_new} new tokens each, batches of B prompts in file "
          f"order; greedy, and sampling at temperature {a.temperature}, top-p {a.top_p}, top-k {a.top_k}, seed "
          f"{a.seed}. Generated tokens/s = tokens (</s> included) / seconds, every side's own clock around its "
          f"generation loop (model loaded; attend generate's summary line); medians of {a.repeats} interleaved repeat(s). "
          f"Tokens: PyTorch's count for attend and PyTorch (their texts agree, below), CTranslate2's own for it.",
          "",
          "| threads | mode | batch | " + " | ".join(f"{s} tok/s" for s in sides) + " | " +
          " | ".join(f"attend/{s}" for s in sides[1:]) + " |",
          "|---:|---|---:|" + "---:|" * (2 * len(sides) - 1)]
    for r in table:
        md.append(f"| {r['threads']} | {r['mode']} | {r['batch']} | " +
                  " | ".join(f"{r[s]:.0f}" if r[s] else "-" for s in sides) + " | " +
                  " | ".join(fmt_ratio(r["attend"], r[s]) for s in sides[1:]) + " |")
    md += ["", "Identical outputs (checked before timing, " + f"{t_check} thread(s)): " + "; ".join(
        f"{m} batch {b} {s}: {agree[(m, b, s)][0]}/{agree[(m, b, s)][1]}" for (m, b, s) in agree) +
        " (attend vs PyTorch: the same text; CTranslate2 vs PyTorch: the same token ids).",
        "Whole-process wall times (s, medians; a Python process needs seconds to start): " + ", ".join(
            f"{r['threads']} thr {r['mode']} b{r['batch']} " + "/".join(f"{r[s + '_wall']:.2f}" for s in sides)
            for r in table) + f" ({' / '.join(sides)}).",
        "Max RSS (MiB): " + ", ".join(f"{s} {max(r[s + '_rss'] for r in table):.0f}" for s in sides) + ".",
        "Conversion check, CTranslate2's perplexity vs attend eval --text on "
        f"{os.path.basename(a.prompts_from)} (nll relative difference): " +
        ", ".join(f"{ct} {d:+.1e}" for ct, d in scores.items()) + ".",
        f"PyTorch attention kernel in a generation step: {backend}.", f"CPU: {cpu}."]
    text = "\n".join(md)
    print("\n" + text)
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write(text + "\n")
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(dict(command=a.command, cpu=cpu, table=table, agreement={"/".join(map(str, k)): v
                                                                           for k, v in agree.items()},
                       runs={"/".join(map(str, k)): v for k, v in meas.items()}), f, indent=1)
    print(f"\n(written to {out}/results.md and results.json)")


# ---------------------------------------------------------------------------------------------

def add_model_args(p):
    p.add_argument("--context", type=int, default=256)
    p.add_argument("--d-model", type=int, default=256)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--ffn", type=int, default=1024)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--attention-dropout", type=float, default=0.0)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--schedule", default="cosine")
    p.add_argument("--warmup", type=int, default=200)
    p.add_argument("--beta2", type=float, default=0.99)
    p.add_argument("--clip", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=1)


def add_driver_args(p):
    p.add_argument("--attend", required=True)
    p.add_argument("--python", required=True, help="python of the PyTorch 2.x environment")
    p.add_argument("--out-dir", required=True)
    p.add_argument("--command", default="")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="mode", required=True)

    p = sub.add_parser("bench", help="check, then train-speed, then wall-time (bench/gpt_speed.sh)")
    add_driver_args(p)
    add_model_args(p)
    p.add_argument("--spm", required=True)
    p.add_argument("--train-text", required=True)
    p.add_argument("--valid-text", required=True)
    p.add_argument("--threads", default="1,2")
    p.add_argument("--warmup-steps", type=int, default=None, help="speed: steps before the measured ones (15; quick 2)")
    p.add_argument("--steps", type=int, default=None, help="speed: measured steps (50; quick 4)")
    p.add_argument("--repeats", type=int, default=None, help="speed: interleaved repeats (3; quick 1)")
    p.add_argument("--minutes", type=float, default=None, help="wall time of each side (20; quick 1)")
    p.add_argument("--wall-threads", type=int, default=None, help="threads of the wall-time runs (default: the largest)")
    p.add_argument("--horizon", type=int, default=0, help="the schedule's steps in the wall-time runs (default: "
                   "what the faster side's measured rate covers in --minutes)")
    p.add_argument("--check-steps", type=int, default=6)
    p.add_argument("--check-threads", type=int, default=None)
    p.add_argument("--tolerance", type=float, default=1e-5, help="relative nll difference allowed in (a)")
    p.add_argument("--step-tolerance", type=float, default=0.05,
                   help="|attend - PyTorch| / |attend - initial| allowed after the check's steps")
    p.add_argument("--sgemm-bench", default=None)
    p.add_argument("--skip", default="", help="comma list of parts to skip: check, speed, wall")
    p.add_argument("--torch-compile", action="store_true",
                   help="PyTorch trains torch.compile(model) in the speed and wall-time parts (compiled during "
                   "the warm-up steps; in the wall-time run the compilation counts against its minutes)")
    p.add_argument("--quick", action="store_true")

    p = sub.add_parser("generate-speed", help="generation tokens/s (bench/gpt_generate_speed.sh)")
    add_driver_args(p)
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--prompts-from", required=True, help="documents, one per line: prompts are their first words")
    p.add_argument("--prompts", type=int, default=0, help="use the first N documents (0: all)")
    p.add_argument("--prompt-words", type=int, default=8)
    p.add_argument("--max-new", type=int, default=100)
    p.add_argument("--threads", default="1,2")
    p.add_argument("--batches", default="1,16")
    p.add_argument("--modes", default="greedy,sample")
    p.add_argument("--temperature", type=float, default=0.8)
    p.add_argument("--top-p", type=float, default=0.9)
    p.add_argument("--top-k", type=int, default=0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--ct2", default="float32,int8", help="CTranslate2 compute types ('' : none)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--min-agreement", type=float, default=90.0, help="greedy agreement (%%) needed to time")
    p.add_argument("--quick", action="store_true", help="16 prompts, 32 new tokens, 1 repeat")

    p = sub.add_parser("eval-worker")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--stream", required=True)
    p.add_argument("--context", type=int, default=0)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--threads", type=int, default=1)

    p = sub.add_parser("train-worker")
    p.add_argument("--init", required=True)
    p.add_argument("--stream", required=True)
    p.add_argument("--context", type=int, required=True)
    p.add_argument("--batch", type=int, required=True)
    p.add_argument("--lr", type=float, required=True)
    p.add_argument("--schedule", default="cosine")
    p.add_argument("--warmup", type=int, default=0)
    p.add_argument("--beta2", type=float, default=0.999)
    p.add_argument("--clip", type=float, default=5.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--max-steps", type=int, default=0)
    p.add_argument("--epochs", type=int, default=10, help="as attend train's --epochs")
    p.add_argument("--max-time-s", type=float, default=0.0)
    p.add_argument("--save", default=None)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--gemm", action="store_true", help="measure PyTorch's SGEMM 2048^3 first")
    p.add_argument("--report-backend", action="store_true")
    p.add_argument("--log-every-s", type=float, default=10.0)
    p.add_argument("--compile", action="store_true", help="train torch.compile(model)")

    p = sub.add_parser("generate-worker")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--prompts", required=True, help="prompt ids, one prompt per line")
    p.add_argument("--out", default=None)
    p.add_argument("--limit", type=int, default=0)
    p.add_argument("--max-new", type=int, default=100)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--temperature", type=float, default=0.0)
    p.add_argument("--top-k", type=int, default=0)
    p.add_argument("--top-p", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--report-backend", action="store_true")

    a = ap.parse_args()
    if a.mode == "bench":
        q = a.quick
        # PyTorch's first ~25 steps run 15-20% slower than its later ones (allocator and MKL
        # warming up; attend's do not), so the default window starts after 15 and runs 50.
        a.warmup_steps = a.warmup_steps if a.warmup_steps is not None else 2 if q else 15
        a.steps = a.steps if a.steps is not None else 4 if q else 50
        a.repeats = a.repeats if a.repeats is not None else 1 if q else 3
        a.minutes = a.minutes if a.minutes is not None else 1.0 if q else 20.0
        threads = [int(t) for t in str(a.threads).split(",") if t]
        a.wall_threads = a.wall_threads or max(threads)
        a.check_threads = a.check_threads or max(threads)
        run_bench(a)
    elif a.mode == "generate-speed":
        if a.quick:
            a.prompts, a.max_new, a.repeats = a.prompts or 16, 32, 1
        run_generate_speed(a)
    elif a.mode == "eval-worker":
        run_eval_worker(a)
    elif a.mode == "train-worker":
        run_train_worker(a)
    else:
        run_generate_worker(a)


def run_bench(a):
    os.makedirs(a.out_dir, exist_ok=True)
    skip = set(s for s in a.skip.split(",") if s)
    corpus = run_check(a) if "check" not in skip else Corpus(a, a.out_dir)
    md, rates, result = [], None, {}
    if "speed" not in skip:
        table, speed_md, info = run_train_speed(a, corpus)
        md += speed_md + [""]
        result["speed"] = dict(table=table, **info)
        row = [r for r in table if r["threads"] == a.wall_threads]
        rates = [row[0]["attend"], row[0]["torch"]] if row else None
    if "wall" not in skip:
        res, wall_md = run_wall_time(a, corpus, rates)
        md += wall_md + [""]
        result["wall"] = res
    md.append(f"Command: `{a.command}`")
    text = "\n".join(md)
    print("\n" + text)
    with open(os.path.join(a.out_dir, "results.md"), "w") as f:
        f.write(text + "\n")
    with open(os.path.join(a.out_dir, "results.json"), "w") as f:
        json.dump(dict(command=a.command, **result), f, indent=1)
    print(f"\n(written to {a.out_dir}/results.md and results.json)")


if __name__ == "__main__":
    main()
