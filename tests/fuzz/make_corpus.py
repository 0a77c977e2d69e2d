#!/usr/bin/env python3
"""Writes the seed corpus of tests/fuzz/fuzz_loaders.cc into tests/fuzz/corpus/.

Usage: make_corpus.py CHECKPOINT   (a tiny real checkpoint, made with
  attend train --task dates --train-size 20 --valid-size 4 --epochs 1 --embed 2 --hidden 2 \
               --attention-dim 2 --readout 2 --show 0 -o tiny.ckpt)
The first byte of every seed picks the harness's target (0 safetensors, 1 checkpoint info,
2 checkpoint metadata, 3 JSON, 4 IDX, 5 PyTorch import); see fuzz_loaders.cc. The PyTorch import
seeds are the committed state dicts of tests/data/convert (scripts/golden/make_convert_golden.sh).
"""
import json
import os
import struct
import sys

here = os.path.dirname(os.path.abspath(__file__))
out = os.path.join(here, "corpus")


def safetensors(header: dict, data: bytes) -> bytes:
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + data


def write(name: str, target: int, payload: bytes) -> None:
    with open(os.path.join(out, name), "wb") as f:
        f.write(bytes([target]) + payload)


def main() -> None:
    ckpt = open(sys.argv[1], "rb").read()
    os.makedirs(out, exist_ok=True)
    write("st_checkpoint", 0, ckpt)
    write("ckpt_real", 1, ckpt)
    n = struct.unpack("<Q", ckpt[:8])[0]
    meta = json.loads(ckpt[8:8 + n])["__metadata__"]
    write("meta_real", 2, meta["trainer"].encode() + b"\0" + meta["optimizer"].encode() + b"\0" +
          meta["vocab.source"].encode())
    write("meta_nonfinite", 2, b'{"best_metric":"nan","epoch":0,"batch_in_epoch":0,"global_step":0,"updates":0,'
          b'"skipped_steps":0,"nonfinite_streak":0,"plateau":{"best":"inf","num_bad_epochs":0,"cooldown_counter":0,'
          b'"last_epoch":0},"early_stopping":{"best":"-inf","bad_epochs":0},"rng":{"seed":18446744073709551615,'
          b'"offset":0},"epoch_loss_sum":0.1,"epoch_tokens":0,"epoch_steps":0}\0{"kind":"sgd","lr":1e-3}\0'
          b'#attend-vocab 1\n<pad>\t0\n<unk>\t0\n<s>\t0\n</s>\t0\na\\tb\t3\n\xc3\xa9\t1\n')
    f32 = struct.pack("<3f", 1.0, -2.5, float("inf"))
    f64 = struct.pack("<2d", 0.1, float("nan"))
    write("st_small", 0, safetensors({
        "a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 12]},
        "b": {"dtype": "F64", "shape": [1, 2], "data_offsets": [12, 28]},
        "s": {"dtype": "F32", "shape": [], "data_offsets": [28, 32]},
        "e": {"dtype": "F32", "shape": [0, 7], "data_offsets": [32, 32]},
        "__metadata__": {"format": "pt", "k": "v"}}, f32 + f64 + struct.pack("<f", 3.0)))
    write("st_bad_shapes", 0, safetensors({
        "w": {"dtype": "F32", "shape": [0, 9223372036854775807], "data_offsets": [0, 0]},
        "x": {"dtype": "F16", "shape": [1e400], "data_offsets": [0, 18446744073709551615]}}, b""))
    write("st_empty", 0, safetensors({}, b""))
    write("json_config", 3, b'{"d_model": 256, "heads": 8, "lr": 3e-4, "name": "base", "dropout": null,\n'
          b' "layers": [1, 2, [3, {"x": true}]], "big": 18446744073709551615, "neg": -9223372036854775808}\n')
    write("json_numbers", 3, b'[1e400, -1e-400, 1.5e308, 123456789012345678901234567890, "\\u00e9\\ud83d\\ude00"]')

    write("idx_images", 4, bytes([0, 0, 8, 3]) + struct.pack(">3I", 2, 3, 2) + bytes(range(12)))
    convert = os.path.join(here, "..", "data", "convert")
    for name in ("prenorm", "tutorial_postnorm"):
        write("torch_" + name, 5, open(os.path.join(convert, name + ".safetensors"), "rb").read())
    write("idx_f64", 4, bytes([0, 0, 0x0E, 1]) + struct.pack(">I", 2) + struct.pack(">2d", -2.5, float("inf")))


if __name__ == "__main__":
    main()
