#!/usr/bin/env python3
"""Golden files for the sparse and structured normalizers (oracle 3), from the published
implementations on PyPI, in float64, values and the gradients of sum(out * proj):

  entmax 1.3        sparsemax, entmax15, entmax_bisect (alpha 1.3)      -> sparse_normalizers.json
  torch-struct 0.5  LinearChainCRF (the segmentation CRF of Kim et al.)  -> structured_attention.json
                    NonProjectiveDependencyCRF (matrix-tree, deptree_nonproj with eps=0: the
                    library adds 1e-5 to every arc weight by default, which would move the
                    marginals by that much), DependencyCRF (projective, inside-outside), each with
                    one root and with several.

Run by scripts/golden/make_structured_golden.sh (a virtual environment with those packages);
read by tests/golden/attention_golden_structured.cc. Layouts are attend's: torch-struct's arc
potentials are [head, child] with roots on the diagonal, attend's scores [query = child, key =
head]; the script transposes on the way in and out, so the file holds attend's layout only.
"""
import os
import sys

import torch
from entmax import entmax15, entmax_bisect, sparsemax
import torch_struct
from torch_struct import DependencyCRF, LinearChainCRF
from torch_struct.deptree import deptree_nonproj

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_golden import DT, gen, write  # noqa: E402

VERSIONS = {"torch_version": torch.__version__, "torch_struct_version": "0.5", "entmax_version": "1.3"}


def sparse_cases():
    tensors, cfg = {}, dict(VERSIONS)
    g = gen(700)
    x0 = torch.randn((3, 7), generator=g, dtype=DT) * 2.0
    tensors["x"] = x0
    for name, f in (("sparsemax", lambda x: sparsemax(x, dim=-1)), ("entmax15", lambda x: entmax15(x, dim=-1)),
                    ("entmax_1.3", lambda x: entmax_bisect(x, alpha=1.3, dim=-1, n_iter=100))):
        x = x0.clone().requires_grad_(True)
        y = f(x)
        proj = torch.randn(y.shape, generator=g, dtype=DT)
        (y * proj).sum().backward()
        tensors.update({f"{name}.out": y, f"{name}.proj": proj, f"{name}.grad": x.grad})
    write("sparse_normalizers", cfg, tensors)


def segment_case(tensors, ints, g):
    # Binary chain over N keys: z_i = 1 selects key i. torch-struct's edge potentials
    # phi[b, n, z_{n+1}, z_n] = psi[z_n, z_{n+1}] + z_{n+1} s_{n+1} (+ z_0 s_0 on the first edge).
    B, N = 2, 6
    lengths = [6, 4]
    s = (torch.randn((B, N), generator=g, dtype=DT) * 1.5).requires_grad_(True)
    psi = torch.randn((2, 2), generator=g, dtype=DT).requires_grad_(True)
    z = torch.arange(2, dtype=DT)
    phi = psi.t().unsqueeze(0).unsqueeze(0) + s[:, 1:, None, None] * z[None, None, :, None]
    first = torch.zeros((B, N - 1, 2, 2), dtype=DT)
    first[:, 0] = 1.0
    phi = phi + first * s[:, 0, None, None, None] * z[None, None, None, :]
    edge = LinearChainCRF(phi, lengths=torch.tensor(lengths)).marginals  # [B, N-1, z_{n+1}, z_n]
    p = torch.cat([edge[:, :1, :, 1].sum(-1), edge[:, :, 1, :].sum(-1)], dim=1)  # p(z_i = 1), [B, N]
    keep = (torch.arange(N)[None, :] < torch.tensor(lengths)[:, None]).to(DT)
    p = p * keep
    proj = torch.randn(p.shape, generator=g, dtype=DT)
    (p * proj).sum().backward()
    tensors.update({"segment.scores": s, "segment.pairwise": psi, "segment.out": p, "segment.proj": proj,
                    "segment.grad.scores": s.grad, "segment.grad.pairwise": psi.grad})
    ints["segment.lengths"] = torch.tensor(lengths)


def tree_case(name, tensors, ints, cfg, g, projective, multiroot):
    B, T = 2, 5
    lengths = [5, 3]
    scores = (torch.randn((B, T, T), generator=g, dtype=DT) * 1.5).requires_grad_(True)  # attend: [child, head]
    arcs = scores.transpose(1, 2)  # torch-struct: [head, child]
    if projective:
        # DependencyCRF takes the padded matrix and the lengths; it ignores rows/columns past them.
        marg = DependencyCRF(arcs, lengths=torch.tensor(lengths), multiroot=multiroot).marginals
    else:
        marg = deptree_nonproj(arcs, multiroot, lengths=torch.tensor(lengths), eps=0.0)
    weights = marg.transpose(1, 2)
    keep = (torch.arange(T)[None, :] < torch.tensor(lengths)[:, None]).to(DT)
    weights = weights * keep[:, :, None] * keep[:, None, :]
    proj = torch.randn(weights.shape, generator=g, dtype=DT)
    (weights * proj).sum().backward()
    grad = scores.grad * keep[:, :, None] * keep[:, None, :]
    tensors.update({f"{name}.scores": scores, f"{name}.out": weights, f"{name}.proj": proj, f"{name}.grad": grad})
    ints[f"{name}.lengths"] = torch.tensor(lengths)
    cfg[f"{name}.projective"] = projective
    cfg[f"{name}.single_root"] = not multiroot


def structured_cases():
    tensors, ints, cfg = {}, {}, dict(VERSIONS)
    g = gen(710)
    segment_case(tensors, ints, g)
    tree_case("nonprojective_roots", tensors, ints, cfg, g, projective=False, multiroot=True)
    tree_case("nonprojective_one_root", tensors, ints, cfg, g, projective=False, multiroot=False)
    tree_case("projective_roots", tensors, ints, cfg, g, projective=True, multiroot=True)
    tree_case("projective_one_root", tensors, ints, cfg, g, projective=True, multiroot=False)
    write("structured_attention", cfg, tensors, ints)


if __name__ == "__main__":
    assert torch_struct is not None
    sparse_cases()
    structured_cases()
