"""attend against PyTorch 2.x's own functions, from golden files (data/torch_golden.npz, made by
scripts/golden/make_python_golden.sh), so these tests need no PyTorch."""
import os

import numpy as np
import pytest

import attend

GOLDEN = np.load(os.path.join(os.path.dirname(__file__), "data", "torch_golden.npz"))


def case(name):
    prefix = name + "."
    return {k[len(prefix):]: GOLDEN[k] for k in GOLDEN.files if k.startswith(prefix)}


def test_golden_file_is_pytorch_2():
    assert str(GOLDEN["torch_version"]).startswith("2.")


@pytest.mark.parametrize("name", ["sdpa_plain", "sdpa_causal", "sdpa_bool_mask", "sdpa_float_mask", "sdpa_scale",
                                  "sdpa_gqa"])
def test_scaled_dot_product_attention_as_pytorch(name):
    c = case(name)
    kwargs = {}
    if "mask" in c:
        kwargs["attn_mask"] = c["mask"]
    if name == "sdpa_causal":
        kwargs["is_causal"] = True
    if "scale" in c:
        kwargs["scale"] = float(c["scale"])
    out, _, _ = attend.scaled_dot_product_attention(c["q"], c["k"], c["v"], **kwargs)
    np.testing.assert_allclose(out, c["out"], atol=1e-12, rtol=1e-12)
    out32, _, _ = attend.scaled_dot_product_attention(*(c[x].astype(np.float32) for x in "qkv"), **kwargs)
    np.testing.assert_allclose(out32, c["out"], atol=2e-5, rtol=2e-5)


@pytest.mark.parametrize("name", ["mha_seq_first", "mha_batch_first_padding", "mha_bool_mask_per_head",
                                  "mha_float_mask", "mha_kdim_vdim"])
@pytest.mark.parametrize("dtype,tol", [("float64", 1e-12), ("float32", 2e-5)])
def test_multihead_attention_as_pytorch(name, dtype, tol):
    c = case(name)
    E = c["query"].shape[-1]
    m = attend.MultiheadAttention(E, int(c["num_heads"]), batch_first=bool(c["batch_first"]),
                                  kdim=int(c["kdim"]) or None, vdim=int(c["vdim"]) or None, dtype=dtype)
    m.load_state_dict({k[len("param."):]: v for k, v in c.items() if k.startswith("param.")})
    out, w = m(c["query"], c["key"], c["value"], key_padding_mask=c.get("key_padding_mask"),
               attn_mask=c.get("attn_mask"), average_attn_weights=bool(c["average"]))
    np.testing.assert_allclose(out, c["out"], atol=tol, rtol=tol)
    np.testing.assert_allclose(w, c["weights"], atol=tol, rtol=tol)
