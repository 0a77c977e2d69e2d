"""attend.MultiheadAttention: PyTorch's signature and names, state dicts both ways, errors."""
import numpy as np
import pytest

import attend
import reference as ref


def test_forward_matches_numpy_reference(rng):
    E, H, L, S, N = 8, 2, 3, 5, 2
    m = attend.MultiheadAttention(E, H, batch_first=True, dtype=np.float64, seed=3)
    sd = m.state_dict()
    assert list(sd) == ["in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"]
    assert sd["in_proj_weight"].shape == (3 * E, E)
    x, mem = rng.standard_normal((N, L, E)), rng.standard_normal((N, S, E))
    pad = np.zeros((N, S), dtype=bool)
    pad[0, 3:] = True
    out, w = m(x, mem, mem, key_padding_mask=pad, average_attn_weights=False)
    W, b = sd["in_proj_weight"], sd["in_proj_bias"]
    heads = lambda t: t.reshape(N, -1, H, E // H).transpose(0, 2, 1, 3)
    q, k, v = heads(x @ W[:E].T + b[:E]), heads(mem @ W[E:2 * E].T + b[E:2 * E]), heads(mem @ W[2 * E:].T + b[2 * E:])
    ctx, rw, _ = ref.sdpa(q, k, v, key_lengths=[3, 5])
    expect = ctx.transpose(0, 2, 1, 3).reshape(N, L, E) @ sd["out_proj.weight"].T + sd["out_proj.bias"]
    np.testing.assert_allclose(out, expect, atol=1e-12)
    np.testing.assert_allclose(w, rw, atol=1e-12)


def test_state_dict_round_trip_and_copies(rng):
    a = attend.MultiheadAttention(8, 2, seed=1)
    b = attend.MultiheadAttention(8, 2, seed=2)
    b.load_state_dict(a.state_dict())
    x = rng.standard_normal((4, 1, 8)).astype(np.float32)
    np.testing.assert_array_equal(a(x, x, x)[0], b(x, x, x)[0])
    sd = a.state_dict()
    sd["in_proj_weight"][:] = 0  # a copy: the module is unchanged
    np.testing.assert_array_equal(a(x, x, x)[0], b(x, x, x)[0])


def test_unbatched_and_sparse_and_grouped(rng):
    m = attend.MultiheadAttention(8, 4, num_kv_heads=2, normalizer="sparsemax")
    x = rng.standard_normal((5, 8)).astype(np.float32)
    out, w = m(x, x, x, is_causal=True)
    assert out.shape == (5, 8) and w.shape == (5, 5)
    assert np.allclose(np.triu(w, 1), 0)


@pytest.mark.parametrize("state,message", [
    ({"in_proj_weight": np.zeros((24, 8))}, "in_proj_bias"),
    ("extra", "unexpected tensor 'extra'"),
    ("shape", "tensor 'in_proj_bias' has shape \\[5\\], the MultiheadAttention expects \\[24\\]"),
    ("dtype", "expected a float array"),
])
def test_load_state_dict_errors_name_the_tensor(state, message):
    m = attend.MultiheadAttention(8, 2)
    good = m.state_dict()
    if state == "extra":
        state = dict(good, extra=np.zeros(2))
    elif state == "shape":
        state = dict(good, in_proj_bias=np.zeros(5, dtype=np.float32))
    elif state == "dtype":
        state = dict(good, in_proj_bias=np.zeros(24, dtype=np.int32))
    with pytest.raises(attend.Error, match=message):
        m.load_state_dict(state)
    np.testing.assert_array_equal(m.state_dict()["in_proj_bias"], good["in_proj_bias"])  # unchanged


def test_unsupported_arguments_say_so():
    with pytest.raises(attend.Error, match="add_bias_kv"):
        attend.MultiheadAttention(8, 2, add_bias_kv=True)
    with pytest.raises(attend.Error, match="not divisible by num_heads 3"):
        attend.MultiheadAttention(8, 3)
