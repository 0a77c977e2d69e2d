#!/usr/bin/python3
"""Writes the golden files of one training step of attend's `gpt` architecture
(tests/golden/data/gpt_step_*.json), checked by tests/golden/models_golden_gpt.cc.

Run with Debian's PyTorch 1.13:  scripts/golden/make.sh make_gpt_golden
Same file format as make_golden.py (whose writer this script reuses), read by tests/support/golden.{h,cc}.

The model is GPT-2 as a PyTorch user builds it from torch.nn pieces, in float32 (what attend trains
in), train mode, dropout 0:
  x_0    = embed(tokens) + positions(0..T)             two nn.Embedding, no padding_idx (attend's
                                                       gpt has none: pad inputs are ordinary rows)
  x_L    = blocks(x_0, mask=causal)                    nn.TransformerEncoder of L
                                                       nn.TransformerEncoderLayer(C, H, F, dropout=0,
                                                       activation="gelu", batch_first=True,
                                                       norm_first=True) with norm=nn.LayerNorm(C) (LN_f)
  logits = x_L embed.weight^T (tie_output)  or  output(x_L) (nn.Linear(C, V, bias=False))
The causal mask is a float attn_mask, -inf above the diagonal (PyTorch 1.13 has no is_causal).
GELU is F.gelu's exact erf form, as attend's nn::Activation::gelu.

Names (PyTorch's state_dict against attend's named_parameters, one to one and in the same order):
  embed.weight [V, C]                                  embed.weight
  positions.weight [max_positions, C]                  positions.weight
  blocks.layers.<l>.self_attn.in_proj_weight / _bias   blocks.layers.<l>.self_attn.in_proj_weight / _bias
  blocks.layers.<l>.self_attn.out_proj.{weight,bias}   the same
  blocks.layers.<l>.linear1.*, linear2.*, norm1.*, norm2.*   the same (nn::TransformerDecoderLayer
                                                       without cross-attention keeps the encoder
                                                       layer's names)
  blocks.norm.{weight,bias}                            blocks.norm.* (LN_f, nn::LayerStack's norm)
  output.weight [V, C] (untied cases only)             output.weight

The batch is what data::TokenWindows makes: a token stream (documents of word ids >= 4 joined by
EOS) cut into windows of context + 1 tokens, window i = stream[i T .. i T + T]; the last window is
the stream's shorter rest, padded with PAD on the right, so its row has pad targets at its end (and
pad inputs, which the model reads as ordinary tokens; causal attention keeps the real positions off
them). Loss as train::LanguageModelObjective: inputs windows[:, :-1], targets windows[:, 1:], mean
token cross-entropy over targets != PAD (F.cross_entropy(ignore_index=PAD)). Then, as
train::Trainer::train_step: clip_grad_norm_(clip) and one torch.optim.Adam step (betas (0.9,
beta2) with the case's beta2, eps 1e-8).

Before anything is written, the modules' logits are checked against gpt.h's equations written out
in float64 from the same parameters (by_hand): the script stops if they differ by more than 1e-4
(float32 rounding is about 1e-6, printed per case), so a misused torch.nn piece (a mask direction,
a norm's place, the activation, a bias) cannot make a golden file.

Stored: "stream" (ints), "window_ids" (the windows of the batch, in its row order), "windows" [B, W]
(ints, W = T + 1); "param.<name>" (before the step), "grad.<name>" (the gradient of the loss, before
clipping), "after.<name>" (after the Adam step), "exp_avg.<name>" / "exp_avg_sq.<name>" (Adam's
state after it), "logits" [B, T, V], "loss" and "grad_norm" (the total norm before clipping).
Floats are written with 9 significant digits, which read back as the same float32 values.
"""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_golden import gen, write  # noqa: E402

F32 = torch.float32
PAD, EOS = 0, 3  # models::LanguageModelConfig's defaults (data::Vocab's specials)
FIRST_WORD = 4   # ids below are specials


class Gpt(torch.nn.Module):
    """GPT-2 from torch.nn pieces; attribute order = attend's parameter order."""

    def __init__(self, cfg):
        super().__init__()
        C, H, Fd, L, V = cfg["d_model"], cfg["num_heads"], cfg["ffn_dim"], cfg["num_layers"], cfg["vocab"]
        self.embed = torch.nn.Embedding(V, C, dtype=F32)
        self.positions = torch.nn.Embedding(cfg["max_positions"], C, dtype=F32)
        layer = torch.nn.TransformerEncoderLayer(C, H, Fd, dropout=0.0, activation=cfg["activation"],
                                                 batch_first=True, norm_first=True, dtype=F32)
        self.blocks = torch.nn.TransformerEncoder(layer, L, norm=torch.nn.LayerNorm(C, dtype=F32),
                                                  enable_nested_tensor=False)
        self.tie = bool(cfg["tie_output"])
        if not self.tie:
            self.output = torch.nn.Linear(C, V, bias=False, dtype=F32)

    def forward(self, tokens):
        T = tokens.shape[1]
        x = self.embed(tokens) + self.positions(torch.arange(T))  # [B, T, C]
        causal = torch.triu(torch.full((T, T), float("-inf"), dtype=F32), diagonal=1)  # -inf = the future
        y = self.blocks(x, mask=causal)  # [B, T, C], LN_f applied
        return F.linear(y, self.embed.weight) if self.tie else self.output(y)  # [B, T, V]


def by_hand(model, cfg, tokens):
    # gpt.h's equations written out in float64 from the same parameters, independent of torch.nn's
    # modules: the script stops if the modules above compute anything else (a mask direction, a
    # norm's place, the GELU).
    P = {n: p.detach().double() for n, p in model.named_parameters()}
    C, H, L = cfg["d_model"], cfg["num_heads"], cfg["num_layers"]
    B, T = tokens.shape
    D = C // H

    def ln(x, pre):
        mu = x.mean(-1, keepdim=True)
        var = ((x - mu) ** 2).mean(-1, keepdim=True)
        return (x - mu) / torch.sqrt(var + 1e-5) * P[pre + ".weight"] + P[pre + ".bias"]

    x = P["embed.weight"][tokens] + P["positions.weight"][:T]
    future = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
    for l in range(L):
        pre = f"blocks.layers.{l}."
        h = ln(x, pre + "norm1")
        qkv = h @ P[pre + "self_attn.in_proj_weight"].T + P[pre + "self_attn.in_proj_bias"]  # [B, T, 3C]
        q, k, v = (t.reshape(B, T, H, D).transpose(1, 2) for t in qkv.split(C, dim=-1))   # [B, H, T, D]
        s = (q @ k.transpose(-1, -2)) / D ** 0.5
        a = torch.softmax(s.masked_fill(future, float("-inf")), dim=-1) @ v             # [B, H, T, D]
        a = a.transpose(1, 2).reshape(B, T, C)
        x = x + a @ P[pre + "self_attn.out_proj.weight"].T + P[pre + "self_attn.out_proj.bias"]
        h = ln(x, pre + "norm2") @ P[pre + "linear1.weight"].T + P[pre + "linear1.bias"]
        h = h * 0.5 * (1 + torch.erf(h / 2 ** 0.5)) if cfg["activation"] == "gelu" else h.clamp(min=0)
        x = x + h @ P[pre + "linear2.weight"].T + P[pre + "linear2.bias"]
    y = ln(x, "blocks.norm")
    return y @ (P["embed.weight"] if cfg["tie_output"] else P["output.weight"]).T  # [B, T, V]


def randomize(model, g):
    # GPT-2 initializes biases to zero, norms to one and weights at 0.02; larger random values make
    # every parameter matter (pad's embedding row included: it is read as an input and, tied, scored).
    with torch.no_grad():
        for name, p in model.named_parameters():
            last = name.split(".")[-2]
            base = 1.0 if last.startswith("norm") and name.endswith("weight") else 0.0
            p.copy_(base + 0.4 * torch.randn(p.shape, generator=g, dtype=F32))


def token_stream(g, doc_lengths, vocab):
    # Documents of word ids, each followed by EOS, as attend's language-model data joins them.
    out = []
    for n in doc_lengths:
        out += torch.randint(FIRST_WORD, vocab, (n,), generator=g).tolist() + [EOS]
    return out


def token_windows(stream, context, ids):
    # data::TokenWindows::make_batch: window w = stream[w T .. w T + T], the short last one padded.
    n = len(stream)
    width = max(min(context + 1, n - w * context) for w in ids)
    rows = []
    for w in ids:
        row = stream[w * context:w * context + min(context + 1, n - w * context)]
        rows.append(row + [PAD] * (width - len(row)))
    return torch.tensor(rows, dtype=torch.int64)


def shortest(t):
    # float32 values as the float64 nearest to their 9 significant digits, which still round back to
    # the same float32 and make JSON numbers half as long as the float64 repr of the float32 itself.
    assert t.dtype == F32
    return torch.tensor([float(f"{v:.9g}") for v in t.reshape(-1).tolist()], dtype=torch.float64).reshape(t.shape)


def case(name, seed, *, d_model, num_heads, ffn_dim, num_layers, vocab, max_positions, tie_output, context,
         doc_lengths, window_ids, clip, beta2, lr=0.01, activation="gelu"):
    g = gen(seed)
    cfg = {"d_model": d_model, "num_heads": num_heads, "ffn_dim": ffn_dim, "num_layers": num_layers,
           "vocab": vocab, "max_positions": max_positions, "tie_output": int(tie_output), "dropout": 0.0,
           "attention_dropout": 0.0, "activation": activation, "pad_id": PAD, "eos_id": EOS}
    model = Gpt(cfg)
    randomize(model, g)
    model.train()  # dropout is 0; train mode as the trainer's (and off PyTorch 1.13's inference fast path)

    stream = token_stream(g, doc_lengths, vocab)
    windows = token_windows(stream, context, window_ids)  # [B, T + 1]
    num_windows = (len(stream) - 1 + context - 1) // context
    assert all(0 <= w < num_windows for w in window_ids)
    inputs, targets = windows[:, :-1], windows[:, 1:]
    assert (targets == PAD).any(), f"{name}: no pad target"

    tensors = {"param." + n: p.detach().clone() for n, p in model.named_parameters()}
    logits = model(inputs)  # [B, T, V]
    err = (by_hand(model, cfg, inputs) - logits.double()).abs().max().item()
    if err > 1e-4:
        sys.exit(f"{name}: torch.nn's GPT differs from gpt.h's equations by {err}")
    loss = F.cross_entropy(logits.reshape(-1, vocab), targets.reshape(-1), ignore_index=PAD)
    loss.backward()
    for n, p in model.named_parameters():
        tensors["grad." + n] = p.grad.detach().clone()
    params = list(model.parameters())
    grad_norm = torch.nn.utils.clip_grad_norm_(params, clip)
    opt = torch.optim.Adam(params, lr=lr, betas=(0.9, beta2), eps=1e-8)
    opt.step()
    for n, p in model.named_parameters():
        tensors["after." + n] = p.detach().clone()
        tensors["exp_avg." + n] = opt.state[p]["exp_avg"].clone()
        tensors["exp_avg_sq." + n] = opt.state[p]["exp_avg_sq"].clone()
    tensors["logits"] = logits.detach()
    tensors["loss"] = loss.detach()
    tensors["grad_norm"] = grad_norm.detach()
    counted = int((targets != PAD).sum())
    print(f"{name}: loss {loss.item():.6f} over {counted} targets, grad norm {grad_norm.item():.4f} (clip {clip}), "
          f"logits {err:.2g} from the equations in float64")

    config = dict(cfg, gelu=activation == "gelu", context=context, lr=lr, beta1=0.9, beta2=beta2, eps=1e-8,
                  clip=clip, torch_version=torch.__version__,
                  param_names=[n for n, _ in model.named_parameters()])
    ints = {"stream": torch.tensor(stream), "window_ids": torch.tensor(window_ids), "windows": windows}
    write(name, config, {k: shortest(v) for k, v in tensors.items()}, ints)


def main():
    torch.set_num_threads(1)
    # Tied output; the batch holds the stream's short last window (2 real targets of 5, then pad);
    # a clip below the gradient norm; GPT-2's beta2 0.95.
    case("gpt_step_tied", 701, d_model=8, num_heads=2, ffn_dim=12, num_layers=2, vocab=11, max_positions=8,
         tie_output=True, context=5, doc_lengths=(6, 4, 5), window_ids=(3, 0, 1), clip=1.0, beta2=0.95)
    # An output layer of its own (output.weight, no bias), other sizes (3 heads of width 2, 3 layers),
    # a context that fills max_positions, Adam's default beta2 0.999; the last window has 1 real target.
    case("gpt_step_untied", 702, d_model=6, num_heads=3, ffn_dim=10, num_layers=3, vocab=13, max_positions=6,
         tie_output=False, context=6, doc_lengths=(7, 5), window_ids=(0, 2, 1), clip=5.0, beta2=0.999)
    # One layer of one head of width 8, tied; a batch of the short last window (4 real targets of 7)
    # and a full one; a clip just below the gradient norm; beta2 0.98.
    case("gpt_step_one_layer", 703, d_model=8, num_heads=1, ffn_dim=16, num_layers=1, vocab=9, max_positions=10,
         tie_output=True, context=7, doc_lengths=(5, 8, 3), window_ids=(2, 1), clip=2.0, beta2=0.98)


if __name__ == "__main__":
    main()
