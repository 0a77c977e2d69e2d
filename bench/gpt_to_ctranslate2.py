#!/usr/bin/env python3
"""An attend GPT checkpoint (`attend train --arch gpt`) as a CTranslate2 model directory, and the
CTranslate2 side of bench/gpt_generate_speed.sh (generation and scoring workers).

Conversion (ctranslate2.specs.transformer_spec.TransformerDecoderModelSpec.from_config), what
each of attend's GPT choices becomes (include/attend/models/gpt.h):
  pre-norm blocks                  pre_norm=True; blocks.norm -> decoder.layer_norm (final LayerNorm)
  GELU, exact erf form             Activation.GELU: CTranslate2's erf GELU (0.5 x (1 + erf(x / sqrt 2)),
                                   a vectorized erf); Activation.GELUTanh would be the tanh
                                   approximation (what its own GPT-2 converter picks for "gelu_new")
  learned positions from 0         decoder.position_encodings.encodings = positions.weight [P, C]
                                   (left unset, CTranslate2 would use its own sinusoids)
  no embedding scaling             decoder.scale_embeddings = False (its default multiplies by sqrt C)
  LayerNorm eps 1e-5               config.layer_norm_epsilon = 1e-5 (written into config.json)
  self-attention [Wq; Wk; Wv]      layer.self_attention.linear[0] = in_proj_weight/bias (its fused
                                   QKV has the same [3C, C] order), linear[1] = out_proj
  feed-forward                     ffn.linear_0 = linear1, ffn.linear_1 = linear2, ffn.layer_norm = norm2,
                                   self_attention.layer_norm = norm1
  tied output                      decoder.projection.weight = embed.weight (no bias)
  attention scale 1/sqrt(D)        CTranslate2's default
  vocabulary                       the checkpoint's pieces in id order (<pad> <unk> <s> </s> ...);
                                   config unk/bos/eos = <unk>, <s>, </s> (its defaults, attend's ids 1-3)
Quantization is CTranslate2's own (spec.optimize): float32 keeps the weights, int8 quantizes the
linear layers' weights per row (activations quantized on the fly).

  bench/gpt_to_ctranslate2.py --checkpoint CKPT --out DIR [--quantization float32|int8|...] [--force]
  bench/gpt_to_ctranslate2.py --generate DIR --prompts IDS --out IDS [--max-new N] [--batch B]
      [--threads T] [--temperature 0 | T --top-p P --top-k K --seed S]   (prints RESULT json)
  bench/gpt_to_ctranslate2.py --score DIR --stream FILE --context T [--threads T]
      (the nll of attend's evaluation windows, as `attend eval --text`; prints RESULT json)

Generation as attend generate: each prompt's start tokens are </s> and its pieces;
include_prompt_in_result=False (the shortest prompt is fed at once, the rest of each prompt
forced token by token: attend's plan), min_length 0, end token </s> (returned, and counted), greedy
= sampling_topk 1; sampling: sampling_topk (0 = every token), sampling_topp, sampling_temperature,
ctranslate2.set_random_seed(seed) (its own generator: the tokens drawn are not attend's). One
untimed warm-up generation (first prompt, 2 tokens) precedes the timed loop, as in gpt_torch.py.
"""
import argparse
import json
import os
import shutil
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from gpt_torch import checkpoint_vocab, num_windows, read_stream, window_plan  # noqa: E402
from transformer_torch import checkpoint_meta, read_checkpoint, read_ids, write_ids  # noqa: E402

EOS_PIECE = "</s>"


def convert(ckpt, out, quantization, force):
    import ctranslate2
    from ctranslate2.specs import common_spec, transformer_spec
    tensors, meta = read_checkpoint(ckpt)
    cfg = json.loads(meta["model_config"])["model"]
    if cfg.get("architecture") != "gpt":
        sys.exit(f"{ckpt}: architecture {cfg.get('architecture')}, not gpt")
    act = {"gelu": common_spec.Activation.GELU, "relu": common_spec.Activation.RELU}[cfg.get("activation", "gelu")]
    spec = transformer_spec.TransformerDecoderModelSpec.from_config(cfg["num_layers"], cfg["num_heads"],
                                                                   pre_norm=True, activation=act)
    dec = spec.decoder
    dec.scale_embeddings = False
    dec.embeddings.weight = tensors["embed.weight"]
    dec.position_encodings.encodings = tensors["positions.weight"]
    dec.layer_norm.gamma = tensors["blocks.norm.weight"]
    dec.layer_norm.beta = tensors["blocks.norm.bias"]
    for l, layer in enumerate(dec.layer):
        p = f"blocks.layers.{l}."
        layer.self_attention.layer_norm.gamma = tensors[p + "norm1.weight"]
        layer.self_attention.layer_norm.beta = tensors[p + "norm1.bias"]
        layer.self_attention.linear[0].weight = tensors[p + "self_attn.in_proj_weight"]
        layer.self_attention.linear[0].bias = tensors[p + "self_attn.in_proj_bias"]
        layer.self_attention.linear[1].weight = tensors[p + "self_attn.out_proj.weight"]
        layer.self_attention.linear[1].bias = tensors[p + "self_attn.out_proj.bias"]
        layer.ffn.layer_norm.gamma = tensors[p + "norm2.weight"]
        layer.ffn.layer_norm.beta = tensors[p + "norm2.bias"]
        layer.ffn.linear_0.weight = tensors[p + "linear1.weight"]
        layer.ffn.linear_0.bias = tensors[p + "linear1.bias"]
        layer.ffn.linear_1.weight = tensors[p + "linear2.weight"]
        layer.ffn.linear_1.bias = tensors[p + "linear2.bias"]
    dec.projection.weight = tensors["embed.weight"] if cfg.get("tie_output", True) else tensors["output.weight"]
    vocab = checkpoint_vocab(ckpt)
    if len(vocab) != cfg["vocab"] or vocab[cfg["eos_id"]] != EOS_PIECE:
        sys.exit(f"{ckpt}: vocabulary of {len(vocab)} pieces (</s> at {vocab.index(EOS_PIECE)}), model "
                 f"{cfg['vocab']} (eos {cfg['eos_id']})")
    spec.register_vocabulary(vocab)
    spec.config.layer_norm_epsilon = 1e-5
    spec.config.unk_token, spec.config.bos_token, spec.config.eos_token = vocab[1], vocab[2], EOS_PIECE
    spec.validate()
    spec.optimize(quantization=None if quantization == "float32" else quantization)
    if os.path.exists(out):
        if not force:
            sys.exit(f"{out} exists (--force replaces it)")
        shutil.rmtree(out)
    os.makedirs(out)
    spec.save(out)
    with open(os.path.join(out, "attend_source.json"), "w") as f:
        json.dump(dict(checkpoint=os.path.abspath(ckpt), quantization=quantization, model=cfg,
                       ctranslate2=ctranslate2.__version__), f, indent=1)
    print(f"gpt_to_ctranslate2: {ckpt} -> {out} (CTranslate2 {ctranslate2.__version__}, {quantization}; "
          f"{cfg['num_layers']} layers, C {cfg['d_model']}, vocabulary {len(vocab)})", file=sys.stderr)


def load_generator(d, threads, compute_type=None):
    import ctranslate2
    with open(os.path.join(d, "attend_source.json")) as f:
        src = json.load(f)
    ct = compute_type or src["quantization"]
    gen = ctranslate2.Generator(d, device="cpu", compute_type=ct, intra_threads=threads, inter_threads=1)
    with open(os.path.join(d, "vocabulary.json")) as f:
        vocab = json.load(f)
    return gen, src, vocab


def generate(a):
    import ctranslate2
    gen, src, vocab = load_generator(a.generate, a.threads)
    index = {p: i for i, p in enumerate(vocab)}
    P = src["model"]["max_positions"]
    prompts = read_ids(a.prompts)
    greedy = a.temperature <= 0
    gen.generate_batch([[EOS_PIECE] + [vocab[i] for i in prompts[0]]], max_length=2, include_prompt_in_result=False)
    ctranslate2.set_random_seed(a.seed)  # after the (greedy, untimed) warm-up
    results = []
    t0 = time.perf_counter()
    for b in range(0, len(prompts), a.batch):
        rows = [[EOS_PIECE] + [vocab[i] for i in p] for p in prompts[b:b + a.batch]]
        max_length = min(a.max_new, P - max(len(r) for r in rows) + 1)
        out = gen.generate_batch(rows, max_length=max_length, min_length=0, beam_size=1,
                                 include_prompt_in_result=False, end_token=EOS_PIECE, return_end_token=True,
                                 sampling_topk=1 if greedy else a.top_k,
                                 sampling_topp=1.0 if greedy else a.top_p,
                                 sampling_temperature=1.0 if greedy else a.temperature)
        results += [[index[t] for t in r.sequences[0]] for r in out]
    seconds = time.perf_counter() - t0
    if a.out:
        write_ids(a.out, results)
    print("RESULT " + json.dumps(dict(version=ctranslate2.__version__, prompts=len(prompts), seconds=seconds,
                                      tokens=sum(len(r) for r in results))), flush=True)


def score(a):
    """nll of attend's evaluation windows (unshuffled, the last one shorter) with score_batch."""
    import ctranslate2
    gen, src, vocab = load_generator(a.score, a.threads)
    stream = read_stream(a.stream)
    n, T = len(stream), a.context or src["model"]["max_positions"]
    nll, tokens = 0.0, 0
    t0 = time.perf_counter()
    for ids in window_plan(num_windows(n, T), 64, 0, 0, shuffle=False):
        rows = [[vocab[t] for t in stream[w * T:w * T + T + 1]] for w in ids]
        for r in gen.score_batch(rows):
            nll -= sum(r.log_probs)
            tokens += len(r.log_probs)
    print("RESULT " + json.dumps(dict(version=ctranslate2.__version__, nll=nll, tokens=tokens, context=T,
                                      seconds=time.perf_counter() - t0)), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint", help="attend GPT checkpoint to convert")
    ap.add_argument("--out", help="conversion: the model directory; --generate: generated ids")
    ap.add_argument("--quantization", default="float32", help="float32, int8, int8_float32, int16, ...")
    ap.add_argument("--force", action="store_true", help="replace --out if it exists")
    ap.add_argument("--generate", metavar="DIR", help="generate with the converted model DIR")
    ap.add_argument("--score", metavar="DIR", help="score attend's evaluation windows with DIR")
    ap.add_argument("--prompts", help="prompt ids, one prompt per line")
    ap.add_argument("--stream", help="--score: the token stream (bench/gpt_torch.py's .stream file)")
    ap.add_argument("--context", type=int, default=0)
    ap.add_argument("--max-new", type=int, default=100)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--temperature", type=float, default=0.0)
    ap.add_argument("--top-k", type=int, default=0)
    ap.add_argument("--top-p", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    if a.generate:
        generate(a)
    elif a.score:
        score(a)
    elif a.checkpoint and a.out:
        convert(a.checkpoint, a.out, a.quantization, a.force)
    else:
        ap.error("give --checkpoint CKPT --out DIR, or --generate DIR, or --score DIR")


if __name__ == "__main__":
    main()
