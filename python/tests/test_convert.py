"""Weights between PyTorch and attend from Python: attend.convert both ways on the committed
PyTorch files (tests/data/convert, made by scripts/golden/make_convert_golden.sh), an
nn.MultiheadAttention state dict into attend.MultiheadAttention against PyTorch's outputs
(tests/golden/data/convert_mha*.json), and the errors."""
import json
import os

import numpy as np
import pytest

import attend

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(ROOT, "tests", "data", "convert")
GOLDEN = os.path.join(ROOT, "tests", "golden", "data")


def golden(name):
    with open(os.path.join(GOLDEN, name + ".json")) as f:
        doc = json.load(f)
    t = {k: np.array(v["data"], dtype=np.float64).reshape(v["shape"]) for k, v in doc["tensors"].items()}
    return doc["config"], t


@pytest.mark.parametrize("name", ["convert_mha", "convert_mha_kdim"])
def test_pytorch_multihead_attention_weights_give_pytorchs_outputs(name):
    config, t = golden(name)
    state = attend.load_safetensors(os.path.join(DATA, config["file"]))
    m = attend.MultiheadAttention(config["embed_dim"], config["num_heads"], kdim=config["kdim"], vdim=config["vdim"],
                                  batch_first=True, dtype=np.float64 if config["f64"] else np.float32)
    m.load_state_dict(state)
    out, w = m(t["query"], t["key"], t["value"])
    tol = 1e-12 if config["f64"] else 2e-5
    np.testing.assert_allclose(out, t["out"], atol=tol, rtol=tol)
    np.testing.assert_allclose(w, t["weights"], atol=tol, rtol=tol)


def test_transformer_round_trip_through_attend(tmp_path):
    src = os.path.join(DATA, "prenorm.safetensors")
    model = attend.convert(src, str(tmp_path / "pre.ckpt"), num_heads=2, activation="gelu",
                           spm=os.path.join(DATA, "joint.model"))
    assert isinstance(model, attend.Translator) and model.architecture == "transformer"
    assert model.config["model"]["num_heads"] == 2 and model.config["model"]["activation"] == "gelu"
    out = model.translate(["a man ."], beam=2)
    assert len(out) == 1 and out[0].hypotheses[0].attention is not None
    assert attend.convert(str(tmp_path / "pre.ckpt"), str(tmp_path / "back.safetensors"), to="torch") is None
    original, back = attend.load_safetensors(src), attend.load_safetensors(str(tmp_path / "back.safetensors"))
    assert sorted(original) == sorted(back)
    for k in original:
        np.testing.assert_array_equal(back[k], original[k])


def test_tutorial_layout_post_norm(tmp_path):
    model = attend.convert(os.path.join(DATA, "tutorial_postnorm.safetensors"), str(tmp_path / "tut.ckpt"),
                           num_heads=2, norm_first=False, max_positions=32,
                           source_spm=os.path.join(DATA, "de.model"), target_spm=os.path.join(DATA, "en.model"))
    assert model.config["model"]["norm_first"] is False
    assert len(model.translate(["ein mann ."], beam=1)) == 1


@pytest.mark.parametrize("kwargs,message", [
    ({}, "number of attention heads is required"),
    ({"num_heads": 2, "to": "onnx"}, "to='onnx'"),
    ({"num_heads": 2, "spm": "missing.model"}, "missing.model"),
])
def test_convert_errors(tmp_path, kwargs, message):
    kwargs.setdefault("spm", os.path.join(DATA, "joint.model"))
    with pytest.raises(attend.Error, match=message):
        attend.convert(os.path.join(DATA, "prenorm.safetensors"), str(tmp_path / "never.ckpt"), **kwargs)
    assert not (tmp_path / "never.ckpt").exists()


def test_state_dict_errors_name_the_tensor(tmp_path):
    state = attend.load_safetensors(os.path.join(DATA, "mha.safetensors"))
    m = attend.MultiheadAttention(16, 2, batch_first=True)
    bad = dict(state, **{"out_proj.bias": np.full(16, np.nan, dtype=np.float32)})
    with pytest.raises(attend.Error, match="out_proj.bias"):
        m.load_state_dict(bad)
    del state["in_proj_bias"]
    with pytest.raises(attend.Error, match="in_proj_bias"):
        m.load_state_dict(state)
    attend.save_safetensors(str(tmp_path / "x.safetensors"), {"a": np.arange(6.0).reshape(2, 3)}, {"k": "v"})
    np.testing.assert_array_equal(attend.load_safetensors(str(tmp_path / "x.safetensors"))["a"],
                                  np.arange(6.0).reshape(2, 3))
    (tmp_path / "bad.safetensors").write_bytes(b"\x01")
    with pytest.raises(attend.Error, match="bad.safetensors"):
        attend.load_safetensors(str(tmp_path / "bad.safetensors"))
