#!/usr/bin/python3
"""attend's Transformer side by side with the same model in PyTorch: training speed (target tokens/s)
and translation speed (sentences/s, greedy and beam search with a key/value cache), one process per
measured run, interleaved, medians over repeats. bench/transformer_speed.sh and
bench/transformer_translate_speed.sh run it in one command each (building attend, installing the
peers); see their headers for what they measure.

The model (src/models/transformer.cc, include/attend/models/transformer.h) is written the way a
PyTorch user would write it, with PyTorch's parameter names, so attend's checkpoints load into it
with load_state_dict (strict):
    tgt_embed / src_embed   nn.Embedding(V, C, padding_idx 0), N(0, C^-1/2), one table when
                            share_embeddings (attend: src_embed absent)
    x_0 = dropout(sqrt(C) E[src] + PE[0..S)),  PE sinusoidal interleaved sin/cos (attend's formula,
                            computed in float64), or learned (src_positions.weight)
    encoder                 nn.TransformerEncoder(nn.TransformerEncoderLayer(C, H, F, dropout,
                            batch_first=True, norm_first=...), L_enc, norm=LayerNorm(C) when pre-norm)
    decoder                 nn.TransformerDecoder(...) with a causal self-attention (tgt_is_causal
                            where the PyTorch version has it) and the source padding as
                            memory_key_padding_mask
    logits = y_L E_tgt^T    (tie_output) or output = nn.Linear(C, V)
  attention_dropout: attend has its own rate on the attention weights (PyTorch uses `dropout` for
  both), so each layer's self_attn.dropout / multihead_attn.dropout is set to it.
Training step as attend's `train`: loss = mean token cross-entropy with label smoothing over the
targets y_1..y_n </s> (padding ignored: F.cross_entropy(ignore_index=0, label_smoothing)),
backward, global gradient-norm clipping (5), Adam (betas 0.9/beta2, eps 1e-8), Noam schedule
lr * min(s / warmup, sqrt(warmup / s)). Tokens/s counts target tokens + 1 (</s>) per sentence, as
attend does.

Data: the SAME subword ids on both sides: the driver encodes the training files with
`attend vocab --model SPM --encode --ids` (the model `attend train --spm` uses), drops pairs as
attend does (empty source, more than --max-length pieces on either side), and rebuilds attend's
batch plan of epoch 0 exactly (rnnsearch_torch.batch_plan: Philox shuffle, stable sort by
max(source, target) length, batches of --batch sentences, batch order shuffled), so both sides train
on the same padded batches in the same order; the driver checks pair, vocabulary and batch counts
against attend's own report and attend's printed tok/s against these batches' token counts.
Translation: the same sentences in the same batches: attend translate sorts the non-empty lines by
source length (stable) and cuts them into --batch sentences; the PyTorch decoder does the same.

Incremental decoding in PyTorch (translation; PyTorch 2.x, F.scaled_dot_product_attention): the
encoder is the nn.TransformerEncoder above (eval mode: PyTorch's own inference fast path where it
applies); each decoder layer keeps its self-attention keys/values per row, grown by one position a
step (torch.cat) and reordered with the beam (index_select); cross-attention keys/values are
projected once per source and re-selected only when the set of rows' sentences changes (rows of
one sentence share them; attend re-selects them with every reordering). Search as
src/decode/search.cc: greedy = arg max (first maximum), finished rows dropped from the state;
beam = the best 2k extensions of each sentence's k hypotheses (log-probabilities summed in float64),
EOS finishes only from the top k places, a hypothesis at the maximum length (ceil(ratio * S) + 10,
EOS included) is cut as it is and takes a place (cut hypotheses rank below the finished ones), a
sentence is done with an empty beam or when no partial hypothesis can beat the best finished one
under the GNMT length penalty lp = ((5 + |Y|) / 6)^alpha at the maximum length (attend's default
rule; with --early-stop also once k hypotheses finished). Before timing, the driver compares the
PyTorch greedy output with attend's, sentence by sentence (decoded to text by the same
SentencePiece model), and stops if fewer than --min-agreement % agree.

Modes (the workers are run by the drivers in a fresh process per measurement; set the environment
yourself, see bench/torch_peer.py, to run one by hand):
  train-speed     --attend PATH --python2 PY [--blas-dir DIR] ...   the training comparison
  translate-speed --attend PATH --python2 PY --checkpoint CKPT ...  the translation comparison
  train-worker / translate-worker                                    one PyTorch run (RESULT json)
"""
import argparse
import base64
import hashlib
import json
import math
import os
import statistics
import struct
import subprocess
import sys
import tempfile
import time

from rnnsearch_torch import attend_interval, batch_plan, batch_tokens, follow_attend_train
from rnnsearch_torch import make_batch as rnnsearch_batch
from torch_peer import loaded_libraries, torch_env

DATA = "/work/shared/data/multi30k/raw"
PAD, UNK, BOS, EOS = 0, 1, 2, 3
HERE = os.path.dirname(os.path.abspath(__file__))


# ---------------------------------------------------------------------------------------------
# Files: subword ids, attend's checkpoints (safetensors), the CPU

def read_ids(path):
    """One sentence of space-separated ids per line (`attend vocab --encode --ids`)."""
    with open(path) as f:
        return [[int(x) for x in line.split()] for line in f.read().split("\n")[:-1]]


def write_ids(path, rows):
    with open(path, "w") as f:
        for r in rows:
            f.write(" ".join(str(i) for i in r) + "\n")


def encode_ids(attend, spm, text_path, ids_path):
    """`attend vocab --model SPM --encode --ids -i TEXT > IDS`, cached by modification time."""
    if os.path.exists(ids_path) and os.path.getmtime(ids_path) >= max(os.path.getmtime(text_path),
                                                                      os.path.getmtime(spm)):
        return
    with open(ids_path + ".tmp", "w") as out:
        subprocess.run([attend, "vocab", "--model", spm, "--encode", "--ids", "-i", text_path], stdout=out,
                       check=True)
    os.replace(ids_path + ".tmp", ids_path)


def read_checkpoint(path):
    """attend's checkpoint (a safetensors file, include/attend/train/checkpoint.h) ->
    ({name: numpy array} of the "model.*" tensors without the prefix, metadata {str: str})."""
    import numpy as np
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    base = 8 + n
    tensors = {}
    for name, t in header.items():
        if not name.startswith("model."):
            continue
        dtype = {"F32": np.float32, "F64": np.float64}[t["dtype"]]
        b, e = t["data_offsets"]
        a = np.frombuffer(data, dtype=dtype, count=(e - b) // np.dtype(dtype).itemsize, offset=base + b)
        tensors[name[len("model."):]] = a.reshape(t["shape"]).astype(np.float32)
    return tensors, meta


def checkpoint_meta(path):
    """The metadata only (no numpy needed): model config dict, the whole metadata."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
    meta = header.get("__metadata__", {})
    return json.loads(meta["model_config"]), meta


def extract_spm(path, out_dir):
    """The SentencePiece model(s) embedded in a checkpoint -> (source .model, target .model)."""
    spec, meta = checkpoint_meta(path)
    if spec.get("source_tokens") != "spm" or spec.get("target_tokens") != "spm":
        sys.exit(f"{path}: both sides must be SentencePiece (source {spec.get('source_tokens')}, "
                 f"target {spec.get('target_tokens')})")
    files = {}
    for side in ("source", "target"):
        key = "extra.sentencepiece." + side
        if key not in meta:
            continue
        files[side] = os.path.join(out_dir, f"spm.{side}.model")
        with open(files[side], "wb") as f:
            f.write(base64.b64decode(meta[key]))
    files.setdefault("target", files["source"])  # joint_spm
    return files["source"], files["target"]


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            info = f.read()
    except OSError:
        return "?"
    fields = {}
    for line in info.split("\n\n")[0].splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            fields[k.strip()] = v.strip()
    flags = fields.get("flags", "").split()
    isa = "avx512f" if "avx512f" in flags else "avx2" if "avx2" in flags else "no avx2"
    return (f"{fields.get('model name', '?')} (family {fields.get('cpu family', '?')}, model "
            f"{fields.get('model', '?')}; {isa}{', avx512_bf16' if 'avx512_bf16' in flags else ''}; "
            f"{os.cpu_count()} logical CPUs)")


def sgemm_ceiling(bench, threads):
    """attend's SGEMM ceiling (kernels::gemm 2048^3, best of 3, bench/flash_attention_bench --quick)
    per thread count: its csv prints the `sgemm,T,GFLOPS` lines before the attention rows, so the
    tool is stopped at its table header. {} when the tool is missing."""
    if not bench or not os.path.exists(bench):
        return {}
    proc = subprocess.Popen([bench, "--csv", "--quick", "--threads", ",".join(str(t) for t in threads)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    out = {}
    for line in proc.stdout:
        f = line.strip().split(",")
        if f[0] == "sgemm":
            out[int(f[1])] = float(f[2])
        if f[0] == "row":
            break
    proc.kill()
    proc.wait()
    return out


def run_measured(cmd, env=None, echo=None, stderr=None):
    """Runs cmd as a child -> (wall seconds, max RSS of that child in MiB (wait4), exit code, its
    RESULT json or None). echo: prefix for printing its other stdout lines (None: not printed);
    stderr: where the child's standard error goes (None: inherited)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=stderr, text=True, bufsize=1)
    result = None
    for line in proc.stdout:
        if line.startswith("RESULT "):
            result = json.loads(line[7:])
        elif echo is not None:
            print(echo + line.rstrip("\n"), flush=True)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_maxrss / 1024.0, proc.returncode, result


# ---------------------------------------------------------------------------------------------
# The PyTorch model (both workers)

def sinusoidal(torch, length, dim):
    """attend's nn::sinusoidal_positions: PE[p, c] = sin/cos(p / 10000^((c - c % 2) / C)), float64."""
    p = torch.arange(length, dtype=torch.float64).unsqueeze(1)
    c = torch.arange(dim)
    i2 = (c - c % 2).to(torch.float64)
    angle = p / torch.pow(torch.tensor(10000.0, dtype=torch.float64), i2 / dim)
    return torch.where(c % 2 == 0, torch.sin(angle), torch.cos(angle)).to(torch.float32)  # [P, C]


def make_model(torch, cfg):
    """cfg: attend's transformer config keys (model_config "model" object)."""
    nn = torch.nn
    F = torch.nn.functional
    import inspect
    C, H, Fd = cfg["d_model"], cfg["num_heads"], cfg["ffn_dim"]
    V, Vs = cfg["tgt_vocab"], cfg["src_vocab"]
    norm_first = bool(cfg["norm_first"])
    act = cfg.get("activation", "relu")
    p, pa = cfg["dropout"], cfg["attention_dropout"]
    enc_kw = {"enable_nested_tensor": False} if "enable_nested_tensor" in inspect.signature(
        nn.TransformerEncoder.__init__).parameters else {}
    dec_causal_kw = "tgt_is_causal" in inspect.signature(nn.TransformerDecoder.forward).parameters

    class Positions(nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = nn.Parameter(torch.randn(cfg["max_positions"], C) * C ** -0.5)

    class Transformer(nn.Module):
        def __init__(self):
            super().__init__()
            self.tgt_embed = nn.Embedding(V, C, padding_idx=cfg["pad_id"])
            nn.init.normal_(self.tgt_embed.weight, 0.0, C ** -0.5)
            with torch.no_grad():
                self.tgt_embed.weight[cfg["pad_id"]].zero_()
            self.src_embed = None
            if not cfg["share_embeddings"]:
                self.src_embed = nn.Embedding(Vs, C, padding_idx=cfg["pad_id"])
                nn.init.normal_(self.src_embed.weight, 0.0, C ** -0.5)
                with torch.no_grad():
                    self.src_embed.weight[cfg["pad_id"]].zero_()
            self.learned = cfg.get("positions", "sinusoidal") == "learned"
            if self.learned:
                self.src_positions, self.tgt_positions = Positions(), Positions()
            else:
                self.register_buffer("pe", sinusoidal(torch, cfg["max_positions"], C), persistent=False)
            enc_layer = nn.TransformerEncoderLayer(C, H, Fd, p, activation=act, batch_first=True,
                                                   norm_first=norm_first)
            dec_layer = nn.TransformerDecoderLayer(C, H, Fd, p, activation=act, batch_first=True,
                                                   norm_first=norm_first)
            self.encoder = nn.TransformerEncoder(enc_layer, cfg["encoder_layers"],
                                                 norm=nn.LayerNorm(C) if norm_first else None, **enc_kw)
            self.decoder = nn.TransformerDecoder(dec_layer, cfg["decoder_layers"],
                                                 norm=nn.LayerNorm(C) if norm_first else None)
            for layer in self.encoder.layers:
                layer.self_attn.dropout = pa
            for layer in self.decoder.layers:
                layer.self_attn.dropout = pa
                layer.multihead_attn.dropout = pa
            self.output = None if cfg["tie_output"] else nn.Linear(C, V)
            self.drop = nn.Dropout(p)
            self.scale = math.sqrt(C)

        def positions(self, which, offset, length):
            if self.learned:
                return getattr(self, which).weight[offset:offset + length]
            return self.pe[offset:offset + length]

        def encode(self, src, src_pad):
            e = self.src_embed if self.src_embed is not None else self.tgt_embed
            x = self.drop(e(src) * self.scale + self.positions("src_positions", 0, src.size(1)))
            return self.encoder(x, src_key_padding_mask=src_pad)

        def project(self, y):
            return F.linear(y, self.tgt_embed.weight) if self.output is None else self.output(y)

        def forward(self, src, src_pad, tgt_in):
            memory = self.encode(src, src_pad)
            T = tgt_in.size(1)
            y = self.drop(self.tgt_embed(tgt_in) * self.scale + self.positions("tgt_positions", 0, T))
            causal = torch.triu(torch.full((T, T), float("-inf")), diagonal=1)
            kw = {"tgt_is_causal": True} if dec_causal_kw else {}
            y = self.decoder(y, memory, tgt_mask=causal, memory_key_padding_mask=src_pad, **kw)
            return self.project(y)

    return Transformer()


def sdpa_backend(torch, fn):
    """Which attention kernel PyTorch ran inside fn(): the aten ops seen by a dispatch mode."""
    F = torch.nn.functional
    if not hasattr(F, "scaled_dot_product_attention"):
        return "composition (bmm + softmax; this PyTorch has no scaled_dot_product_attention)"
    try:
        from torch.utils._python_dispatch import TorchDispatchMode
    except ImportError:
        return "?"
    seen = set()

    class Record(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            seen.add(str(func.overloadpacket.__name__))
            return func(*args, **(kwargs or {}))

    with Record():
        fn()
    names = sorted(n for n in seen if "attention" in n or "softmax" in n)
    if any("flash" in n for n in names):
        kind = "flash (fused CPU kernel)"
    elif any("efficient" in n for n in names):
        kind = "memory-efficient"
    else:
        kind = "math (composition: bmm + softmax)"
    return f"{kind}; ops seen: {', '.join(names)}"


def torch_gemm(torch, n=2048, reps=3):
    """PyTorch's SGEMM at n^3, best of reps (as attend's ceiling: kernels::gemm 2048^3, best of 3)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    best = 0.0
    for _ in range(reps):
        t0 = time.perf_counter()
        a @ b
        best = max(best, 2 * n ** 3 / (time.perf_counter() - t0) * 1e-9)
    return best


def torch_blas(torch, mapped):
    """The BLAS PyTorch's GEMMs use: the libblas.so.3 it mapped (Debian's build), else its build's."""
    if mapped != "?":
        return mapped
    for part in torch.__config__.show().replace(",", " ").split():
        if part.startswith("BLAS_INFO="):
            return "bundled " + part.split("=", 1)[1]
    return "?"


# ---------------------------------------------------------------------------------------------
# Training: data and the worker

def load_examples(src_ids, tgt_ids, max_length):
    """Pairs as attend's encode_pairs keeps them (src/app/training.cc): non-empty source, at most
    max_length pieces on either side. -> (examples, dropped)."""
    src, tgt = read_ids(src_ids), read_ids(tgt_ids)
    if len(src) != len(tgt):
        sys.exit(f"{src_ids} and {tgt_ids} differ in length: {len(src)} vs {len(tgt)} lines")
    examples, dropped = [], 0
    for s, t in zip(src, tgt):
        if not s or max(len(s), len(t)) > max_length:
            dropped += 1
            continue
        examples.append((s, t))
    return examples, dropped


def make_batch(torch, examples, ids):
    """src [B, S], src_pad [B, S] (True = padding), tgt_in [B, T+1] (<s> y), tgt_out [B, T+1] (y </s>):
    rnnsearch_torch's padded batch, with the source lengths as PyTorch's key padding mask."""
    src, lengths, tin, tout = rnnsearch_batch(torch, examples, ids)
    src_pad = torch.arange(src.shape[1]).unsqueeze(0) >= lengths.unsqueeze(1)
    return src, src_pad, tin, tout


def train_config(args, vocab):
    return dict(d_model=args.d_model, num_heads=args.heads, ffn_dim=args.ffn, encoder_layers=args.enc_layers,
                decoder_layers=args.dec_layers, dropout=args.dropout, attention_dropout=args.attention_dropout,
                activation="relu", norm_first=args.norm_first, positions="sinusoidal", max_positions=1024,
                share_embeddings=1, tie_output=1, src_vocab=vocab, tgt_vocab=vocab, pad_id=PAD, bos_id=BOS,
                eos_id=EOS)


def run_train_worker(args):
    import torch
    F = torch.nn.functional
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    examples, dropped = load_examples(args.src_ids, args.tgt_ids, args.max_length)
    plan = batch_plan(examples, 0, args.seed, args.batch, max_length=args.max_length)
    total = args.warmup + args.steps
    if total > len(plan):
        sys.exit(f"warmup + steps = {total} is more than the {len(plan)} batches of an epoch")
    model = make_model(torch, train_config(args, args.vocab))
    n_params = sum(p.numel() for p in model.parameters())
    blas, jemalloc = loaded_libraries()
    blas = torch_blas(torch, blas)
    gemm = torch_gemm(torch)
    print(f"PyTorch {torch.__version__}: transformer ({n_params} parameters), {len(examples)} training pairs "
          f"({dropped} dropped), {len(plan)} batches; {torch.get_num_threads()} thread(s); BLAS {blas} "
          f"(SGEMM 2048^3 {gemm:.0f} GFLOP/s); jemalloc {'yes' if jemalloc else 'no'}", flush=True)

    opt = torch.optim.Adam(model.parameters(), lr=args.lr, betas=(0.9, args.beta2), eps=1e-8)
    w = args.lr_warmup
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min((s + 1) / w, math.sqrt(w / (s + 1))))
    model.train()

    def step(ids):
        src, src_pad, tgt_in, tgt_out = make_batch(torch, examples, ids)
        opt.zero_grad(set_to_none=True)
        logits = model(src, src_pad, tgt_in)
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), tgt_out.reshape(-1), ignore_index=PAD,
                               label_smoothing=args.label_smoothing)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        opt.step()
        sched.step()
        return loss.item()

    times, tokens, losses = [], [], []
    log_every = max(1, total // 5)
    start = time.perf_counter()
    for k in range(total):
        lv = step(plan[k])
        times.append(time.perf_counter() - start)
        tokens.append(batch_tokens(examples, plan[k]))
        losses.append(lv)
        if (k + 1) % log_every == 0 or k + 1 == total:
            print(f"  step {k + 1}/{total} | loss {lv:.4f} | {sum(tokens) / times[-1]:.0f} tok/s since step 1",
                  flush=True)
    # After the timed steps: which attention kernel a training step runs (one more step, recorded).
    backend = sdpa_backend(torch, lambda: step(plan[total % len(plan)]))
    print(f"  attention kernel (training step): {backend}", flush=True)
    print("RESULT " + json.dumps(dict(version=torch.__version__, params=n_params, pairs=len(examples),
                                      batches=len(plan), blas=blas, jemalloc=jemalloc, gemm=gemm, backend=backend,
                                      times=times, tokens=tokens, losses=losses)), flush=True)


# ---------------------------------------------------------------------------------------------
# Training: the driver

def run_attend_train(args, threads, workdir):
    """attend train for warmup + steps steps; -> (header dict, progress lines with arrival times)."""
    d = args.data
    cmd = [args.attend, "train", "--arch", "transformer", "--train-src", f"{d}/train.de", "--train-tgt",
           f"{d}/train.en", "--spm", args.spm, "--max-length", str(args.max_length),
           "--d-model", str(args.d_model), "--heads", str(args.heads), "--ffn", str(args.ffn),
           "--enc-layers", str(args.enc_layers), "--dec-layers", str(args.dec_layers),
           "--norm-first", str(args.norm_first), "--dropout", str(args.dropout),
           "--attention-dropout", str(args.attention_dropout), "--share-embeddings", "1", "--tie-output", "1",
           "--label-smoothing", str(args.label_smoothing), "--schedule", "noam", "--warmup", str(args.lr_warmup),
           "--lr", str(args.lr), "--beta2", str(args.beta2), "--clip", str(args.clip), "--batch", str(args.batch),
           "--epochs", "1", "--max-steps", str(args.warmup + args.steps), "--valid-decode", "0", "--show", "0",
           "--seed", str(args.seed), "--threads", str(threads), "-o", os.path.join(workdir, "transformer.ckpt")]
    return follow_attend_train(cmd)


def run_train_peer(args, name, python, env, threads):
    cmd = [python, os.path.abspath(__file__), "train-worker", "--threads", str(threads), "--warmup",
           str(args.warmup), "--steps", str(args.steps), "--src-ids", args.src_ids, "--tgt-ids", args.tgt_ids,
           "--vocab", str(args.vocab)] + model_flags(args)
    print(f"# {name}, {threads} thread(s)", flush=True)
    _, _, rc, result = run_measured(cmd, env=env, echo="  torch| ")
    if rc != 0 or result is None:
        print(f"# {name} ({threads} threads) failed (exit {rc})", file=sys.stderr, flush=True)
        return None
    return result


def model_flags(args):
    return ["--d-model", str(args.d_model), "--heads", str(args.heads), "--ffn", str(args.ffn), "--enc-layers",
            str(args.enc_layers), "--dec-layers", str(args.dec_layers), "--norm-first", str(args.norm_first),
            "--dropout", str(args.dropout), "--attention-dropout", str(args.attention_dropout),
            "--label-smoothing", str(args.label_smoothing), "--lr", str(args.lr), "--lr-warmup",
            str(args.lr_warmup), "--beta2", str(args.beta2), "--clip", str(args.clip), "--batch", str(args.batch),
            "--max-length", str(args.max_length), "--seed", str(args.seed)]


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt_ratio(a, b):
    return f"{a / b:.2f}x" if a and b else "-"


def run_train_speed(args):
    os.makedirs(args.out_dir, exist_ok=True)
    d = args.data
    with open(args.spm, "rb") as f:
        tag = hashlib.sha1(f.read()).hexdigest()[:12]  # the ids of this SentencePiece model
    args.src_ids = os.path.join(args.out_dir, f"train.de.{tag}.ids")
    args.tgt_ids = os.path.join(args.out_dir, f"train.en.{tag}.ids")
    encode_ids(args.attend, args.spm, f"{d}/train.de", args.src_ids)
    encode_ids(args.attend, args.spm, f"{d}/train.en", args.tgt_ids)
    examples, dropped = load_examples(args.src_ids, args.tgt_ids, args.max_length)
    plan = batch_plan(examples, 0, args.seed, args.batch, max_length=args.max_length)
    total = args.warmup + args.steps
    if total >= len(plan):
        sys.exit(f"warmup + steps = {total}: keep it below the {len(plan)} batches of an epoch")
    tokens = [batch_tokens(examples, ids) for ids in plan[:total]]
    cum = [0]
    for n in tokens:
        cum.append(cum[-1] + n)
    threads_list = [int(t) for t in str(args.threads).split(",") if t]
    cpu = cpu_model()
    print(f"# CPU: {cpu}", flush=True)
    sgemm = sgemm_ceiling(args.sgemm_bench, threads_list)
    if sgemm:
        print("# attend SGEMM ceiling (kernels::gemm 2048^3): " +
              ", ".join(f"{t} thr {g:.0f} GFLOP/s" for t, g in sorted(sgemm.items())), flush=True)
    peers = []
    if args.python2:
        peers.append(("torch2", args.python2, lambda t: torch_env("peer", t, None)))
    if not args.no_torch113:
        peers.append(("torch1.13", "/usr/bin/python3", lambda t: torch_env("peer", t, args.blas_dir)))
    rates = {(t, side): [] for t in threads_list for side in ["attend"] + [p[0] for p in peers]}
    info, runs = {}, []
    for rep in range(args.repeats):
        for threads in threads_list:
            print(f"\n## repeat {rep + 1}/{args.repeats}, {threads} thread(s)", flush=True)
            with tempfile.TemporaryDirectory(prefix="transformer_speed_") as workdir:
                header, lines = run_attend_train(args, threads, workdir)
            if header["pairs"] != len(examples):
                sys.exit(f"attend has {header['pairs']} training pairs, this script {len(examples)}: the "
                         "encodings differ")
            if header["tgt_vocab"] != args.vocab:
                sys.exit(f"attend's vocabulary {header['tgt_vocab']} != {args.vocab}")
            la, lb, attend_rate = attend_interval(lines, len(plan), cum, args.warmup)
            a, b = la["step"], lb["step"]
            rates[(threads, "attend")].append(attend_rate)
            info["attend_params"] = header["params"]
            run = dict(repeat=rep + 1, threads=threads, steps=[a + 1, b], attend=attend_rate)
            print(f"# attend: {attend_rate:.0f} tok/s over steps {a + 1}..{b} ({cum[b] - cum[a]} target tokens in "
                  f"{lb['t'] - la['t']:.2f} s)", flush=True)
            for name, python, env in peers:
                r = run_train_peer(args, name, python, env(threads), threads)
                if r is None:
                    rates[(threads, name)].append(None)
                    continue
                if r["tokens"][:total] != tokens:
                    sys.exit(f"{name}'s batches differ from the plan")
                rate = sum(r["tokens"][a:b]) / (r["times"][b - 1] - r["times"][a - 1])
                rates[(threads, name)].append(rate)
                run[name] = rate
                info[name] = dict(version=r["version"], params=r["params"], backend=r["backend"], blas=r["blas"],
                                  jemalloc=r["jemalloc"], gemm={**info.get(name, {}).get("gemm", {}),
                                                                str(threads): r["gemm"]})
                loss = sum(x * n for x, n in zip(r["losses"][:b], r["tokens"][:b])) / cum[b]
                print(f"# {name}: {rate:.0f} tok/s over steps {a + 1}..{b}; attend/{name} {attend_rate / rate:.2f}x; "
                      f"mean loss over steps 1..{b} {loss:.4f} (attend {lb['loss']:.4f}: the same data, other "
                      "initial values and dropout masks)", flush=True)
            runs.append(run)

    names = [p[0] for p in peers]
    table = []
    for t in threads_list:
        row = dict(threads=t, attend=median(rates[(t, "attend")]))
        for n in names:
            row[n] = median(rates[(t, n)])
        table.append(row)
    md = [f"Transformer training, Multi30k de->en ({len(examples)} pairs, joint SentencePiece BPE {args.vocab}), "
          f"d_model {args.d_model}, {args.heads} heads, ffn {args.ffn}, {args.enc_layers}+{args.dec_layers} layers, "
          f"{'pre' if args.norm_first else 'post'}-norm, shared embeddings + tied output, dropout {args.dropout}, "
          f"attention dropout {args.attention_dropout}, label smoothing {args.label_smoothing}, Adam beta2 "
          f"{args.beta2}, batch {args.batch} sentences (attend's batch plan on both sides). Target tokens/s "
          f"(+1 </s> per sentence) over the steps after a warm-up of {args.warmup} (until step "
          f"{args.warmup + args.steps}), median of {args.repeats} interleaved repeat(s); ratio > 1: attend faster.",
          "",
          "| threads | attend tok/s | " + " | ".join(f"{n} tok/s" for n in names) + " | " +
          " | ".join(f"attend/{n}" for n in names) + " |",
          "|---:|---:|" + "---:|" * (2 * len(names))]
    for row in table:
        md.append(f"| {row['threads']} | {row['attend']:.0f} | " +
                  " | ".join(f"{row[n]:.0f}" if row[n] else "failed" for n in names) + " | " +
                  " | ".join(fmt_ratio(row["attend"], row[n]) for n in names) + " |")
    md.append("")
    md.append(f"CPU: {cpu}.")
    if sgemm:
        md.append("attend SGEMM ceiling (kernels::gemm 2048^3): " +
                  ", ".join(f"{t} thread(s) {g:.0f} GFLOP/s" for t, g in sorted(sgemm.items())) + ".")
    for n in names:
        if n in info:
            i = info[n]
            md.append(f"{n}: PyTorch {i['version']}, {i['params']} parameters (attend {info.get('attend_params')}); "
                      f"attention kernel in training: {i['backend']}; BLAS {i['blas']} (SGEMM 2048^3 " +
                      ", ".join(f"{t} thr {g:.0f}" for t, g in sorted(i["gemm"].items())) + " GFLOP/s); jemalloc "
                      f"{'yes' if i['jemalloc'] else 'no'}.")
    md.append(f"Command: `{args.command}`")
    text = "\n".join(md)
    print("\n" + text)
    with open(os.path.join(args.out_dir, "results.md"), "w") as f:
        f.write(text + "\n")
    with open(os.path.join(args.out_dir, "results.json"), "w") as f:
        json.dump(dict(command=args.command, cpu=cpu, sgemm=sgemm, table=table, runs=runs, info=info), f, indent=1)
    print(f"\n(written to {args.out_dir}/results.md and results.json)")


# ---------------------------------------------------------------------------------------------
# Translation: incremental decoding in PyTorch

class StepDecoder:
    """The decoder of a loaded Transformer, one position at a time, with key/value caches."""

    def __init__(self, torch, model, cfg):
        self.torch, self.model, self.cfg = torch, model, cfg
        self.F = torch.nn.functional
        self.C, self.H = cfg["d_model"], cfg["num_heads"]
        self.D = self.C // self.H
        self.norm_first = bool(cfg["norm_first"])
        self.act = self.F.relu if cfg.get("activation", "relu") == "relu" else self.F.gelu
        self.layers = list(model.decoder.layers)
        self.final = model.decoder.norm

    def encode(self, src, src_pad):
        """-> cross keys/values per layer [(K [B, H, S, D], V)]."""
        torch, F, C, H, D = self.torch, self.F, self.C, self.H, self.D
        memory = self.model.encode(src, src_pad)  # [B, S, C]
        B, S = src.shape
        kv = []
        for layer in self.layers:
            w, b = layer.multihead_attn.in_proj_weight, layer.multihead_attn.in_proj_bias
            k = F.linear(memory, w[C:2 * C], b[C:2 * C]).view(B, S, H, D).transpose(1, 2)
            v = F.linear(memory, w[2 * C:], b[2 * C:]).view(B, S, H, D).transpose(1, 2)
            kv.append((k, v))
        return kv

    def _ln(self, norm, x):
        return self.F.layer_norm(x, (self.C,), norm.weight, norm.bias, norm.eps)

    def step(self, prev, position, cache, cross, cross_mask):
        """prev [N] ids at `position`; cache: per layer (K, V) [N, H, t, D] or None, replaced in place;
        cross: per layer (K, V) [N, H, S, D]; cross_mask [N, 1, 1, S] bool (True: a real source
        position). -> log-probabilities [N, V]."""
        torch, F, C, H, D = self.torch, self.F, self.C, self.H, self.D
        m = self.model
        N = prev.size(0)
        x = (m.tgt_embed(prev) * m.scale + m.positions("tgt_positions", position, 1)).unsqueeze(1)  # [N, 1, C]
        for l, layer in enumerate(self.layers):
            sa, ca = layer.self_attn, layer.multihead_attn

            def self_attention(h):
                q, k, v = F.linear(h, sa.in_proj_weight, sa.in_proj_bias).view(N, 1, 3, H, D).permute(2, 0, 3, 1, 4)
                if cache[l] is not None:
                    k = torch.cat([cache[l][0], k], 2)
                    v = torch.cat([cache[l][1], v], 2)
                cache[l] = (k, v)
                a = F.scaled_dot_product_attention(q, k, v)  # [N, H, 1, D]
                return sa.out_proj(a.transpose(1, 2).reshape(N, 1, C))

            def cross_attention(h):
                q = F.linear(h, ca.in_proj_weight[:C], ca.in_proj_bias[:C]).view(N, 1, H, D).transpose(1, 2)
                a = F.scaled_dot_product_attention(q, cross[l][0], cross[l][1], attn_mask=cross_mask)
                return ca.out_proj(a.transpose(1, 2).reshape(N, 1, C))

            def ff(h):
                return layer.linear2(self.act(layer.linear1(h)))

            if self.norm_first:
                x = x + self_attention(self._ln(layer.norm1, x))
                x = x + cross_attention(self._ln(layer.norm2, x))
                x = x + ff(self._ln(layer.norm3, x))
            else:
                x = self._ln(layer.norm1, x + self_attention(x))
                x = self._ln(layer.norm2, x + cross_attention(x))
                x = self._ln(layer.norm3, x + ff(x))
        if self.final is not None:
            x = self._ln(self.final, x)
        return F.log_softmax(m.project(x[:, 0]), dim=-1)  # [N, V]


def max_target_length(source_length, ratio, offset):
    return max(int(math.ceil(ratio * source_length)) + offset, 1)


def gnmt(log_prob, length, alpha):
    return log_prob / ((5.0 + length) / 6.0) ** alpha


def greedy_batch(torch, dec, src_rows, ratio, offset):
    """Greedy search of a batch of sources (lists of ids) -> token lists (EOS last when finished)."""
    src, src_pad, lengths = pad_sources(torch, src_rows)
    cross = dec.encode(src, src_pad)
    mask = ~src_pad[:, None, None, :]
    B = len(src_rows)
    max_len = [max_target_length(n, ratio, offset) for n in lengths]
    out = [[] for _ in range(B)]
    active = list(range(B))
    prev = torch.full((B,), BOS, dtype=torch.int64)
    cache = [None] * len(dec.layers)
    position = 0
    while active:
        lp = dec.step(prev, position, cache, cross, mask)
        position += 1
        best = lp.argmax(1).tolist()
        keep, nxt = [], []
        for i, b in enumerate(active):
            v = best[i]
            out[b].append(v)
            if v == EOS or len(out[b]) >= max_len[b]:
                continue
            keep.append(i)
            nxt.append(v)
        if not keep:
            break
        if len(keep) != len(active):
            idx = torch.tensor(keep)
            cache = [(k.index_select(0, idx), v.index_select(0, idx)) for k, v in cache]
            cross = [(k.index_select(0, idx), v.index_select(0, idx)) for k, v in cross]
            mask = mask.index_select(0, idx)
            active = [active[i] for i in keep]
        prev = torch.tensor(nxt, dtype=torch.int64)
    return out


def beam_batch(torch, dec, src_rows, k, alpha, ratio, offset, early_stop=False):
    """Beam search (src/decode/search.cc, nbest 1, GNMT length penalty) -> best token lists."""
    src, src_pad, lengths = pad_sources(torch, src_rows)
    base_cross = dec.encode(src, src_pad)
    base_mask = ~src_pad[:, None, None, :]
    B = len(src_rows)
    V = dec.cfg["tgt_vocab"]
    max_len = [max_target_length(n, ratio, offset) for n in lengths]
    beams = [[([], 0.0)] for _ in range(B)]  # per sentence: (tokens, log P) in row order
    finished = [[] for _ in range(B)]        # (score, tokens), ended in EOS
    cut = [[] for _ in range(B)]             # (score, tokens), stopped at the maximum length
    active = list(range(B))
    n = 1                                     # rows per active sentence
    prev = torch.full((B,), BOS, dtype=torch.int64)
    cache = [None] * len(dec.layers)
    cross, mask = base_cross, base_mask
    rows_sentences = list(range(B))           # the sentence of each row of cross
    position = 0
    while active:
        lp = dec.step(prev, position, cache, cross, mask)  # [A * n, V]
        position += 1
        A = len(active)
        # The best 2k of each sentence's n * V extensions log P(parent) + lp: a row's prior is one
        # number, so they are among each row's best 2k by lp; their float64 sums are ranked.
        prior = torch.tensor([lpv for b in active for _, lpv in beams[b]], dtype=torch.float64)
        c = min(2 * k, V)
        row_v, row_i = lp.topk(c, dim=1)                                                # [A * n, c]
        scores = (row_v.double() + prior.unsqueeze(1)).view(A, n * c)
        top_v, pos = scores.topk(min(2 * k, n * c), dim=1)                              # [A, 2k]
        parent = pos // c
        token = row_i.view(A, n * c).gather(1, pos)
        top_v, top_i = top_v.tolist(), (parent * V + token).tolist()
        rows, next_active, next_prev = [], [], []
        for a, b in enumerate(active):
            new_beam, parents, places = [], [], 0
            for j in range(len(top_i[a])):
                if places >= k:
                    break
                i, v = divmod(top_i[a][j], V)
                eos = v == EOS
                if eos and j >= k:
                    continue
                tokens = beams[b][i][0] + [v]
                if eos or len(tokens) >= max_len[b]:
                    (finished if eos else cut)[b].append((gnmt(top_v[a][j], len(tokens), alpha), tokens))
                    places += 0 if eos else 1
                    continue
                places += 1
                new_beam.append((tokens, top_v[a][j]))
                parents.append(a * n + i)
            done = not new_beam or (early_stop and len(finished[b]) >= k)
            if not done and finished[b]:
                best_partial = max(p[1] for p in new_beam)
                done = gnmt(best_partial, max_len[b], alpha) <= max(f[0] for f in finished[b])
            if done:
                continue
            beams[b] = new_beam
            rows.extend(parents)
            next_prev.extend(t[-1] for t, _ in new_beam)
            next_active.append(b)
        if not next_active:
            break
        idx = torch.tensor(rows)
        cache = [(kk.index_select(0, idx), vv.index_select(0, idx)) for kk, vv in cache]
        new_n = len(beams[next_active[0]])
        new_rows_sentences = [b for b in next_active for _ in beams[b]]
        if new_rows_sentences != rows_sentences:  # rows of one sentence share the source's keys/values
            sel = torch.tensor(new_rows_sentences)
            cross = [(kk.index_select(0, sel), vv.index_select(0, sel)) for kk, vv in base_cross]
            mask = base_mask.index_select(0, sel)
            rows_sentences = new_rows_sentences
        if any(len(beams[b]) != new_n for b in next_active):
            sys.exit("beam_batch: sentences with different beam sizes (not expected: see search.cc)")
        n = new_n
        active = next_active
        prev = torch.tensor(next_prev, dtype=torch.int64)
    out = []
    for b in range(B):
        f = sorted(finished[b], key=lambda s: -s[0]) or sorted(cut[b], key=lambda s: -s[0])  # stable
        out.append(f[0][1] if f else [])
    return out


def pad_sources(torch, rows):
    lengths = [len(r) for r in rows]
    S = max(lengths)
    src = torch.tensor([r + [PAD] * (S - len(r)) for r in rows], dtype=torch.int64)
    src_pad = torch.arange(S).unsqueeze(0) >= torch.tensor(lengths).unsqueeze(1)
    return src, src_pad, lengths


def run_translate_worker(args):
    import torch
    torch.set_num_threads(args.threads)
    tensors, meta = read_checkpoint(args.checkpoint)
    spec = json.loads(meta["model_config"])
    cfg = spec["model"]
    if cfg.get("architecture") != "transformer":
        sys.exit(f"{args.checkpoint}: architecture {cfg.get('architecture')}, not transformer")
    model = make_model(torch, cfg)
    model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in tensors.items()}, strict=True)
    model.eval()
    dec = StepDecoder(torch, model, cfg)
    sources = read_ids(args.src_ids)
    if args.limit:
        sources = sources[:args.limit]
    order = sorted((i for i in range(len(sources)) if sources[i]), key=lambda i: len(sources[i]))  # stable
    results = [[] for _ in sources]
    backend = None
    if args.report_backend:  # under no_grad: inference_mode would hide the kernel the op dispatches to
        with torch.no_grad():
            backend = sdpa_backend(torch, lambda: greedy_batch(torch, dec, [sources[order[0]]], args.max_len_ratio, 1))
    with torch.inference_mode():
        t0 = time.perf_counter()
        for start in range(0, len(order), args.batch):
            ids = order[start:start + args.batch]
            rows = [sources[i] for i in ids]
            if args.beam <= 1:
                out = greedy_batch(torch, dec, rows, args.max_len_ratio, args.max_len_offset)
            else:
                out = beam_batch(torch, dec, rows, args.beam, args.alpha, args.max_len_ratio, args.max_len_offset)
            for i, toks in zip(ids, out):
                results[i] = [t for t in toks if t != EOS]
        seconds = time.perf_counter() - t0
    if args.out_ids:
        write_ids(args.out_ids, results)
    print("RESULT " + json.dumps(dict(version=torch.__version__, sentences=len(order), decode_seconds=seconds,
                                      backend=backend)), flush=True)


# ---------------------------------------------------------------------------------------------
# Translation: the driver

def decode_ids(attend, spm, ids_path, text_path):
    with open(text_path, "w") as out:
        subprocess.run([attend, "vocab", "--model", spm, "--decode", "--ids", "-i", ids_path], stdout=out, check=True)


def read_text(path):
    with open(path, "rb") as f:
        return f.read().decode("utf-8", "replace").split("\n")[:-1]


def run_translate_speed(args):
    os.makedirs(args.out_dir, exist_ok=True)
    out = args.out_dir
    if not os.path.exists(args.checkpoint):
        sys.exit(f"{args.checkpoint}: no such checkpoint")
    spec, _ = checkpoint_meta(args.checkpoint)
    cfg = spec["model"]
    src_spm, tgt_spm = extract_spm(args.checkpoint, out)
    src_ids = os.path.join(out, "input.ids")
    encode_ids(args.attend, src_spm, args.input, src_ids)
    with open(args.input, "rb") as f:
        lines = f.read().split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    n_lines = len(lines)
    one_txt, one_ids = os.path.join(out, "one.txt"), os.path.join(out, "one.ids")
    with open(one_txt, "wb") as f:
        f.write(lines[0] + b"\n")
    with open(one_ids, "w") as f:
        f.write(open(src_ids).readline())
    threads_list = [int(t) for t in str(args.threads).split(",") if t]
    beams = [int(b) for b in str(args.beams).split(",") if b]
    cpu = cpu_model()
    print(f"# CPU: {cpu}", flush=True)
    print(f"# model: {json.dumps(cfg)}", flush=True)
    t_check = max(threads_list)

    def attend_cmd(beam, threads, inp, outp):
        return [args.attend, "translate", "-m", args.checkpoint, "--beam", str(beam), "--batch", str(args.batch),
                "--alpha", str(args.alpha), "--max-len-ratio", str(args.max_len_ratio), "--threads", str(threads),
                "-i", inp, "-o", outp]

    def torch_cmd(beam, threads, inp, outp, backend=False):
        c = [args.python2, os.path.abspath(__file__), "translate-worker", "--checkpoint", args.checkpoint,
             "--src-ids", inp, "--beam", str(beam), "--batch", str(args.batch), "--alpha", str(args.alpha),
             "--max-len-ratio", str(args.max_len_ratio), "--threads", str(threads)]
        return c + (["--out-ids", outp] if outp else []) + (["--report-backend"] if backend else [])

    # 1. Correctness: the same output, sentence by sentence, greedy (gating) and beam (reported).
    agreement, backend, version = {}, None, "?"
    for beam in sorted(set(beams) | {1}):
        a_out = os.path.join(out, f"attend.beam{beam}.txt")
        t_ids = os.path.join(out, f"torch.beam{beam}.ids")
        t_out = os.path.join(out, f"torch.beam{beam}.txt")
        print(f"$ {' '.join(attend_cmd(beam, t_check, args.input, a_out))}", flush=True)
        _, _, rc, _ = run_measured(attend_cmd(beam, t_check, args.input, a_out))
        if rc != 0:
            sys.exit(f"attend translate exited with {rc}")
        _, _, rc, r = run_measured(torch_cmd(beam, t_check, src_ids, t_ids, backend=beam == 1),
                                   env=torch_env("peer", t_check, None), echo="  torch| ")
        if rc != 0 or r is None:
            sys.exit(f"the PyTorch decoder exited with {rc}")
        version = r["version"]
        if beam == 1:
            backend = r["backend"]
        decode_ids(args.attend, tgt_spm, t_ids, t_out)
        a_lines, t_lines = read_text(a_out), read_text(t_out)
        if len(a_lines) != n_lines or len(t_lines) != n_lines:
            sys.exit(f"line counts: input {n_lines}, attend {len(a_lines)}, PyTorch {len(t_lines)}")
        same = sum(x == y for x, y in zip(a_lines, t_lines))
        agreement[beam] = 100.0 * same / n_lines
        print(f"# {search_name(beam)}: PyTorch and attend translate {same} of {n_lines} "
              f"sentences identically ({agreement[beam]:.1f}%)", flush=True)
        diffs = [(i, x, y) for i, (x, y) in enumerate(zip(a_lines, t_lines)) if x != y][:3]
        for i, x, y in diffs:
            print(f"#   line {i + 1}: attend  {x}\n#   {'':>{len(str(i + 1)) + 5}} PyTorch {y}", flush=True)
    print(f"# PyTorch attention kernel in a decoding step: {backend}", flush=True)
    if agreement[1] < args.min_agreement:
        sys.exit(f"greedy agreement {agreement[1]:.1f}% < --min-agreement {args.min_agreement}: not timing")

    # 2. Timing: whole processes, interleaved; the rate subtracts each side's own start-up (the same
    # command on the first sentence alone: loading, encoding, imports), and max RSS is the child's.
    meas = {}
    for rep in range(args.repeats):
        for threads in threads_list:
            for beam in beams:
                for side in ("attend", "torch2"):
                    for which in ("full", "one"):
                        if side == "attend":
                            cmd = attend_cmd(beam, threads, args.input if which == "full" else one_txt,
                                             os.path.join(out, "timing.attend.txt"))
                            env = None
                        else:
                            cmd = torch_cmd(beam, threads, src_ids if which == "full" else one_ids,
                                            os.path.join(out, "timing.torch.ids"))
                            env = torch_env("peer", threads, None)
                        wall, rss, rc, r = run_measured(cmd, env=env)
                        if rc != 0:
                            sys.exit(f"{side} exited with {rc}: {' '.join(cmd)}")
                        m = meas.setdefault((threads, beam, side), dict(full=[], one=[], rss=[], rss_one=[],
                                                                        inner=[]))
                        m[which].append(wall)
                        m["rss" if which == "full" else "rss_one"].append(rss)
                        if r is not None and which == "full":
                            m["inner"].append(r["decode_seconds"])
                    mm = meas[(threads, beam, side)]
                    print(f"# repeat {rep + 1}, {threads} thr, beam {beam}, {side}: {mm['full'][-1]:.2f} s "
                          f"({mm['one'][-1]:.2f} s for one sentence), max RSS {mm['rss'][-1]:.0f} MiB"
                          + (f"; decoding alone {mm['inner'][-1]:.2f} s" if mm["inner"] else ""), flush=True)

    table = []
    for threads in threads_list:
        for beam in beams:
            row = dict(threads=threads, beam=beam)
            for side in ("attend", "torch2"):
                m = meas[(threads, beam, side)]
                secs = median(m["full"]) - median(m["one"])
                row[side] = n_lines / secs if secs > 0 else None
                row[side + "_rss"] = max(m["rss"])
                row[side + "_rss_one"] = max(m["rss_one"])
                row[side + "_wall"] = median(m["full"])
                if m["inner"]:
                    row[side + "_inner"] = n_lines / median(m["inner"])
            table.append(row)
    md = [f"Transformer translation of {os.path.basename(args.input)} ({n_lines} sentences), checkpoint "
          f"{args.checkpoint} (d_model {cfg['d_model']}, {cfg['num_heads']} heads, ffn {cfg['ffn_dim']}, "
          f"{cfg['encoder_layers']}+{cfg['decoder_layers']} layers, vocabulary {cfg['tgt_vocab']}), batches of "
          f"{args.batch} sentences sorted by length, GNMT length penalty alpha {args.alpha}, max length "
          f"ceil({args.max_len_ratio} S) + 10. Sentences/s = {n_lines} / (median wall time of the whole run - "
          f"median wall time of the same command on one sentence), {args.repeats} interleaved repeat(s); "
          f"PyTorch {version} decodes the same weights with its own key/value cache "
          f"(bench/transformer_torch.py). Max RSS of the whole process (one-sentence run in brackets). "
          f"Identical output text: greedy {agreement[1]:.1f}%"
          + "".join(f", beam {b} {agreement[b]:.1f}%" for b in sorted(agreement) if b != 1) + ".",
          "",
          "| threads | search | attend sent/s | torch2 sent/s | attend/torch2 | attend max RSS MiB | "
          "torch2 max RSS MiB |",
          "|---:|---|---:|---:|---:|---:|---:|"]
    for r in table:
        md.append(f"| {r['threads']} | {search_name(r['beam'])} | "
                  f"{fmt(r['attend'])} | {fmt(r['torch2'])} | {fmt_ratio(r['attend'], r['torch2'])} | "
                  f"{r['attend_rss']:.0f} ({r['attend_rss_one']:.0f}) | {r['torch2_rss']:.0f} "
                  f"({r['torch2_rss_one']:.0f}) |")
    md.append("")
    md.append(f"CPU: {cpu}.")
    md.append(f"PyTorch attention kernel in a decoding step: {backend}.")
    md.append("PyTorch's own timer around its search loop alone (no start-up): " + ", ".join(
        f"{r['threads']} thr {search_name(r['beam'])} "
        f"{r.get('torch2_inner', 0):.1f} sent/s" for r in table) + ".")
    md.append(f"Command: `{args.command}`")
    text = "\n".join(md)
    print("\n" + text)
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write(text + "\n")
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(dict(command=args.command, cpu=cpu, agreement=agreement, backend=backend, table=table,
                       runs={f"{t}/{b}/{s}": m for (t, b, s), m in meas.items()}), f, indent=1)
    print(f"\n(written to {out}/results.md and results.json)")


def fmt(x):
    return f"{x:.1f}" if x else "-"


def search_name(beam):
    return "greedy" if beam == 1 else f"beam {beam}"


# ---------------------------------------------------------------------------------------------

def add_model_args(p):
    p.add_argument("--d-model", type=int, default=256)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--ffn", type=int, default=1024)
    p.add_argument("--enc-layers", type=int, default=3)
    p.add_argument("--dec-layers", type=int, default=3)
    p.add_argument("--norm-first", type=int, default=1)
    p.add_argument("--dropout", type=float, default=0.2)
    p.add_argument("--attention-dropout", type=float, default=0.1)
    p.add_argument("--label-smoothing", type=float, default=0.1)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--lr-warmup", type=int, default=800, help="Noam warm-up steps")
    p.add_argument("--beta2", type=float, default=0.98)
    p.add_argument("--clip", type=float, default=5.0)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--max-length", type=int, default=100)
    p.add_argument("--seed", type=int, default=1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="mode", required=True)

    p = sub.add_parser("train-speed", help="attend train vs PyTorch 2.x and 1.13: tokens/s")
    p.add_argument("--attend", required=True)
    p.add_argument("--python2", default=None, help="python of the PyTorch 2.x environment (omit: no torch2)")
    p.add_argument("--no-torch113", action="store_true", help="leave out PyTorch 1.13 (/usr/bin/python3)")
    p.add_argument("--blas-dir", default=None, help="OpenBLAS's libblas.so.3 directory for PyTorch 1.13")
    p.add_argument("--sgemm-bench", default=None, help="bench/flash_attention_bench, for attend's SGEMM ceiling")
    p.add_argument("--spm", required=True, help="the joint SentencePiece model (attend vocab)")
    p.add_argument("--data", default=DATA)
    p.add_argument("--out-dir", required=True)
    p.add_argument("--threads", default="1,2")
    p.add_argument("--warmup", type=int, default=None, help="steps before the measured ones (default 10; quick 2)")
    p.add_argument("--steps", type=int, default=None, help="measured steps (default 40; quick 10)")
    p.add_argument("--repeats", type=int, default=None, help="repeats, medians reported (default 3; quick 1)")
    p.add_argument("--quick", action="store_true", help="warm-up 2, 10 steps, 1 repeat: checks the pipeline")
    p.add_argument("--vocab", type=int, default=8000, help="the SentencePiece model's size")
    p.add_argument("--command", default="")
    add_model_args(p)

    p = sub.add_parser("train-worker")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--src-ids", required=True)
    p.add_argument("--tgt-ids", required=True)
    p.add_argument("--vocab", type=int, default=8000)
    add_model_args(p)

    p = sub.add_parser("translate-speed", help="attend translate vs PyTorch 2.x: sentences/s")
    p.add_argument("--attend", required=True)
    p.add_argument("--python2", required=True)
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--input", default=os.path.join(DATA, "test_2016_flickr.de"))
    p.add_argument("--out-dir", required=True)
    p.add_argument("--threads", default="1,2")
    p.add_argument("--beams", default="5,1", help="beam sizes (1 = greedy)")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--alpha", type=float, default=0.6)
    p.add_argument("--max-len-ratio", type=float, default=2.0)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--min-agreement", type=float, default=95.0, help="greedy agreement (%%) needed to time")
    p.add_argument("--command", default="")

    p = sub.add_parser("translate-worker")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--src-ids", required=True)
    p.add_argument("--out-ids", default=None)
    p.add_argument("--limit", type=int, default=0)
    p.add_argument("--beam", type=int, default=5)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--alpha", type=float, default=0.6)
    p.add_argument("--max-len-ratio", type=float, default=2.0)
    p.add_argument("--max-len-offset", type=int, default=10)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--report-backend", action="store_true")

    args = ap.parse_args()
    if args.mode == "train-speed":
        q = args.quick
        args.warmup = args.warmup if args.warmup is not None else 2 if q else 10
        args.steps = args.steps if args.steps is not None else 10 if q else 40
        args.repeats = args.repeats if args.repeats is not None else 1 if q else 3
        if args.warmup < 1 or args.steps < 1:
            sys.exit("--warmup and --steps must be at least 1")
        run_train_speed(args)
    elif args.mode == "train-worker":
        run_train_worker(args)
    elif args.mode == "translate-speed":
        run_translate_speed(args)
    else:
        run_translate_worker(args)


if __name__ == "__main__":
    main()
