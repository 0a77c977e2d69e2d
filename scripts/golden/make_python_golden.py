#!/usr/bin/env python3
"""Writes python/tests/data/torch_golden.npz: PyTorch 2.x outputs that the Python package's tests
(python/tests/test_torch_golden.py) compare attend with, so those tests need no PyTorch.

Run: scripts/golden/make_python_golden.sh (a virtual environment with PyTorch 2.x from PyPI).
Everything in float64 with fixed seeds; each case stores its inputs and PyTorch's outputs under
"<case>.<name>".
  sdpa_*  torch.nn.functional.scaled_dot_product_attention: plain, causal (square, where PyTorch's
          top-left and attend's bottom-right alignments agree), boolean mask (True = take part,
          as attend), float mask, custom scale, grouped-query heads (enable_gqa)
  mha_*   torch.nn.MultiheadAttention forward: batch_first False and True, key_padding_mask (True =
          ignore), boolean and float attn_mask, per-head weights, kdim/vdim != embed_dim; its
          state_dict stored as "<case>.param.<name>"
"""
import os

import numpy as np
import torch
import torch.nn.functional as F

DT = torch.float64
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python", "tests", "data", "torch_golden.npz")
arrays = {}


def put(case, **named):
    for k, v in named.items():
        if isinstance(v, torch.Tensor):
            v = v.detach().numpy()
        arrays[f"{case}.{k}"] = np.asarray(v)


def sdpa_cases(g):
    B, H, T, S, D = 2, 3, 5, 7, 8
    q = torch.randn(B, H, T, D, generator=g, dtype=DT)
    k = torch.randn(B, H, S, D, generator=g, dtype=DT)
    v = torch.randn(B, H, S, D, generator=g, dtype=DT)
    put("sdpa_plain", q=q, k=k, v=v, out=F.scaled_dot_product_attention(q, k, v))
    ks = torch.randn(B, H, T, D, generator=g, dtype=DT)
    vs = torch.randn(B, H, T, D, generator=g, dtype=DT)
    put("sdpa_causal", q=q, k=ks, v=vs, out=F.scaled_dot_product_attention(q, ks, vs, is_causal=True))
    allowed = torch.rand(B, 1, T, S, generator=g) > 0.3
    allowed[..., 0] = True  # no fully masked row: PyTorch gives NaN there, attend zeros (tested apart)
    put("sdpa_bool_mask", q=q, k=k, v=v, mask=allowed, out=F.scaled_dot_product_attention(q, k, v, attn_mask=allowed))
    additive = torch.randn(1, H, T, S, generator=g, dtype=DT)
    put("sdpa_float_mask", q=q, k=k, v=v, mask=additive,
        out=F.scaled_dot_product_attention(q, k, v, attn_mask=additive))
    put("sdpa_scale", q=q, k=k, v=v, scale=0.3, out=F.scaled_dot_product_attention(q, k, v, scale=0.3))
    kg = torch.randn(B, 1, S, D, generator=g, dtype=DT)
    vg = torch.randn(B, 1, S, D, generator=g, dtype=DT)
    put("sdpa_gqa", q=q, k=kg, v=vg, out=F.scaled_dot_product_attention(q, kg, vg, enable_gqa=True))


def randomize(m, g):
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(0.3 * torch.randn(p.shape, generator=g, dtype=DT))


def mha_case(name, g, *, E=12, H=3, L=4, S=6, N=2, batch_first=False, kdim=None, vdim=None, padding=False,
             mask=None, average=True):
    m = torch.nn.MultiheadAttention(E, H, batch_first=batch_first, kdim=kdim, vdim=vdim, dtype=DT)
    randomize(m, g)
    m.eval()
    shape = (lambda T, C: (N, T, C)) if batch_first else (lambda T, C: (T, N, C))
    q = torch.randn(*shape(L, E), generator=g, dtype=DT)
    k = torch.randn(*shape(S, kdim or E), generator=g, dtype=DT)
    v = torch.randn(*shape(S, vdim or E), generator=g, dtype=DT)
    kpm = None
    if padding:
        kpm = torch.zeros(N, S, dtype=torch.bool)
        kpm[1, 4:] = True  # batch row 1 has 4 keys
    am = None
    if mask == "bool":
        am = torch.rand(L, S, generator=g) > 0.7
        am[:, 0] = False  # every query keeps a key
    elif mask == "float":
        am = torch.randn(N * H, L, S, generator=g, dtype=DT)
    with torch.no_grad():
        out, w = m(q, k, v, key_padding_mask=kpm, attn_mask=am, need_weights=True, average_attn_weights=average)
    put(name, query=q, key=k, value=v, out=out, weights=w, batch_first=batch_first, num_heads=H,
        kdim=kdim or 0, vdim=vdim or 0, average=average)
    if kpm is not None:
        put(name, key_padding_mask=kpm)
    if am is not None:
        put(name, attn_mask=am)
    for pname, p in m.state_dict().items():
        put(name, **{"param." + pname: p})


def main():
    g = torch.Generator().manual_seed(1801)
    sdpa_cases(g)
    mha_case("mha_seq_first", g)
    mha_case("mha_batch_first_padding", g, batch_first=True, padding=True)
    mha_case("mha_bool_mask_per_head", g, mask="bool", average=False, padding=True)
    mha_case("mha_float_mask", g, batch_first=True, mask="float")
    mha_case("mha_kdim_vdim", g, batch_first=True, kdim=5, vdim=7)
    arrays["torch_version"] = np.asarray(torch.__version__)
    np.savez_compressed(OUT, **arrays)
    print(f"wrote {os.path.normpath(OUT)}: {len(arrays)} arrays, PyTorch {torch.__version__}")


if __name__ == "__main__":
    main()
