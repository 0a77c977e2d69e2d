#!/usr/bin/python3
"""Writes the PyTorch golden files of tests/golden/data (oracle 3 of DESIGN.md section 6).

Run with Debian's PyTorch 1.13:  scripts/golden/make.sh make_golden (installs python3-torch if missing)
The C++ tests read the JSON files and never need Python. Every case is computed in float64 from
fixed seeds, so running the script again reproduces the files byte for byte.

File format (read by tests/support/golden.{h,cc}):
  {"config":  {...case settings...},
   "tensors": {name: {"shape": [...], "data": [...row-major floats...]}},
   "ints":    {name: {"shape": [...], "data": [...row-major ints...]}}}
JSON has no NaN/Inf, so non-finite floats are written as the strings "nan", "inf", "-inf".

Conventions the C++ side relies on:
  - MultiheadAttention cases use batch_first=True; parameters are stored under "param.<state_dict
    name>", their gradients under "grad.<state_dict name>", input gradients under "grad.<input>".
  - Gradients are of loss = sum(out * proj) with the fixed random "proj" stored in the file.
  - Boolean masks are stored in PyTorch's convention (True = IGNORE / not allowed) as 0/1 ints;
    the tests convert them to attend's (true = may attend) explicitly.
"""
import json
import math
import os

import torch
import torch.nn.functional as F

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "golden", "data")
DT = torch.float64


def enc_float(x):
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def tensor_entry(t):
    t = t.detach().to(DT).contiguous()
    return {"shape": list(t.shape), "data": [enc_float(v) for v in t.reshape(-1).tolist()]}


def int_entry(t):
    t = t.detach().to(torch.int64).contiguous()
    return {"shape": list(t.shape), "data": t.reshape(-1).tolist()}


def write(name, config, tensors, ints=None):
    doc = {
        "config": config,
        "tensors": {k: tensor_entry(v) for k, v in tensors.items()},
        "ints": {k: int_entry(v) for k, v in (ints or {}).items()},
    }
    path = os.path.join(OUT_DIR, name + ".json")
    with open(path, "w") as f:
        json.dump(doc, f, separators=(",", ":"), allow_nan=False)
        f.write("\n")
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


def gen(seed):
    g = torch.Generator()
    g.manual_seed(seed)
    return g


# ---------------------------------------------------------------------------------------------
# nn.MultiheadAttention
# ---------------------------------------------------------------------------------------------
def mha_case(name, seed, *, E=8, H=2, B=2, Tq=4, Tk=4, kdim=None, vdim=None, bias=True, self_attn=True,
             key_padding_mask=None, attn_mask=None, average_attn_weights=True, note=""):
    g = gen(seed)
    mha = torch.nn.MultiheadAttention(E, H, bias=bias, kdim=kdim, vdim=vdim, batch_first=True, dtype=DT)
    # PyTorch initializes the biases to zero; random values make every parameter matter.
    with torch.no_grad():
        for p in mha.parameters():
            p.copy_(0.4 * torch.randn(p.shape, generator=g, dtype=DT))
    mha.train()  # dropout is 0; train mode keeps PyTorch 1.13 off its fused inference fast path
    kd = kdim if kdim is not None else E
    vd = vdim if vdim is not None else E
    query = torch.randn(B, Tq, E, generator=g, dtype=DT).requires_grad_()
    if self_attn:
        key = value = query
        inputs = {"query": query}
    else:
        key = torch.randn(B, Tk, kd, generator=g, dtype=DT).requires_grad_()
        value = torch.randn(B, Tk, vd, generator=g, dtype=DT).requires_grad_()
        inputs = {"query": query, "key": key, "value": value}
    out, weights = mha(query, key, value, key_padding_mask=key_padding_mask, attn_mask=attn_mask,
                       need_weights=True, average_attn_weights=average_attn_weights)
    proj = torch.randn(out.shape, generator=g, dtype=DT)
    (out * proj).sum().backward()

    tensors = {}
    for k, v in inputs.items():
        tensors[k] = v
    for pname, p in mha.named_parameters():
        tensors["param." + pname] = p
        tensors["grad." + pname] = p.grad if p.grad is not None else torch.full(p.shape, float("nan"), dtype=DT)
    for k, v in inputs.items():
        tensors["grad." + k] = v.grad
    tensors["out"] = out
    tensors["weights"] = weights
    tensors["proj"] = proj
    ints = {}
    if key_padding_mask is not None:
        ints["key_padding_mask"] = key_padding_mask
    if attn_mask is not None and attn_mask.dtype == torch.bool:
        ints["attn_mask"] = attn_mask
    elif attn_mask is not None:
        tensors["attn_mask"] = attn_mask
    config = {
        "embed_dim": E, "num_heads": H, "kdim": kd, "vdim": vd, "bias": bias, "self_attention": self_attn,
        "average_attn_weights": average_attn_weights, "torch_version": torch.__version__, "note": note,
        "param_names": [n for n, _ in mha.named_parameters()],
    }
    write(name, config, tensors, ints)


def mha_cases():
    mha_case("mha_self", 101, note="self attention, query is key is value")
    mha_case("mha_cross", 102, Tq=3, Tk=5, self_attn=False, note="cross attention, Tq != Tk")
    mha_case("mha_kdim_vdim", 103, Tq=3, Tk=5, kdim=6, vdim=4, self_attn=False,
             note="kdim/vdim differ from embed_dim: separate q/k/v projection weights")
    kpm = torch.zeros(2, 5, dtype=torch.bool)
    kpm[0, 4] = True
    kpm[1, 2:] = True
    mha_case("mha_key_padding", 104, Tq=3, Tk=5, self_attn=False, key_padding_mask=kpm,
             note="key_padding_mask [B, Tk], True = ignore")
    g = gen(105)
    bool_mask = torch.rand(4, 4, generator=g) < 0.4
    bool_mask[:, 0] = False  # no fully masked row (that case has its own file)
    mha_case("mha_bool_attn_mask", 106, attn_mask=bool_mask, note="boolean attn_mask [Tq, Tk], True = not allowed")
    float_mask = torch.randn(3, 5, generator=g, dtype=DT)
    mha_case("mha_float_attn_mask", 107, Tq=3, Tk=5, self_attn=False, attn_mask=float_mask,
             note="float attn_mask [Tq, Tk] added to the scaled scores")
    causal = torch.triu(torch.ones(5, 5, dtype=torch.bool), diagonal=1)
    mha_case("mha_causal", 108, Tq=5, Tk=5, attn_mask=causal, note="causal: attn_mask = triu(ones, 1)")
    mha_case("mha_per_head_weights", 109, Tq=3, Tk=5, self_attn=False, average_attn_weights=False,
             note="average_attn_weights=False: weights [B, H, Tq, Tk]")
    mha_case("mha_no_bias", 110, Tq=3, Tk=5, self_attn=False, bias=False, note="bias=False")
    mha_case("mha_four_heads", 111, E=8, H=4, Tq=3, Tk=4, self_attn=False,
             note="four heads of size 2")
    full = torch.zeros(3, 5, dtype=torch.bool)
    full[1, :] = True   # query 1 may attend to nothing
    full[2, 3:] = True
    mha_case("mha_fully_masked_row", 112, Tq=3, Tk=5, self_attn=False, attn_mask=full,
             note="query row 1 fully masked: PyTorch 1.13 gives NaN there (and NaN gradients); "
                  "attend gives zero weights and a zero context (docs/semantics.md)")


# ---------------------------------------------------------------------------------------------
# Functional ops
# ---------------------------------------------------------------------------------------------
def softmax_cases():
    for fname, fn in (("softmax", F.softmax), ("log_softmax", F.log_softmax)):
        g = gen(201 if fname == "softmax" else 202)
        x = torch.randn(2, 3, 5, generator=g, dtype=DT) * 3.0
        x[0, 1, 2] = 60.0  # a large logit: the max-subtraction must keep it finite
        tensors = {"x": x}
        for axis in (1, 2):
            xa = x.clone().requires_grad_()
            y = fn(xa, dim=axis)
            proj = torch.randn(y.shape, generator=g, dtype=DT)
            (y * proj).sum().backward()
            tensors[f"out_axis{axis}"] = y
            tensors[f"proj_axis{axis}"] = proj
            tensors[f"grad_axis{axis}"] = xa.grad
        write(fname, {"axes": [1, 2], "torch_version": torch.__version__}, tensors)


def layer_norm_case():
    g = gen(301)
    x = (torch.randn(2, 3, 8, generator=g, dtype=DT) * 2.0 + 0.5).requires_grad_()
    w = (1.0 + 0.3 * torch.randn(8, generator=g, dtype=DT)).requires_grad_()
    b = (0.3 * torch.randn(8, generator=g, dtype=DT)).requires_grad_()
    y = F.layer_norm(x, (8,), w, b, eps=1e-5)
    proj = torch.randn(y.shape, generator=g, dtype=DT)
    (y * proj).sum().backward()
    write("layer_norm", {"normalized_dims": 1, "eps": 1e-5, "torch_version": torch.__version__},
          {"x": x, "weight": w, "bias": b, "out": y, "proj": proj, "grad.x": x.grad, "grad.weight": w.grad,
           "grad.bias": b.grad})


def cross_entropy_case():
    g = gen(401)
    logits = torch.randn(6, 5, generator=g, dtype=DT) * 2.0
    targets = torch.tensor([1, 4, 2, 0, 2, 3])  # rows 2 and 4 hit the ignore_index below
    tensors = {"logits": logits}
    cfg = {"ignore_index": 2, "label_smoothing": 0.1, "torch_version": torch.__version__,
           "note": "target class 2 is the ignore_index: rows with target 2 count neither in the loss nor "
                   "in the mean's denominator"}
    for red in ("mean", "sum", "none"):
        lg = logits.clone().requires_grad_()
        loss = F.cross_entropy(lg, targets, ignore_index=2, label_smoothing=0.1, reduction=red)
        proj = torch.randn(loss.shape, generator=g, dtype=DT)
        (loss * proj).sum().backward()
        tensors[f"loss_{red}"] = loss
        tensors[f"proj_{red}"] = proj
        tensors[f"grad_{red}"] = lg.grad
    write("cross_entropy", cfg, tensors, {"targets": targets})


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    torch.set_num_threads(1)
    mha_cases()
    softmax_cases()
    layer_norm_case()
    cross_entropy_case()


if __name__ == "__main__":
    main()
