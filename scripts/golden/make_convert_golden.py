#!/usr/bin/python3
"""Writes the PyTorch side of the conversion tests (tests/golden/app_golden_convert.cc):

  import   tests/data/convert/prenorm.safetensors            AttendTransformer (attend's names): pre-norm,
                                                              gelu, learned positions, one shared table,
                                                              an output layer of its own; vocabulary joint.model
           tests/data/convert/tutorial_postnorm.safetensors  TutorialTransformer (PyTorch's tutorial:
                                                              nn.Transformer as `transformer`, post-norm with
                                                              final norms, relu, the sinusoidal buffer, a
                                                              generator); vocabularies de.model / en.model
           -> tests/golden/data/convert_prenorm.json, convert_tutorial_postnorm.json: the ids and PyTorch's
              logits (float32, as attend computes)
  mha      tests/data/convert/mha.safetensors (float32), mha_kdim.safetensors (float64, kdim 8, vdim 12):
           nn.MultiheadAttention state dicts -> convert_mha.json, convert_mha_kdim.json: query, key, value,
           the output and the head-averaged weights
  export   `attend convert --to torch tests/data/convert/attend_postnorm.ckpt` (made by
           make_convert_golden.sh with the attend binary), loaded with load_state_dict(strict=True) into
           AttendTransformer -> convert_export.json: the ids and PyTorch's logits

Run through scripts/golden/make_convert_golden.sh (it makes the SentencePiece models and the attend
checkpoint first). Parameters are random (N(0, 0.4^2), norms' weights around 1) so that every one
matters; dropout is 0 and models run in eval mode with gradients enabled, which keeps PyTorch 1.13 off
its fused inference path (the same mathematics, but padded positions come back as zeros).
Same JSON format as make_golden.py (whose writer this uses).
"""
import argparse
import os
import subprocess
import sys
import tempfile

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_golden import gen, write  # noqa: E402
from torch_transformer import (AttendTransformer, TutorialTransformer, load_attend_safetensors,  # noqa: E402
                               write_safetensors)

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "..", "tests", "data", "convert")
PAD, BOS, EOS, FIRST_WORD = 0, 2, 3, 4
ARGS = None  # attend's specials (<pad> <unk> <s> </s>)


def spm_size(name):
    """Pieces of a SentencePiece model made by make_convert_golden.sh: the lines of its .vocab file,
    left in the script's working directory (--work)."""
    with open(os.path.join(ARGS.work, name.replace(".model", ".vocab")), encoding="utf-8") as f:
        return sum(1 for _ in f)


def randomize(model, g):
    with torch.no_grad():
        for name, p in model.named_parameters():
            base = 1.0 if ".norm" in name and name.endswith("weight") else 0.0
            p.copy_(base + 0.4 * torch.randn(p.shape, generator=g, dtype=p.dtype))


def ids(g, lengths, width, vocab):
    out = torch.randint(FIRST_WORD, vocab, (len(lengths), width), generator=g)
    for b, n in enumerate(lengths):
        out[b, n:] = PAD
    return out


def nine_digits(t):
    """float32 values as the float64 nearest to their 9 significant digits: the same float32 back."""
    return torch.tensor([float(f"{v:.9g}") for v in t.reshape(-1).tolist()], dtype=torch.float64).reshape(t.shape)


def logits_case(name, model, g, src_vocab, tgt_vocab, config, src_lengths=(6, 3), T=5):
    model.eval()  # dropout off; gradients stay enabled (see the header)
    src = ids(g, src_lengths, max(src_lengths), src_vocab)
    tgt_in = ids(g, (T, T), T, tgt_vocab)
    tgt_in[:, 0] = BOS
    logits = model(src, list(src_lengths), tgt_in)  # [B, T, V]
    config = dict(config, torch_version=torch.__version__)
    write(name, config, {"logits": nine_digits(logits.detach())},
          {"src": src, "src_lengths": torch.tensor(src_lengths), "tgt_in": tgt_in})


def import_cases():
    V = spm_size("joint.model")
    g = gen(1801)
    cfg = {"src_vocab": V, "tgt_vocab": V, "d_model": 16, "num_heads": 2, "ffn_dim": 32, "encoder_layers": 2,
           "decoder_layers": 2, "dropout": 0.0, "activation": "gelu", "norm_first": True, "final_norm": "auto",
           "positions": "learned", "max_positions": 24, "share_embeddings": True, "tie_output": False, "pad_id": PAD}
    m = AttendTransformer(cfg)
    randomize(m, g)
    write_safetensors(os.path.join(DATA, "prenorm.safetensors"), m.state_dict())
    logits_case("convert_prenorm", m, g, V, V, {"file": "prenorm.safetensors", "spm": "joint.model", "heads": 2,
                                                 "activation": "gelu", "norm_first": True})

    Vs, Vt = spm_size("de.model"), spm_size("en.model")
    g = gen(1802)
    m = TutorialTransformer(2, 2, 16, 2, Vs, Vt, dim_feedforward=32, dropout=0.0, maxlen=32)
    randomize(m, g)
    write_safetensors(os.path.join(DATA, "tutorial_postnorm.safetensors"), m.state_dict())
    logits_case("convert_tutorial_postnorm", m, g, Vs, Vt,
                {"file": "tutorial_postnorm.safetensors", "source_spm": "de.model", "target_spm": "en.model",
                 "heads": 2, "activation": "relu", "norm_first": False})


def mha_case(name, seed, dtype, kdim=None, vdim=None, E=16, H=2, B=2, Tq=4, Tk=5):
    g = gen(seed)
    mha = torch.nn.MultiheadAttention(E, H, kdim=kdim, vdim=vdim, batch_first=True, dtype=dtype)
    randomize(mha, g)
    q = torch.randn(B, Tq, E, generator=g, dtype=dtype)
    k = torch.randn(B, Tk, kdim or E, generator=g, dtype=dtype)
    v = torch.randn(B, Tk, vdim or E, generator=g, dtype=dtype)
    mha.train()  # dropout is 0; train mode keeps PyTorch 1.13 off its fused inference path
    out, w = mha(q, k, v, need_weights=True, average_attn_weights=True)
    write_safetensors(os.path.join(DATA, name + ".safetensors"), mha.state_dict())
    conv = nine_digits if dtype == torch.float32 else (lambda t: t.detach().to(torch.float64))
    write("convert_" + name, {"file": name + ".safetensors", "embed_dim": E, "num_heads": H, "kdim": kdim or E,
                              "vdim": vdim or E, "f64": dtype == torch.float64, "torch_version": torch.__version__},
          {"query": conv(q), "key": conv(k), "value": conv(v), "out": conv(out.detach()), "weights": conv(w.detach())})


def export_case(attend):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "attend_postnorm.safetensors")
        subprocess.run([attend, "convert", "--to", "torch", os.path.join(DATA, "attend_postnorm.ckpt"), "-o", path],
                       check=True)
        m = load_attend_safetensors(path)
    V = m.tgt_embed.weight.shape[0]
    logits_case("convert_export", m, gen(1803), m.src_embed.weight.shape[0], V,
                {"file": "attend_postnorm.ckpt"})


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--attend", required=True, help="the attend binary (for `attend convert --to torch`)")
    p.add_argument("--work", required=True, help="where `attend vocab` wrote the .vocab files")
    global ARGS
    ARGS = p.parse_args()
    args = ARGS
    torch.set_num_threads(1)
    import_cases()
    mha_case("mha", 1804, torch.float32)
    mha_case("mha_kdim", 1805, torch.float64, kdim=8, vdim=12)
    export_case(args.attend)


if __name__ == "__main__":
    main()
