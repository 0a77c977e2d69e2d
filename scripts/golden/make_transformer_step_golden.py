#!/usr/bin/python3
"""Writes the golden files of one training step of attend's `transformer` architecture
(tests/golden/data/transformer_step_*.json), checked by tests/golden/models_golden_transformer_step.cc.

Run with Debian's PyTorch 1.13:  scripts/golden/make.sh make_transformer_step_golden
Same file format as make_golden.py (whose writer this script reuses), read by tests/support/golden.{h,cc}.

The model is torch.nn.Transformer (batch_first=True, dropout 0, train mode) with what attend's
src/models/transformer.cc puts around it, in float32 (what attend trains in):
  encoder input  sqrt(C) E_src[src] + PE[0..S)   source key padding in the encoder's self-attention
  decoder input  sqrt(C) E_tgt[tgt_in] + PE[0..T) causal self-attention, source key padding in the
                                                 cross-attention, no target key padding (causal
                                                 already keeps real positions off the padded tail)
  logits         y E_tgt^T (tie_output) or output(y) (an nn.Linear)
  PE[p, 2i] = sin(p / 10000^(2i / C)), PE[p, 2i + 1] = cos(p / 10000^(2i / C)) (nn::sinusoidal_positions,
  computed in double with the same libm, then rounded to float32).
The stacks end in a LayerNorm only with norm_first (attend's encoder.norm / decoder.norm): post-norm
cases build nn.Transformer with custom_encoder / custom_decoder whose norm is None, since
nn.Transformer's default stacks always have one. share_embeddings: one nn.Embedding serves both
sides (attend then has no src_embed). Embeddings have padding_idx = pad_id, as attend's.

Teacher forcing as models::decoder_io: tgt_in = BOS y_1 .. y_n pad ..., tgt_out = y_1 .. y_n EOS pad ...
(width T + 1). Loss as models::sequence_loss with the trainer's LossOptions: mean token cross-entropy,
label smoothing eps, pad ignored. attend documents (src/ops/losses.cc)
  loss_i = lse_i - (1 - eps) x_{i,t_i} - eps / V sum_c x_ic,  mean over rows with t_i != pad,
which is PyTorch's F.cross_entropy(label_smoothing=eps, ignore_index=pad); this script computes both
and stops if they differ. Then, as train::Trainer::train_step: clip_grad_norm_(clip) and one
torch.optim.Adam step (betas (0.9, 0.98) as the transformer recipe, eps 1e-8).

Stored: "src" [B, S] (pad in the padded tail), "src_lengths", "target" [B, T] (pad-padded),
"target_lengths", "tgt_in"/"tgt_out" [B, T + 1] (ints); "param.<name>" (before the step),
"grad.<name>" (the gradient of the loss, before clipping), "after.<name>" (after the Adam step),
"exp_avg.<name>" / "exp_avg_sq.<name>" (Adam's state after it: parameters after a first step do not
depend on beta1 and beta2 and hardly on the clipping; the state does), "logits" [B, T + 1, V], "loss"
and "grad_norm" (the total norm before clipping). Names are attend's: PyTorch's with the wrapper's
"transformer." dropped (encoder.layers.0.self_attn.in_proj_weight, ...). Floats are written with 9
significant digits, which read back as the same float32 values.
"""
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_golden import gen, write  # noqa: E402

F32 = torch.float32
PAD, BOS, EOS = 0, 2, 3  # models::ModelConfig's defaults (data::Vocab's specials)
FIRST_WORD = 4           # ids below are specials


def sinusoidal_positions(length, dim):
    pe = [[0.0] * dim for _ in range(length)]
    for t in range(length):
        for c in range(dim):
            angle = t / math.pow(10000.0, (c - c % 2) / dim)
            pe[t][c] = math.sin(angle) if c % 2 == 0 else math.cos(angle)
    return torch.tensor(pe, dtype=torch.float64).to(F32)  # [length, C]


class Model(torch.nn.Module):
    """attend's transformer around torch.nn.Transformer; attribute order = attend's parameter order."""

    def __init__(self, cfg):
        super().__init__()
        C, H, Fd = cfg["d_model"], cfg["num_heads"], cfg["ffn_dim"]
        self.C = C
        self.share = bool(cfg["share_embeddings"])
        if not self.share:
            self.src_embed = torch.nn.Embedding(cfg["src_vocab"], C, padding_idx=PAD, dtype=F32)
        self.tgt_embed = torch.nn.Embedding(cfg["tgt_vocab"], C, padding_idx=PAD, dtype=F32)
        norm_first = bool(cfg["norm_first"])
        kw = dict(dropout=0.0, activation=cfg["activation"], batch_first=True, norm_first=norm_first, dtype=F32)
        enc_layer = torch.nn.TransformerEncoderLayer(C, H, Fd, **kw)
        dec_layer = torch.nn.TransformerDecoderLayer(C, H, Fd, **kw)
        enc_norm = torch.nn.LayerNorm(C, dtype=F32) if norm_first else None
        dec_norm = torch.nn.LayerNorm(C, dtype=F32) if norm_first else None
        encoder = torch.nn.TransformerEncoder(enc_layer, cfg["encoder_layers"], norm=enc_norm,
                                              enable_nested_tensor=False)
        decoder = torch.nn.TransformerDecoder(dec_layer, cfg["decoder_layers"], norm=dec_norm)
        self.transformer = torch.nn.Transformer(C, H, custom_encoder=encoder, custom_decoder=decoder,
                                                batch_first=True, dtype=F32)
        self.tie = bool(cfg["tie_output"])
        if not self.tie:
            self.output = torch.nn.Linear(C, cfg["tgt_vocab"], dtype=F32)
        self.pe = sinusoidal_positions(cfg["max_positions"], C)

    def named(self):
        return [(n.replace("transformer.", "", 1), p) for n, p in self.named_parameters()]

    def forward(self, src, src_lengths, tgt_in):
        S, T = src.shape[1], tgt_in.shape[1]
        src_embed = self.tgt_embed if self.share else self.src_embed
        x = src_embed(src) * math.sqrt(self.C) + self.pe[:S]        # [B, S, C]
        y = self.tgt_embed(tgt_in) * math.sqrt(self.C) + self.pe[:T]  # [B, T, C]
        padding = torch.arange(S)[None, :] >= torch.tensor(src_lengths)[:, None]  # True = IGNORE
        causal = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)     # True = IGNORE
        out = self.transformer(x, y, tgt_mask=causal, src_key_padding_mask=padding,
                               memory_key_padding_mask=padding)  # [B, T, C]
        return F.linear(out, self.tgt_embed.weight) if self.tie else self.output(out)  # [B, T, V]


def randomize(model, g):
    # PyTorch initializes biases to zero and norms to one; random values make every parameter matter
    # (embedding padding rows included: they still feed a tied output projection).
    with torch.no_grad():
        for name, p in model.named_parameters():
            last = name.split(".")[-2]
            base = 1.0 if last.startswith("norm") and name.endswith("weight") else 0.0
            p.copy_(base + 0.4 * torch.randn(p.shape, generator=g, dtype=F32))


def tokens(g, lengths, width, vocab):
    ids = torch.randint(FIRST_WORD, vocab, (len(lengths), width), generator=g)
    for b, n in enumerate(lengths):
        ids[b, n:] = PAD
    return ids


def decoder_io(target, lengths):
    B, T = target.shape
    tgt_in = torch.full((B, T + 1), PAD, dtype=torch.int64)
    tgt_out = torch.full((B, T + 1), PAD, dtype=torch.int64)
    for b, n in enumerate(lengths):
        tgt_in[b, 0] = BOS
        tgt_in[b, 1:n + 1] = target[b, :n]
        tgt_out[b, :n] = target[b, :n]
        tgt_out[b, n] = EOS
    return tgt_in, tgt_out


def attend_smoothed_loss(logits, targets, eps):
    # src/ops/losses.cc: loss_i = lse_i - (1 - eps) x_it - eps / V sum_c x_ic, mean over counted rows.
    x = logits.double()
    lse = torch.logsumexp(x, dim=1)
    keep = targets != PAD
    li = lse - (1 - eps) * x.gather(1, targets.clamp(min=0)[:, None])[:, 0] - eps / x.shape[1] * x.sum(1)
    return li[keep].sum() / keep.sum()


def shortest(t):
    # float32 values as the float64 nearest to their 9 significant digits, which still round back to
    # the same float32 and make JSON numbers half as long as the float64 repr of the float32 itself.
    assert t.dtype == F32
    return torch.tensor([float(f"{v:.9g}") for v in t.reshape(-1).tolist()], dtype=torch.float64).reshape(t.shape)


def case(name, seed, *, norm_first, activation, share_embeddings, tie_output, src_vocab, tgt_vocab,
         src_lengths, target_lengths, clip, lr=0.01, label_smoothing=0.1):
    g = gen(seed)
    cfg = {"d_model": 8, "num_heads": 2, "ffn_dim": 12, "encoder_layers": 2, "decoder_layers": 2,
           "dropout": 0.0, "attention_dropout": 0.0, "activation": activation, "norm_first": int(norm_first),
           "positions": "sinusoidal", "max_positions": 64, "share_embeddings": int(share_embeddings),
           "tie_output": int(tie_output), "src_vocab": src_vocab, "tgt_vocab": tgt_vocab,
           "pad_id": PAD, "bos_id": BOS, "eos_id": EOS}
    model = Model(cfg)
    randomize(model, g)
    model.train()  # dropout is 0; train mode as the trainer's (and off PyTorch 1.13's inference fast path)

    S, T = max(src_lengths), max(target_lengths)  # padded to the longest, as data::Batcher does
    src = tokens(g, src_lengths, S, src_vocab)
    target = tokens(g, target_lengths, T, tgt_vocab)
    tgt_in, tgt_out = decoder_io(target, target_lengths)

    tensors = {"param." + n: p.detach().clone() for n, p in model.named()}
    logits = model(src, list(src_lengths), tgt_in)  # [B, T + 1, V]
    V = logits.shape[-1]
    loss = F.cross_entropy(logits.reshape(-1, V), tgt_out.reshape(-1), ignore_index=PAD,
                           label_smoothing=label_smoothing)
    mine = attend_smoothed_loss(logits.detach().reshape(-1, V), tgt_out.reshape(-1), label_smoothing)
    if abs(mine.item() - loss.item()) > 1e-5 * abs(mine.item()):
        sys.exit(f"{name}: attend's label-smoothed loss {mine.item()} differs from PyTorch's {loss.item()}")
    loss.backward()
    for n, p in model.named():
        tensors["grad." + n] = p.grad.detach().clone()
    params = [p for _, p in model.named()]
    grad_norm = torch.nn.utils.clip_grad_norm_(params, clip)
    opt = torch.optim.Adam(params, lr=lr, betas=(0.9, 0.98), eps=1e-8)
    opt.step()
    for n, p in model.named():
        tensors["after." + n] = p.detach().clone()
        tensors["exp_avg." + n] = opt.state[p]["exp_avg"].clone()
        tensors["exp_avg_sq." + n] = opt.state[p]["exp_avg_sq"].clone()
    tensors["logits"] = logits.detach()
    tensors["loss"] = loss.detach()
    tensors["grad_norm"] = grad_norm.detach()
    print(f"{name}: loss {loss.item():.6f}, grad norm {grad_norm.item():.4f} (clip {clip})")

    config = dict(cfg, gelu=activation == "gelu", label_smoothing=label_smoothing, lr=lr, beta1=0.9, beta2=0.98,
                  eps=1e-8, clip=clip, torch_version=torch.__version__, param_names=[n for n, _ in model.named()])
    ints = {"src": src, "src_lengths": torch.tensor(src_lengths), "target": target,
            "target_lengths": torch.tensor(target_lengths), "tgt_in": tgt_in, "tgt_out": tgt_out}
    write(name, config, {k: shortest(v) for k, v in tensors.items()}, ints)


def main():
    torch.set_num_threads(1)
    # Post-norm (the paper): separate source table, tied output; a clip below the gradient norm.
    case("transformer_step_postnorm", 601, norm_first=False, activation="relu", share_embeddings=False,
         tie_output=True, src_vocab=11, tgt_vocab=13, src_lengths=(5, 3, 4), target_lengths=(4, 1, 3), clip=1.0)
    # Pre-norm (final encoder.norm / decoder.norm): one table for both sides, tied output.
    case("transformer_step_prenorm", 602, norm_first=True, activation="gelu", share_embeddings=True,
         tie_output=True, src_vocab=12, tgt_vocab=12, src_lengths=(3, 6, 2), target_lengths=(2, 5, 3), clip=5.0)
    # Pre-norm with an output layer of its own (tie_output 0) and separate tables.
    case("transformer_step_prenorm_untied", 603, norm_first=True, activation="relu", share_embeddings=False,
         tie_output=False, src_vocab=13, tgt_vocab=11, src_lengths=(4, 2), target_lengths=(3, 5), clip=5.0)


if __name__ == "__main__":
    main()
