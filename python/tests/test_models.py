"""Models from Python: attend.train (the recipe of `attend train`, with a progress callback),
attend.load returning the model of the checkpoint's task, translation with attention matrices,
generation, classification, state dicts and saving."""
import numpy as np
import pytest

import attend


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def translator_path(workdir):
    seen = []
    model = attend.train(task="reverse", arch="luong", model={"embed_dim": 16, "hidden_dim": 32}, train_size=2000,
                         valid_size=50, epochs=2, batch=32, lr=0.01, out=str(workdir / "luong.ckpt"),
                         show_examples=0, quiet=True, progress=seen.append)
    assert isinstance(model, attend.Translator) and model.architecture == "luong"
    assert seen and seen[-1]["step"] > 0 and np.isfinite(seen[-1]["loss"]) and "tok/s" in seen[-1]["line"]
    return str(workdir / "luong.ckpt")


def test_load_returns_a_translator_with_attention(translator_path):
    t = attend.load(translator_path)
    assert isinstance(t, attend.Translator) and t.task == "sequence-to-sequence"
    assert t.config["model"]["architecture"] == "luong"
    out = t.translate(["1 2 3 4", "5 6 7"], beam=3, nbest=2)
    assert len(out) == 2 and len(out[0].hypotheses) == 2
    best = out[0].hypotheses[0]
    assert out[0].text == best.text and best.score >= out[0].hypotheses[1].score
    assert out[0].source_tokens == ["1", "2", "3", "4"]
    assert best.attention.shape == (len(best.ids), 4)
    np.testing.assert_allclose(best.attention.sum(axis=1), 1.0, atol=1e-5)
    greedy = t.translate(["1 2 3 4"], beam=1)[0].hypotheses[0]
    assert greedy.tokens == greedy.text.split()


def test_state_dict_save_and_reload(translator_path, workdir):
    t = attend.load(translator_path)
    sd = t.state_dict()
    assert {"src_embed.weight", "tgt_embed.weight", "encoder.weight_ih_l0"} <= set(sd)
    t.save(str(workdir / "copy.ckpt"))
    u = attend.load(str(workdir / "copy.ckpt"))
    for k, v in u.state_dict().items():
        np.testing.assert_array_equal(v, sd[k])
    zeroed = {k: np.zeros_like(v) for k, v in sd.items()}
    u.load_state_dict(zeroed)
    assert all(not v.any() for v in u.state_dict().values())


def test_language_model_generates_and_scores(workdir):
    text = workdir / "train.txt"
    text.write_text("".join(f"the cat sat on the mat {i % 7} and the dog ran {'far' if i % 3 else 'home'}\n"
                            for i in range(40)))
    lm = attend.train(train_text=str(text), valid_text=str(text), context=12, arch="gpt",
                      model={"d_model": 16, "num_heads": 2, "ffn_dim": 24, "num_layers": 2}, batch=4, epochs=2,
                      out=str(workdir / "gpt.ckpt"), show_examples=0, quiet=True, seed=3)
    assert isinstance(lm, attend.LanguageModel)
    lm = attend.load(str(workdir / "gpt.ckpt"))
    g = lm.generate(["the cat"], max_new=5, temperature=0)
    assert len(g) == 1 and 1 <= len(g[0].ids) <= 5 and isinstance(g[0].text, str)
    again = lm.generate(["the cat", "the dog"], max_new=5, temperature=0.8, seed=7)
    assert again[0].text == lm.generate(["the cat"], max_new=5, temperature=0.8, seed=7)[0].text
    p = lm.perplexity(["the cat sat on the mat"], context=12)
    assert p["tokens"] > 0 and p["per_token"] > 1.0


def test_classifier_classifies_with_pooling_weights(workdir):
    tsv = workdir / "cls.tsv"
    rows = [("good great fine nice", "pos"), ("bad awful poor sad", "neg")] * 30
    tsv.write_text("".join(f"{a}\t{b}\n" for a, b in rows))
    c = attend.train(arch="classifier", train_tsv=str(tsv), valid_tsv=str(tsv), source_tokens="word",
                     model={"embed_dim": 8, "hidden_dim": 8, "hops": 2, "attention_dim": 4, "mlp_dim": 8},
                     epochs=3, batch=8, lr=0.01, out=str(workdir / "cls.ckpt"), show_examples=0, quiet=True)
    assert isinstance(c, attend.Classifier) and sorted(c.labels) == ["neg", "pos"]
    out = c.classify(["good nice", "awful sad poor", ""])
    assert [o.label for o in out[:2]] == ["pos", "neg"]
    assert out[0].probabilities.shape == (2,) and abs(out[0].probabilities.sum() - 1) < 1e-6
    assert out[0].weights.shape == (2, 2) and out[2].tokens == ["<unk>"]
    np.testing.assert_allclose(out[1].weights.sum(axis=1), 1.0, atol=1e-5)


def test_progress_callback_can_stop_training(workdir):
    class Stop(Exception):
        pass

    def stop(p):
        raise Stop(p["step"])

    with pytest.raises(Stop):
        attend.train(task="reverse", arch="luong", model={"embed_dim": 8, "hidden_dim": 8}, train_size=500,
                     valid_size=20, epochs=1, batch=16, out=str(workdir / "stopped.ckpt"), quiet=True, progress=stop)


@pytest.mark.parametrize("kwargs,message", [
    ({"nonsense": 1}, "unknown argument 'nonsense'"),
    ({"epochs": "two"}, "epochs must be an integer"),
    ({"arch": "nope", "task": "reverse"}, "unknown architecture 'nope'"),
])
def test_train_errors(kwargs, message, workdir):
    with pytest.raises(attend.Error, match=message):
        attend.train(out=str(workdir / "bad.ckpt"), quiet=True, **kwargs)


def test_load_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(attend.Error, match="bad.ckpt"):
        attend.load(str(bad))
    with pytest.raises(attend.Error, match="missing.ckpt"):
        attend.load(str(tmp_path / "missing.ckpt"))
