"""attend's functions on NumPy arrays against float64 NumPy references, zero-copy input and
output, the GIL released, and errors as attend.Error."""
import threading
import time

import numpy as np
import pytest

import attend
import reference as ref


def qkv(rng, B=2, H=4, Tq=9, Tk=11, D=16, Hkv=None, dtype=np.float64):
    Hkv = Hkv or H
    return (rng.standard_normal((B, H, Tq, D)).astype(dtype), rng.standard_normal((B, Hkv, Tk, D)).astype(dtype),
            rng.standard_normal((B, Hkv, Tk, D)).astype(dtype))


MASKS = [
    {},
    {"key_lengths": [11, 4]},
    {"is_causal": True},
    {"window": 2},
    {"window": (3, 0), "key_lengths": [7, 11]},
    {"window": (np.int64(1), None), "key_lengths": np.array([9, 11])},
    {"is_causal": True, "key_lengths": [2, 11]},
]


@pytest.mark.parametrize("mask", MASKS, ids=lambda m: "-".join(m) or "none")
@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-12), (np.float32, 2e-5)])
def test_sdpa_matches_float64_reference(rng, mask, dtype, tol):
    q, k, v = qkv(rng, dtype=dtype)
    ctx, w, lse = attend.scaled_dot_product_attention(q, k, v, need_weights=True, **mask)
    rc, rw, rl = ref.sdpa(q, k, v, **mask)
    assert ctx.dtype == dtype and ctx.shape == (2, 4, 9, 16)
    np.testing.assert_allclose(ctx, rc, atol=tol, rtol=tol)
    np.testing.assert_allclose(w, rw, atol=tol, rtol=tol)
    np.testing.assert_allclose(lse, rl, atol=tol, rtol=tol)


def test_sdpa_boolean_and_additive_masks(rng):
    q, k, v = qkv(rng)
    allowed = rng.random((2, 1, 9, 11)) > 0.4
    additive = rng.standard_normal((1, 4, 9, 11))
    ctx, w, _ = attend.scaled_dot_product_attention(q, k, v, attn_mask=allowed, need_weights=True)
    rc, rw, _ = ref.sdpa(q, k, v, attn_mask=allowed)
    np.testing.assert_allclose(ctx, rc, atol=1e-12)
    np.testing.assert_allclose(w, rw, atol=1e-12)
    ctx, _, _ = attend.scaled_dot_product_attention(q, k, v, attn_mask=additive)
    np.testing.assert_allclose(ctx, ref.sdpa(q, k, v, attn_mask=additive)[0], atol=1e-12)


def test_sdpa_fully_masked_row_is_zero_not_nan(rng):
    q, k, v = qkv(rng)
    ctx, w, lse = attend.scaled_dot_product_attention(q, k, v, key_lengths=[0, 11], need_weights=True)
    assert np.all(ctx[0] == 0) and np.all(w[0] == 0) and np.all(np.isneginf(lse[0]))
    assert np.all(np.isfinite(ctx))


def test_sdpa_grouped_query_heads_and_3d_inputs(rng):
    q, k, v = qkv(rng, Hkv=2)
    np.testing.assert_allclose(attend.scaled_dot_product_attention(q, k, v)[0], ref.sdpa(q, k, v)[0], atol=1e-12)
    q3, k3, v3 = q[:, 0], k[:, 0], v[:, 0]
    ctx, w, lse = attend.scaled_dot_product_attention(q3, k3, v3, need_weights=True)
    assert ctx.shape == (2, 9, 16) and w.shape == (2, 9, 11) and lse.shape == (2, 9)
    np.testing.assert_allclose(ctx, ref.sdpa(q3[:, None], k3[:, None], v3[:, None])[0][:, 0], atol=1e-12)


def test_sparsemax_normalizer(rng):
    q, k, v = qkv(rng)
    q *= 3  # peaked scores: sparse rows
    ctx, w, lse = attend.scaled_dot_product_attention(q, k, v, normalizer="sparsemax", need_weights=True,
                                                      key_lengths=[11, 6])
    rc, rw, _ = ref.sdpa(q, k, v, normalizer="sparsemax", key_lengths=[11, 6])
    np.testing.assert_allclose(w, rw, atol=1e-10)
    np.testing.assert_allclose(ctx, rc, atol=1e-10)
    assert lse is None and (w == 0).mean() > 0.3
    np.testing.assert_allclose(w.sum(-1), 1.0, atol=1e-12)


def test_score_functions_and_skeleton(rng):
    B, Tq, Tk, Dq, Dk, A = 2, 3, 5, 6, 4, 7
    q, keys = rng.standard_normal((B, Tq, Dq)), rng.standard_normal((B, Tk, Dk))
    W_q, W_k, b, v = (rng.standard_normal(s) for s in ((A, Dq), (A, Dk), (A,), (A,)))
    expect = np.tanh((q @ W_q.T)[:, :, None, :] + (keys @ W_k.T)[:, None, :, :] + b) @ v
    np.testing.assert_allclose(attend.additive_scores(q, keys, W_q, W_k, b, v), expect, atol=1e-12)
    W_a = rng.standard_normal((Dq, Dk))
    np.testing.assert_allclose(attend.general_scores(q, keys, W_a), q @ W_a @ np.swapaxes(keys, 1, 2), atol=1e-12)
    kd = rng.standard_normal((B, Tk, Dq))
    np.testing.assert_allclose(attend.dot_scores(q, kd), q @ np.swapaxes(kd, 1, 2), atol=1e-12)
    Wc, vc = rng.standard_normal((A, Dq + Dk)), rng.standard_normal(A)
    expect = np.tanh((q @ Wc[:, :Dq].T)[:, :, None] + (keys @ Wc[:, Dq:].T)[:, None]) @ vc
    np.testing.assert_allclose(attend.concat_scores(q, keys, Wc, vc), expect, atol=1e-12)
    Wl = rng.standard_normal((8, Dq))
    np.testing.assert_allclose(attend.location_scores(q, Wl, 5), (q @ Wl.T)[:, :, :5], atol=1e-12)
    scores, values = rng.standard_normal((B, Tq, Tk)), rng.standard_normal((B, Tk, 3))
    ctx, w, lse = attend.attend(scores, values, key_lengths=[5, 2], need_weights=True)
    rw, rl = ref.softmax_rows(scores, ref.allowed_mask(B, 1, Tq, Tk, [5, 2])[:, 0])
    np.testing.assert_allclose(w, rw, atol=1e-12)
    np.testing.assert_allclose(ctx, rw @ values, atol=1e-12)
    np.testing.assert_allclose(lse, rl, atol=1e-12)


def test_local_attention(rng):
    B, T, S, D = 2, 4, 9, 3
    scores, values = rng.standard_normal((B, T, S)), rng.standard_normal((B, S, D))
    ctx, w, _ = attend.local_m_attention(scores, values, D=1, query_offset=2, need_weights=True)
    pos = 2 + np.arange(T)[:, None]
    ok = np.broadcast_to(np.abs(np.arange(S)[None, :] - pos) <= 1, (B, T, S))
    rw, _ = ref.softmax_rows(scores, ok)
    np.testing.assert_allclose(w, rw, atol=1e-12)
    np.testing.assert_allclose(ctx, rw @ values, atol=1e-12)
    p = rng.uniform(0, S - 1, (B, T))
    ctx, w, _ = attend.local_p_attention(scores, values, p, D=2, need_weights=True)
    ok = np.abs(np.arange(S)[None, None, :] - p[..., None]) <= 2
    rw, _ = ref.softmax_rows(scores, ok)
    rw = rw * np.exp(-((np.arange(S)[None, None, :] - p[..., None]) ** 2) / (2 * 1.0 ** 2))
    np.testing.assert_allclose(w, rw, atol=1e-12)
    W_p, v_p = rng.standard_normal((5, D)), rng.standard_normal(5)
    h = rng.standard_normal((B, T, D))
    expect = np.array([9, 6])[:, None] / (1 + np.exp(-(np.tanh(h @ W_p.T) @ v_p)))
    np.testing.assert_allclose(attend.local_p_positions(h, W_p, v_p, [9, 6]), expect, atol=1e-12)


def test_inputs_are_read_in_place(rng):
    q = rng.standard_normal((2, 3, 4, 8)).astype(np.float32)
    assert attend._input_address(q) == q.ctypes.data  # C-contiguous float32: no copy
    d = q.astype(np.float64)
    assert attend._input_address(d) == d.ctypes.data  # float64 computes in float64: no copy
    assert attend._input_address(q[:, :, ::2]) != q.ctypes.data  # strided: converted once
    assert attend._input_address(np.asfortranarray(q)) != q.ctypes.data


def test_outputs_share_attends_memory(rng):
    q, k, v = qkv(rng, dtype=np.float32)
    ctx, w, lse = attend.scaled_dot_product_attention(q, k, v, need_weights=True)
    for a in (ctx, w, lse):
        assert not a.flags.owndata and a.base is not None and a.flags.c_contiguous
    del q, k, v
    assert np.isfinite(ctx).all()  # the base keeps attend's storage alive


def test_the_gil_is_released_while_computing(rng):
    q, k, v = qkv(rng, B=1, H=8, Tq=1024, Tk=1024, D=64, dtype=np.float32)
    done = threading.Event()
    spins = 0

    def work():
        for _ in range(3):
            attend.scaled_dot_product_attention(q, k, v)
        done.set()

    t = threading.Thread(target=work)
    t.start()
    start = time.perf_counter()
    while not done.is_set():
        spins += 1
    elapsed = time.perf_counter() - start
    t.join()
    # With the GIL held through each call this thread could run only between calls.
    assert elapsed > 0.01 and spins > 1000


@pytest.mark.parametrize("call,message", [
    (lambda q: attend.scaled_dot_product_attention(q, q[..., :3], q), "head dims differ"),
    (lambda q: attend.scaled_dot_product_attention(q, q, q, normalizer="nope"), "normalizer"),
    (lambda q: attend.scaled_dot_product_attention(q, q, q, key_lengths=[1]), "key_lengths"),
    (lambda q: attend.scaled_dot_product_attention(q, q, q, key_lengths=[1.5, 2]), "integers"),
    (lambda q: attend.scaled_dot_product_attention(q, q, q, window=(1, 2, 3)), "window"),
    (lambda q: attend.scaled_dot_product_attention(q, q, q, window=1.5), "window"),
    (lambda q: attend.scaled_dot_product_attention(q, q, q, window="wide"), "window"),
    (lambda q: attend.scaled_dot_product_attention(q[0, 0, 0], q, q), "q must be"),
    (lambda q: attend.scaled_dot_product_attention(np.array([["a"]]), q, q), "real-valued"),
    (lambda q: attend.scaled_dot_product_attention(None, q, q), "got None"),
    (lambda q: attend.additive_scores(q[0], q[0], q[0, 0], q[0, 0], q[0, 0, 0], q[0, 0, 0]), "does not match"),
])
def test_errors_are_attend_errors_naming_the_problem(rng, call, message):
    q = rng.standard_normal((2, 2, 4, 8))
    with pytest.raises(attend.Error, match=message) as e:
        call(q)
    assert isinstance(e.value, ValueError) and str(e.value).startswith("[")


def test_openmp_threads_wait_passively_unless_told():
    import os
    import subprocess
    import sys
    code = "import os, attend; print(os.environ.get('OMP_WAIT_POLICY'), os.environ.get('GOMP_SPINCOUNT'))"
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    run = lambda e: subprocess.run([sys.executable, "-c", code], env=e, capture_output=True, text=True,
                                   check=True).stdout.split()
    assert run(env) == ["passive", "None"]
    assert run(dict(env, OMP_WAIT_POLICY="active")) == ["active", "None"]
    assert run(dict(env, GOMP_SPINCOUNT="1000")) == ["None", "1000"]
