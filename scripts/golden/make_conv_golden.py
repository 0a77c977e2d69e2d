#!/usr/bin/env python3
"""Golden files for ops/conv.h (oracle 3): conv2d, max_pool2d and avg_pool2d from PyTorch in float64,
values and the gradients of sum(out * proj). Run by scripts/golden/make.sh (Debian's PyTorch 1.13).

Writes tests/golden/data/conv2d.json and pool2d.json; read by tests/golden/ops_golden_conv.cc."""
import torch
import torch.nn.functional as F

from make_golden import DT, gen, write


def conv_cases():
    tensors, cfg = {}, {"torch_version": torch.__version__}
    cases = {
        # name: (x shape, w shape, bias, stride, padding, dilation)
        "a": ((2, 3, 7, 6), (4, 3, 3, 2), True, (2, 1), (1, 2), (1, 2)),
        "patch": ((1, 1, 8, 8), (5, 1, 4, 4), False, (4, 4), (0, 0), (1, 1)),
        "pointwise": ((2, 4, 3, 5), (3, 4, 1, 1), True, (1, 1), (0, 0), (1, 1)),
    }
    for i, (name, (xs, ws, bias, stride, pad, dil)) in enumerate(cases.items()):
        g = gen(500 + i)
        x = torch.randn(xs, generator=g, dtype=DT, requires_grad=True)
        w = torch.randn(ws, generator=g, dtype=DT, requires_grad=True)
        b = torch.randn(ws[0], generator=g, dtype=DT, requires_grad=True) if bias else None
        y = F.conv2d(x, w, b, stride=stride, padding=pad, dilation=dil)
        proj = torch.randn(y.shape, generator=g, dtype=DT)
        (y * proj).sum().backward()
        cfg.update({f"{name}.stride_h": stride[0], f"{name}.stride_w": stride[1], f"{name}.pad_h": pad[0],
                    f"{name}.pad_w": pad[1], f"{name}.dilation_h": dil[0], f"{name}.dilation_w": dil[1],
                    f"{name}.bias": bias})
        tensors.update({f"{name}.x": x, f"{name}.w": w, f"{name}.out": y, f"{name}.proj": proj,
                        f"{name}.grad.x": x.grad, f"{name}.grad.w": w.grad})
        if bias:
            tensors.update({f"{name}.b": b, f"{name}.grad.b": b.grad})
    write("conv2d", cfg, tensors)


def pool_cases():
    tensors, cfg = {}, {"torch_version": torch.__version__}
    g = gen(510)
    x0 = torch.randn((2, 2, 7, 9), generator=g, dtype=DT)
    tensors["x"] = x0
    cases = {
        # name: (op, kernel, stride, padding, count_include_pad)
        "max_k2": ("max", (2, 2), (2, 2), (0, 0), True),
        "max_k3s2p1": ("max", (3, 3), (2, 2), (1, 1), True),
        "avg_k3s2p1": ("avg", (3, 3), (2, 2), (1, 1), True),
        "avg_k3s2p1_nopad": ("avg", (3, 3), (2, 2), (1, 1), False),
        "avg_k3x2s1p1x0": ("avg", (3, 2), (1, 1), (1, 0), True),
    }
    for name, (op, k, s, p, cip) in cases.items():
        x = x0.clone().requires_grad_(True)
        if op == "max":
            y = F.max_pool2d(x, k, s, p)
        else:
            y = F.avg_pool2d(x, k, s, p, count_include_pad=cip)
        proj = torch.randn(y.shape, generator=g, dtype=DT)
        (y * proj).sum().backward()
        cfg.update({f"{name}.max": op == "max", f"{name}.kernel_h": k[0], f"{name}.kernel_w": k[1],
                    f"{name}.stride_h": s[0], f"{name}.stride_w": s[1], f"{name}.pad_h": p[0], f"{name}.pad_w": p[1],
                    f"{name}.count_include_pad": cip})
        tensors.update({f"{name}.out": y, f"{name}.proj": proj, f"{name}.grad": x.grad})
    write("pool2d", cfg, tensors)


def main():
    torch.set_num_threads(1)
    conv_cases()
    pool_cases()


if __name__ == "__main__":
    main()
