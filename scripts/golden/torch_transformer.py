"""attend's Transformer as PyTorch modules, for weights that move both ways (`attend convert`,
include/attend/app/convert.h, docs/convert.md). Importable with PyTorch 1.13 (Debian's python3-torch)
or 2.x; no other package is needed (safetensors files are read and written with struct + json).

  AttendTransformer(cfg)      attend's parameter names, cfg = the "model" object of an attend
                              model_config (keys of include/attend/models/transformer.h):
                                src_embed / tgt_embed   nn.Embedding (src_embed absent when shared)
                                src_positions.weight / tgt_positions.weight   learned positions
                                encoder / decoder       nn.TransformerEncoder / nn.TransformerDecoder
                                                        (norm when final_norm resolves on)
                                output                  nn.Linear (absent when the output is tied)
                              `attend convert --to torch` writes its state dict; load_attend_safetensors
                              builds it from such a file and loads it with strict=True.
  TutorialTransformer(...)    PyTorch's translation tutorial model (Seq2SeqTransformer): a
                              torch.nn.Transformer as attribute `transformer` (post-norm with final
                              norms by default), src_tok_emb / tgt_tok_emb (TokenEmbedding, scaled by
                              sqrt(C)), positional_encoding (sinusoidal buffer pos_embedding
                              [maxlen, 1, C], the tutorial's float32 formula), generator (nn.Linear).
                              `attend convert --from torch` reads its state dict as well.

Both compute what src/models/transformer.cc computes (batch_first; src_lengths give the source
padding, the decoder is causal):
  x_0 = sqrt(C) E_src[src] + PE[0..S),  y_0 = sqrt(C) E_tgt[tgt_in] + PE[0..T),
  logits = decoder(y_0, encoder(x_0)) W_out^T (+ b)          [B, T, V]
PE[p, 2i] = sin(p / 10000^(2i / C)), PE[p, 2i + 1] = cos(same) (attend computes it in float64).
"""
import json
import math
import struct

import torch
import torch.nn as nn
import torch.nn.functional as F

# ---------------------------------------------------------------------------------------------
# safetensors without the safetensors package (F32 and F64, what attend reads and writes)

_DTYPES = {"F32": (torch.float32, 4), "F64": (torch.float64, 8)}


def read_safetensors(path):
    """path -> ({name: tensor}, metadata {str: str})."""
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    base = 8 + n
    out = {}
    for name, e in header.items():
        if e["dtype"] not in _DTYPES:
            raise ValueError(f"{path}: tensor '{name}': dtype {e['dtype']} (only F32 and F64 here)")
        dtype, size = _DTYPES[e["dtype"]]
        b, end = e["data_offsets"]
        flat = torch.frombuffer(bytearray(data[base + b:base + end]), dtype=dtype) if end > b else torch.zeros(0, dtype=dtype)
        out[name] = flat.reshape(e["shape"]).clone()
    return out, meta


def write_safetensors(path, tensors, metadata=None):
    """{name: tensor} (float32 or float64) -> path, tensors in name order, header padded to 8 bytes,
    as safetensors.torch.save_file writes them."""
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        kind = {torch.float32: "F32", torch.float64: "F64"}[t.dtype]
        raw = t.numpy().tobytes()
        header[name] = {"dtype": kind, "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    if metadata:
        header["__metadata__"] = dict(metadata)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


# ---------------------------------------------------------------------------------------------
# The models

def sinusoidal(length, dim):
    """attend's nn::sinusoidal_positions [length, dim]: computed in float64, returned as float32."""
    p = torch.arange(length, dtype=torch.float64).unsqueeze(1)
    c = torch.arange(dim)
    angle = p / torch.pow(torch.tensor(10000.0, dtype=torch.float64), (c - c % 2).to(torch.float64) / dim)
    return torch.where(c % 2 == 0, torch.sin(angle), torch.cos(angle)).to(torch.float32)


def _causal(T):
    return torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)  # True = IGNORE (PyTorch)


def _padding(src_lengths, S):
    lengths = torch.as_tensor(src_lengths)
    return torch.arange(S)[None, :] >= lengths[:, None]  # [B, S], True = IGNORE (PyTorch)


class _Table(nn.Module):
    """A learned position table: parameter "weight" [P, C] (attend's nn::PositionalEncoding)."""

    def __init__(self, P, C):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(P, C) * C ** -0.5)


class AttendTransformer(nn.Module):
    """attend's `transformer` architecture with attend's parameter names (cfg: attend's config keys)."""

    def __init__(self, cfg):
        super().__init__()
        C, H, Fd = cfg["d_model"], cfg["num_heads"], cfg["ffn_dim"]
        if cfg.get("normalizer", "softmax") != "softmax":
            raise ValueError(f"normalizer {cfg['normalizer']}: PyTorch's attention is softmax only")
        self.C = C
        pad = cfg.get("pad_id", 0)
        norm_first = bool(cfg["norm_first"])
        final = {"auto": norm_first, "on": True, "off": False}[cfg.get("final_norm", "auto")]
        p = cfg.get("dropout", 0.0)
        if not cfg["share_embeddings"]:
            self.src_embed = nn.Embedding(cfg["src_vocab"], C, padding_idx=pad)
        else:
            self.src_embed = None
        self.tgt_embed = nn.Embedding(cfg["tgt_vocab"], C, padding_idx=pad)
        self.learned = cfg.get("positions", "sinusoidal") == "learned"
        if self.learned:
            self.src_positions = _Table(cfg["max_positions"], C)
            self.tgt_positions = _Table(cfg["max_positions"], C)
        else:
            self.register_buffer("pe", sinusoidal(cfg["max_positions"], C), persistent=False)
        kw = dict(dropout=p, activation=cfg.get("activation", "relu"), batch_first=True, norm_first=norm_first)
        enc_kw = {"enable_nested_tensor": False}
        self.encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(C, H, Fd, **kw), cfg["encoder_layers"],
                                             norm=nn.LayerNorm(C) if final else None, **enc_kw)
        self.decoder = nn.TransformerDecoder(nn.TransformerDecoderLayer(C, H, Fd, **kw), cfg["decoder_layers"],
                                             norm=nn.LayerNorm(C) if final else None)
        self.output = None if cfg["tie_output"] else nn.Linear(C, cfg["tgt_vocab"])
        self.drop = nn.Dropout(p)

    def positions(self, which, length):
        return getattr(self, which).weight[:length] if self.learned else self.pe[:length]

    def forward(self, src, src_lengths, tgt_in):
        """src [B, S], src_lengths [B], tgt_in [B, T] -> logits [B, T, V]."""
        S, T = src.shape[1], tgt_in.shape[1]
        pad = _padding(src_lengths, S)
        e = self.src_embed if self.src_embed is not None else self.tgt_embed
        x = self.drop(e(src) * math.sqrt(self.C) + self.positions("src_positions", S))
        memory = self.encoder(x, src_key_padding_mask=pad)
        y = self.drop(self.tgt_embed(tgt_in) * math.sqrt(self.C) + self.positions("tgt_positions", T))
        y = self.decoder(y, memory, tgt_mask=_causal(T), memory_key_padding_mask=pad)
        return F.linear(y, self.tgt_embed.weight) if self.output is None else self.output(y)


def load_attend_safetensors(path):
    """A file of `attend convert --to torch` -> AttendTransformer (eval mode), loaded strictly."""
    tensors, meta = read_safetensors(path)
    if meta.get("format") != "attend-torch/1":
        raise ValueError(f"{path}: not a file of `attend convert --to torch` (format {meta.get('format')})")
    model = AttendTransformer(json.loads(meta["model_config"])["model"])
    model.load_state_dict({k: v.to(torch.float32) for k, v in tensors.items()}, strict=True)
    return model.eval()


class TokenEmbedding(nn.Module):
    """The tutorial's token embedding: sqrt(C) E[ids]."""

    def __init__(self, vocab_size, emb_size):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, emb_size)
        self.emb_size = emb_size

    def forward(self, tokens):
        return self.embedding(tokens.long()) * math.sqrt(self.emb_size)


class PositionalEncoding(nn.Module):
    """The tutorial's sinusoidal positions, computed its way (float32), as a buffer [maxlen, 1, C]."""

    def __init__(self, emb_size, dropout, maxlen=5000):
        super().__init__()
        den = torch.exp(-torch.arange(0, emb_size, 2) * math.log(10000) / emb_size)
        pos = torch.arange(0, maxlen).reshape(maxlen, 1)
        pos_embedding = torch.zeros((maxlen, emb_size))
        pos_embedding[:, 0::2] = torch.sin(pos * den)
        pos_embedding[:, 1::2] = torch.cos(pos * den)
        self.dropout = nn.Dropout(dropout)
        self.register_buffer("pos_embedding", pos_embedding.unsqueeze(-2))

    def forward(self, x):  # x [B, T, C] (batch_first)
        return self.dropout(x + self.pos_embedding[:x.size(1), 0])


class TutorialTransformer(nn.Module):
    """PyTorch's translation tutorial model (Seq2SeqTransformer), batch_first; the names do not depend
    on batch_first. torch.nn.Transformer's defaults: post-norm (norm_first=False) with final norms."""

    def __init__(self, num_encoder_layers, num_decoder_layers, emb_size, nhead, src_vocab_size, tgt_vocab_size,
                 dim_feedforward=512, dropout=0.1, activation="relu", norm_first=False, maxlen=5000):
        super().__init__()
        self.transformer = nn.Transformer(d_model=emb_size, nhead=nhead, num_encoder_layers=num_encoder_layers,
                                          num_decoder_layers=num_decoder_layers, dim_feedforward=dim_feedforward,
                                          dropout=dropout, activation=activation, batch_first=True,
                                          norm_first=norm_first)
        self.generator = nn.Linear(emb_size, tgt_vocab_size)
        self.src_tok_emb = TokenEmbedding(src_vocab_size, emb_size)
        self.tgt_tok_emb = TokenEmbedding(tgt_vocab_size, emb_size)
        self.positional_encoding = PositionalEncoding(emb_size, dropout=dropout, maxlen=maxlen)

    def forward(self, src, src_lengths, tgt_in):
        S, T = src.shape[1], tgt_in.shape[1]
        pad = _padding(src_lengths, S)
        x = self.positional_encoding(self.src_tok_emb(src))
        y = self.positional_encoding(self.tgt_tok_emb(tgt_in))
        out = self.transformer(x, y, tgt_mask=_causal(T), src_key_padding_mask=pad, memory_key_padding_mask=pad)
        return self.generator(out)
