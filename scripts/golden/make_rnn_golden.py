#!/usr/bin/python3
"""Writes the PyTorch golden files of the recurrent cells and layers: tests/golden/data/rnn_*.json.

Run with Debian's PyTorch 1.13:  scripts/golden/make.sh make_rnn_golden (installs python3-torch if missing)
Same file format and conventions as make_golden.py (whose writer this script reuses), read by
tests/support/golden.{h,cc}. Everything is computed in float64 from fixed seeds.

Conventions the C++ tests (tests/golden/rnn_*.cc) rely on:
  - Parameters are stored under "param.<state_dict name>", their gradients under
    "grad.<state_dict name>", input and initial-state gradients under "grad.<input name>".
  - Parameters are redrawn as 0.5 * randn (instead of PyTorch's small uniform init) so that every
    gate saturates a little differently and every parameter matters.
  - Gradients are of loss = sum(out * proj) + sum(h_n * proj_h) (+ sum(c_n * proj_c) for LSTM)
    with the fixed random projections stored in the file.
  - Layer cases with "lengths" run PyTorch on pack_padded_sequence(..., enforce_sorted=False) and
    pad the output back with pad_packed_sequence(total_length=T); the padded input steps hold
    random values that must not influence anything (their gradient is zero).
"""
import os
import sys

import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_golden import DT, gen, write  # noqa: E402


def randomize(module, g):
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(0.5 * torch.randn(p.shape, generator=g, dtype=DT))


def param_tensors(module):
    tensors = {}
    for name, p in module.named_parameters():
        tensors["param." + name] = p
        tensors["grad." + name] = p.grad
    return tensors


def cell_case(name, seed, kind, *, I=3, H=4, B=2, bias=True):
    g = gen(seed)
    cls = torch.nn.GRUCell if kind == "gru" else torch.nn.LSTMCell
    cell = cls(I, H, bias=bias, dtype=DT)
    randomize(cell, g)
    x = torch.randn(B, I, generator=g, dtype=DT).requires_grad_()
    h = torch.randn(B, H, generator=g, dtype=DT).requires_grad_()
    tensors = {"x": x, "h": h}
    if kind == "gru":
        h1 = cell(x, h)
        proj_h = torch.randn(h1.shape, generator=g, dtype=DT)
        (h1 * proj_h).sum().backward()
        tensors.update({"out.h": h1, "proj_h": proj_h})
    else:
        c = torch.randn(B, H, generator=g, dtype=DT).requires_grad_()
        h1, c1 = cell(x, (h, c))
        proj_h = torch.randn(h1.shape, generator=g, dtype=DT)
        proj_c = torch.randn(c1.shape, generator=g, dtype=DT)
        ((h1 * proj_h).sum() + (c1 * proj_c).sum()).backward()
        tensors.update({"c": c, "out.h": h1, "out.c": c1, "proj_h": proj_h, "proj_c": proj_c,
                        "grad.c": c.grad})
    tensors["grad.x"] = x.grad
    tensors["grad.h"] = h.grad
    tensors.update(param_tensors(cell))
    config = {"kind": kind, "input_size": I, "hidden_size": H, "bias": bias, "torch_version": torch.__version__,
              "param_names": [n for n, _ in cell.named_parameters()]}
    write(name, config, tensors)


def layer_case(name, seed, kind, *, I=2, H=3, L=2, B=3, T=5, bidirectional=True, batch_first=True, bias=True,
               lengths=None, initial_state=True, note=""):
    g = gen(seed)
    cls = torch.nn.GRU if kind == "gru" else torch.nn.LSTM
    rnn = cls(I, H, num_layers=L, bias=bias, batch_first=batch_first, bidirectional=bidirectional, dtype=DT)
    randomize(rnn, g)
    D = 2 if bidirectional else 1
    x = torch.randn((B, T, I) if batch_first else (T, B, I), generator=g, dtype=DT).requires_grad_()
    tensors = {"x": x}
    state = None
    if initial_state:
        h0 = torch.randn(L * D, B, H, generator=g, dtype=DT).requires_grad_()
        tensors["h0"] = h0
        state = h0
        if kind == "lstm":
            c0 = torch.randn(L * D, B, H, generator=g, dtype=DT).requires_grad_()
            tensors["c0"] = c0
            state = (h0, c0)
    if lengths is not None:
        packed = pack_padded_sequence(x, torch.tensor(lengths), batch_first=batch_first, enforce_sorted=False)
        out_packed, final = rnn(packed, state)
        out, _ = pad_packed_sequence(out_packed, batch_first=batch_first, total_length=T)
    else:
        out, final = rnn(x, state)
    h_n, c_n = (final, None) if kind == "gru" else final
    proj = torch.randn(out.shape, generator=g, dtype=DT)
    proj_h = torch.randn(h_n.shape, generator=g, dtype=DT)
    loss = (out * proj).sum() + (h_n * proj_h).sum()
    tensors.update({"out": out, "h_n": h_n, "proj": proj, "proj_h": proj_h})
    if c_n is not None:
        proj_c = torch.randn(c_n.shape, generator=g, dtype=DT)
        loss = loss + (c_n * proj_c).sum()
        tensors.update({"c_n": c_n, "proj_c": proj_c})
    loss.backward()
    tensors["grad.x"] = x.grad
    if initial_state:
        tensors["grad.h0"] = tensors["h0"].grad
        if kind == "lstm":
            tensors["grad.c0"] = tensors["c0"].grad
    tensors.update(param_tensors(rnn))
    config = {"kind": kind, "input_size": I, "hidden_size": H, "num_layers": L, "bidirectional": bidirectional,
              "batch_first": batch_first, "bias": bias, "initial_state": initial_state,
              "torch_version": torch.__version__, "note": note,
              "param_names": [n for n, _ in rnn.named_parameters()]}
    ints = {"lengths": torch.tensor(lengths)} if lengths is not None else {}
    write(name, config, tensors, ints)


def main():
    torch.set_num_threads(1)
    cell_case("rnn_gru_cell", 501, "gru")
    cell_case("rnn_lstm_cell", 502, "lstm")
    note = "2 layers, bidirectional, batch_first, packed variable lengths (unsorted), random initial state"
    layer_case("rnn_gru_packed", 503, "gru", lengths=[5, 2, 4], note=note)
    layer_case("rnn_lstm_packed", 504, "lstm", lengths=[5, 2, 4], note=note)
    layer_case("rnn_gru_seq_first", 505, "gru", L=1, B=2, T=4, bidirectional=False, batch_first=False,
               initial_state=False, note="1 layer, [T, B, I], full lengths, zero initial state")
    layer_case("rnn_lstm_seq_first", 506, "lstm", L=1, B=2, T=4, bidirectional=True, batch_first=False, bias=False,
               initial_state=False, note="1 layer, bidirectional, [T, B, I], no biases, zero initial state")


if __name__ == "__main__":
    main()
