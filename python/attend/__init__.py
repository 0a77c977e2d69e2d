"""attend: attention mechanisms, modules and models, from Python with NumPy arrays.

The C++ library does the work (the GIL is released while it computes); arrays go in without copies
where their layout allows (C-contiguous float32/float64) and results come back as arrays over
attend's own memory. Errors are attend.Error, a ValueError carrying attend's "[op] message".

    import numpy as np, attend
    q = k = v = np.random.rand(2, 4, 16, 32).astype(np.float32)        # [B, H, T, D]
    context, weights, lse = attend.scaled_dot_product_attention(q, k, v, is_causal=True, need_weights=True)
    model = attend.load("model.ckpt")                                   # Translator, LanguageModel, Classifier
    print(model.translate(["a man rides a horse ."], beam=5)[0].text)

Functions: scaled_dot_product_attention, attend (the skeleton on any scores), dot_scores,
general_scores, concat_scores, additive_scores, location_scores, local_m_attention,
local_p_attention, local_p_positions. Modules: MultiheadAttention (PyTorch's signature). Models:
load, train, convert (weights from and to PyTorch), load_safetensors, save_safetensors. Threads: num_threads, set_num_threads.
"""
import os as _os

import numpy as _np

# OpenMP threads that wait sleep at once rather than spin, as the attend command line arranges
# (cli/main.cc, docs/performance.md): spinning threads make 2 threads slower than 1 when another
# process takes a core. libgomp reads this when it loads, i.e. on the import below, unless this
# process loaded it before; a policy the user set is kept.
if "OMP_WAIT_POLICY" not in _os.environ and "GOMP_SPINCOUNT" not in _os.environ:
    _os.environ["OMP_WAIT_POLICY"] = "passive"

from ._attend import (Classification, Classifier, Error, Generation, Hypothesis, LanguageModel, Model, Translation,
                      Translator, _MultiheadAttention, additive_scores, attend, concat_scores, dot_scores,
                      general_scores, load, load_safetensors, save_safetensors, convert, local_m_attention, local_p_attention, local_p_positions, location_scores,
                      num_threads, scaled_dot_product_attention, set_num_threads, train, _input_address)

__all__ = ["Classification", "Classifier", "Error", "Generation", "Hypothesis", "LanguageModel", "Model",
           "MultiheadAttention", "Translation", "Translator", "additive_scores", "attend", "concat_scores",
           "convert", "dot_scores", "general_scores", "load", "load_safetensors", "save_safetensors", "local_m_attention", "local_p_attention", "local_p_positions",
           "location_scores", "num_threads", "scaled_dot_product_attention", "set_num_threads", "train"]


class MultiheadAttention:
    """PyTorch's nn.MultiheadAttention on NumPy arrays (forward only), with attend's extras.

    Same constructor and call as torch.nn.MultiheadAttention, state_dict names included, so that
    ``mha.load_state_dict({k: v.numpy() for k, v in torch_mha.state_dict().items()})`` gives the
    same outputs. Shapes: query [L, N, E] ([N, L, E] with batch_first=True), key/value [S, N, kdim/vdim].

    Masks keep PyTorch's polarity here, as its users expect: key_padding_mask [N, S] and a boolean
    attn_mask ([L, S] or [N * num_heads, L, S]) are True where a key must be IGNORED; float masks are
    added to the scores. (attend's own functions take True = may attend.) A query whose keys are all
    masked gets zero weights and a zero output (PyTorch gives NaN there).

    Extras: num_kv_heads (grouped-query attention), normalizer ("softmax", "sparsemax", "entmax15",
    ...), seed (the initialization's random stream). Not supported: add_bias_kv, add_zero_attn
    (an error says so). Dropout applies in training mode only; the module starts in eval mode.
    """

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False, add_zero_attn=False,
                 kdim=None, vdim=None, batch_first=False, device=None, dtype=None, *, num_kv_heads=0,
                 normalizer="softmax", seed=0):
        if add_bias_kv or add_zero_attn:
            raise Error("[MultiheadAttention] add_bias_kv and add_zero_attn are not supported")
        if device not in (None, "cpu"):
            raise Error(f"[MultiheadAttention] device {device!r}: attend computes on the CPU")
        dt = _np.dtype(dtype if dtype is not None else _np.float32)
        if dt not in (_np.float32, _np.float64):
            raise Error(f"[MultiheadAttention] dtype must be float32 or float64, got {dt}")
        self.embed_dim, self.num_heads, self.batch_first = embed_dim, num_heads, batch_first
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self.dtype = dt
        self._core = _MultiheadAttention(embed_dim, num_heads, dropout, bias, kdim or 0, vdim or 0, num_kv_heads,
                                         normalizer, dt.name, seed)

    @property
    def head_dim(self):
        return self._core.head_dim

    @property
    def training(self):
        return self._core.training

    def train(self, mode=True):
        """Training mode (dropout on the weights) or not; returns self."""
        self._core.train(mode)
        return self

    def eval(self):
        """Inference mode; returns self."""
        return self.train(False)

    def state_dict(self):
        """{PyTorch state_dict name: NumPy array}, copies: in_proj_weight, in_proj_bias, out_proj.weight, ..."""
        return self._core.state_dict()

    def load_state_dict(self, state_dict, strict=True):
        """Loads {name: array} (e.g. a PyTorch state_dict as NumPy); checks every name and shape first."""
        self._core.load_state_dict(dict(state_dict), strict)

    def __call__(self, query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
                 average_attn_weights=True, is_causal=False):
        return self.forward(query, key, value, key_padding_mask, need_weights, attn_mask, average_attn_weights,
                            is_causal)

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
                average_attn_weights=True, is_causal=False):
        """Returns (attn_output, attn_weights or None) as PyTorch does: the output [L, N, E] ([N, L, E]
        batch first), the weights [N, L, S] averaged over heads or [N, H, L, S]."""
        q, k, v = (_np.asarray(x) for x in (query, key, value))
        batched = q.ndim == 3
        if not batched:  # unbatched [L, E]
            q, k, v = q[None], k[None], v[None]
        elif not self.batch_first:
            q, k, v = (_np.swapaxes(x, 0, 1) for x in (q, k, v))
        padding = None
        additive = None
        if key_padding_mask is not None:
            kpm = _np.asarray(key_padding_mask)
            if not batched:
                kpm = kpm[None]
            if kpm.dtype == bool:
                padding = (~kpm).astype(self.dtype)
            else:  # additive [N, S]
                additive = kpm.astype(self.dtype)[:, None, None, :]
        mask = None
        mask_additive = False
        if attn_mask is not None:
            am = _np.asarray(attn_mask)
            if am.ndim == 3:  # [N * H, L, S] -> [N, H, L, S]
                am = am.reshape(-1, self.num_heads, am.shape[1], am.shape[2])
            if am.dtype == bool:
                if additive is None:
                    mask = ~am
                else:
                    additive = additive + _np.where(am, -_np.inf, 0.0).astype(self.dtype)
            else:
                additive = am.astype(self.dtype) if additive is None else additive + am.astype(self.dtype)
        if additive is not None:
            if mask is not None:
                additive = additive + _np.where(mask, 0.0, -_np.inf).astype(self.dtype)
            mask, mask_additive = additive, True
        out, weights = self._core.forward(q, k, v, padding, mask, mask_additive, need_weights, average_attn_weights,
                                          is_causal)
        if not batched:
            out = out[0]
            weights = None if weights is None else weights[0]
        elif not self.batch_first:
            out = _np.swapaxes(out, 0, 1)
        return out, weights

    def __repr__(self):
        return (f"MultiheadAttention(embed_dim={self.embed_dim}, num_heads={self.num_heads}, "
                f"batch_first={self.batch_first}, dtype={self.dtype.name})")
