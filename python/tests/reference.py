"""Float64 NumPy references of the attention functions (attend's semantics: boolean masks True =
may attend, causal bottom-right aligned, a fully masked row gives zero weights and context)."""
import numpy as np


def allowed_mask(B, H, Tq, Tk, key_lengths=None, attn_mask=None, is_causal=False, window=None):
    ok = np.ones((B, H, Tq, Tk), dtype=bool)
    if key_lengths is not None:
        ok &= (np.arange(Tk)[None, :] < np.asarray(key_lengths)[:, None])[:, None, None, :]
    i = np.arange(Tq)[:, None] + (Tk - Tq)  # bottom-right aligned position of query i
    j = np.arange(Tk)[None, :]
    if is_causal:
        ok &= j <= i
    if window is not None:
        left, right = (window, window) if isinstance(window, int) else window
        if left is not None and left >= 0:
            ok &= j >= i - left
        if right is not None and right >= 0:
            ok &= j <= i + right
    if attn_mask is not None and np.asarray(attn_mask).dtype == bool:
        ok &= np.broadcast_to(attn_mask, ok.shape)
    return ok


def softmax_rows(scores, ok):
    s = np.where(ok, scores, -np.inf)
    m = s.max(axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    e = np.where(ok, np.exp(s - m), 0.0)
    z = e.sum(axis=-1, keepdims=True)
    w = np.divide(e, z, out=np.zeros_like(e), where=z > 0)
    with np.errstate(divide="ignore"):
        lse = np.where(z[..., 0] > 0, np.log(z[..., 0]) + m[..., 0], -np.inf)
    return w, lse


def sparsemax_rows(scores, ok):
    out = np.zeros_like(scores)
    flat_s, flat_ok, flat_o = scores.reshape(-1, scores.shape[-1]), ok.reshape(-1, ok.shape[-1]), out.reshape(-1, scores.shape[-1])
    for r in range(flat_s.shape[0]):
        z = flat_s[r][flat_ok[r]]
        if z.size == 0:
            continue
        zs = np.sort(z)[::-1]
        cs = np.cumsum(zs)
        k = np.arange(1, z.size + 1)
        support = 1 + k * zs > cs
        kz = k[support][-1]
        tau = (cs[kz - 1] - 1) / kz
        p = np.zeros(flat_s.shape[1])
        p[flat_ok[r]] = np.maximum(z - tau, 0)
        flat_o[r] = p
    return out


def sdpa(q, k, v, *, key_lengths=None, attn_mask=None, is_causal=False, window=None, scale=None,
         normalizer="softmax"):
    q, k, v = (np.asarray(x, dtype=np.float64) for x in (q, k, v))
    B, H, Tq, D = q.shape
    Hkv, Tk = k.shape[1], k.shape[2]
    k = np.repeat(k, H // Hkv, axis=1)
    v = np.repeat(v, H // Hkv, axis=1)
    s = q @ np.swapaxes(k, -1, -2) * (1.0 / np.sqrt(D) if not scale else scale)
    if attn_mask is not None and np.asarray(attn_mask).dtype != bool:
        s = s + attn_mask
    ok = allowed_mask(B, H, Tq, Tk, key_lengths, attn_mask, is_causal, window)
    if normalizer == "softmax":
        w, lse = softmax_rows(s, ok)
    else:
        w, lse = sparsemax_rows(s, ok), None
    return w @ v, w, lse
