#!/usr/bin/python3
"""Writes the golden files of the Transformer's layers (tests/golden/data/transformer_*.json):
torch.nn.TransformerEncoderLayer and TransformerDecoderLayer (batch_first=True, dropout 0), in
float64, forward and backward, with the masks attend's transformer uses (source key padding in
the encoder and the cross-attention, causal decoder self-attention).

Run with Debian's PyTorch 1.13:  scripts/golden/make.sh make_transformer_golden
Same file format and conventions as make_golden.py: parameters under "param.<state_dict name>",
their gradients under "grad.<name>", input gradients under "grad.<input>", gradients of
loss = sum(out * proj) with the stored random "proj"; the key padding as the real lengths
("src_lengths"), which attend passes as Mask::key_lengths.
"""
import torch

from make_golden import DT, gen, write


def randomize(module, g):
    # PyTorch initializes biases to zero and norms to one; random values make every parameter matter.
    with torch.no_grad():
        for name, p in module.named_parameters():
            base = 1.0 if name.startswith("norm") and name.endswith("weight") else 0.0
            p.copy_(base + 0.4 * torch.randn(p.shape, generator=g, dtype=DT))


def padding_mask(lengths, S):
    # PyTorch's key_padding_mask: True = IGNORE.
    return torch.arange(S)[None, :] >= torch.tensor(lengths)[:, None]


def finish(name, module, inputs, out, g, config, extra_ints):
    proj = torch.randn(out.shape, generator=g, dtype=DT)
    (out * proj).sum().backward()
    tensors = dict(inputs)
    for pname, p in module.named_parameters():
        tensors["param." + pname] = p
        tensors["grad." + pname] = p.grad
    for k, v in inputs.items():
        tensors["grad." + k] = v.grad
    tensors["out"] = out
    tensors["proj"] = proj
    config = dict(config, torch_version=torch.__version__, param_names=[n for n, _ in module.named_parameters()])
    write(name, config, tensors, extra_ints)


def encoder_case(name, seed, *, C=8, H=2, F=12, B=2, S=5, lengths=(5, 3), activation="relu", norm_first=False):
    g = gen(seed)
    layer = torch.nn.TransformerEncoderLayer(C, H, F, dropout=0.0, activation=activation, batch_first=True,
                                             norm_first=norm_first, dtype=DT)
    randomize(layer, g)
    layer.train()  # dropout is 0; train mode keeps PyTorch 1.13 off its fused inference fast path
    x = torch.randn(B, S, C, generator=g, dtype=DT).requires_grad_()
    out = layer(x, src_key_padding_mask=padding_mask(lengths, S))
    config = {"d_model": C, "num_heads": H, "ffn_dim": F, "activation": activation, "gelu": activation == "gelu", "norm_first": norm_first}
    finish(name, layer, {"x": x}, out, g, config, {"src_lengths": torch.tensor(lengths)})


def decoder_case(name, seed, *, C=8, H=2, F=12, B=2, T=4, S=5, lengths=(5, 2), activation="gelu", norm_first=True):
    g = gen(seed)
    layer = torch.nn.TransformerDecoderLayer(C, H, F, dropout=0.0, activation=activation, batch_first=True,
                                             norm_first=norm_first, dtype=DT)
    randomize(layer, g)
    layer.train()
    x = torch.randn(B, T, C, generator=g, dtype=DT).requires_grad_()
    memory = torch.randn(B, S, C, generator=g, dtype=DT).requires_grad_()
    causal = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)  # True = IGNORE (the future)
    out = layer(x, memory, tgt_mask=causal, memory_key_padding_mask=padding_mask(lengths, S))
    config = {"d_model": C, "num_heads": H, "ffn_dim": F, "activation": activation, "gelu": activation == "gelu", "norm_first": norm_first}
    finish(name, layer, {"x": x, "memory": memory}, out, g, config, {"src_lengths": torch.tensor(lengths)})


def main():
    encoder_case("transformer_encoder_post_relu", 301)
    encoder_case("transformer_encoder_pre_gelu", 302, activation="gelu", norm_first=True, lengths=(2, 5))
    decoder_case("transformer_decoder_pre_gelu", 303)
    decoder_case("transformer_decoder_post_relu", 304, activation="relu", norm_first=False, lengths=(3, 5))


if __name__ == "__main__":
    main()
