"""The vit of attend (include/attend/models/vit.h) in PyTorch 2.x, for bench/vit_speed.sh:

  check  --ckpt F --images DIR       loads an attend vit checkpoint into the PyTorch model and
                                     prints its test accuracy and predictions' digest (the same
                                     weights must classify the t10k images as `attend eval` does)
  speed  --threads N --batch B       training images/s over steps warmup+1 .. warmup+steps
  train  --minutes M                 the recipe of docs (batch, cosine lr with warm-up, shift and
                                     flip) for M minutes; test accuracy after each epoch
  bench  --attend BIN --python PY    (what bench/vit_speed.sh runs) the check, then training
                                     images/s of attend and PyTorch on each --threads, interleaved
                                     repeats, medians and ratios -> OUT/results.{md,json}

Images/s of attend: the wall time of `attend train --max-steps W + N` minus that of `--max-steps W`
(the same start-up, data loading and W warm-up steps cancel), N * batch / difference. PyTorch's:
the same N steps after W warm-up steps, timed in-process. Both sides train the same model on the
same images, batch and threads; what differs is the kernels and PyTorch's own random batches.

The model: conv patch embedding (stride P), class token, learned positions, pre-norm
nn.TransformerEncoder layers (GELU, batch_first) with a final LayerNorm, a linear head on the class
token; the pixels in [0, 1] normalized by the config's mean and deviation: attend's parameter names.
"""
import argparse
import gzip
import json
import math
import os
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from transformer_torch import cpu_model, fmt_ratio, median, read_checkpoint, sgemm_ceiling  # noqa: E402
from torch_peer import loaded_libraries, torch_env  # noqa: E402

DEFAULTS = dict(image_size=28, channels=1, patch=4, d_model=96, num_heads=4, ffn_dim=192, num_layers=6,
                dropout=0.1, pixel_mean=0.2860, pixel_std=0.3530, num_classes=10)


def read_idx(path):
    import numpy as np
    with gzip.open(path, "rb") as f:
        data = f.read()
    _, _, kind, rank = data[:4]
    dims = struct.unpack(">" + "I" * rank, data[4:4 + 4 * rank])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * rank).reshape(dims)


def load_split(images_dir, prefix):
    x = read_idx(f"{images_dir}/{prefix}-images-idx3-ubyte.gz")
    y = read_idx(f"{images_dir}/{prefix}-labels-idx1-ubyte.gz")
    return x, y


def make_model(torch, cfg):
    nn = torch.nn
    S, C, P, D = cfg["image_size"], cfg["channels"], cfg["patch"], cfg["d_model"]
    N = (S // P) ** 2

    class Vit(nn.Module):
        def __init__(self):
            super().__init__()
            self.patch_embed = nn.Conv2d(C, D, P, stride=P)
            self.cls_token = nn.Parameter(torch.randn(1, 1, D) * 0.02)
            self.pos_embed = nn.Parameter(torch.randn(1, N + 1, D) * 0.02)
            layer = nn.TransformerEncoderLayer(D, cfg["num_heads"], cfg["ffn_dim"], cfg["dropout"], activation="gelu",
                                               batch_first=True, norm_first=True)
            self.blocks = nn.TransformerEncoder(layer, cfg["num_layers"], norm=nn.LayerNorm(D),
                                                enable_nested_tensor=False)
            self.head = nn.Linear(D, cfg["num_classes"])
            self.drop = nn.Dropout(cfg["dropout"])

        def forward(self, x):  # x [B, S, S] in [0, 1]
            B = x.shape[0]
            x = ((x - cfg["pixel_mean"]) / cfg["pixel_std"]).view(B, 1, S, S)
            z = self.patch_embed(x).flatten(2).transpose(1, 2)  # [B, N, D]
            x = torch.cat([self.cls_token.expand(B, -1, -1), z], 1) + self.pos_embed
            return self.head(self.blocks(self.drop(x))[:, 0])

    return Vit()


def augment(torch, x, shift, flip, gen):
    """x [B, S, S]: each image shifted by up to `shift` pixels (zeros come in), mirrored with p 1/2."""
    if shift > 0:
        B, S, _ = x.shape
        pad = torch.nn.functional.pad(x, (shift, shift, shift, shift))
        dx = torch.randint(0, 2 * shift + 1, (B,), generator=gen)
        dy = torch.randint(0, 2 * shift + 1, (B,), generator=gen)
        x = torch.stack([pad[b, dy[b]:dy[b] + S, dx[b]:dx[b] + S] for b in range(B)])
    if flip:
        m = torch.rand(x.shape[0], generator=gen) < 0.5
        x = torch.where(m[:, None, None], x.flip(2), x)
    return x


def accuracy(torch, model, x, y, batch=500):
    model.eval()
    right, guesses = 0, []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            g = model(x[i:i + batch]).argmax(1)
            right += int((g == y[i:i + batch]).sum())
            guesses += g.tolist()
    model.train()
    return 100.0 * right / len(x), guesses


def tensors_of(torch, images_dir, prefix):
    x, y = load_split(images_dir, prefix)
    return torch.from_numpy(x.astype("float32") / 255.0), torch.from_numpy(y.astype("int64"))


def run(cmd, env=None):
    import subprocess
    t0 = time.perf_counter()
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        sys.exit(f"failed ({r.returncode}): {' '.join(cmd)}\n{r.stdout}{r.stderr}")
    return r.stdout + r.stderr, dt


def result_of(out):
    for line in out.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    sys.exit("no RESULT line in:\n" + out)


def bench(a):
    import subprocess
    os.makedirs(a.out_dir, exist_ok=True)
    me = os.path.abspath(__file__)
    threads_list = [int(t) for t in a.threads_list.split(",")]
    cpu = cpu_model()
    print(f"cpu: {cpu}", flush=True)
    sgemm = sgemm_ceiling(a.sgemm_bench, threads_list) if a.sgemm_bench else {}
    # 1. check: attend's checkpoint after 300 steps, classified by PyTorch's model = attend eval.
    ckpt = os.path.join(a.out_dir, "check.ckpt")
    env1 = dict(os.environ, ATTEND_NUM_THREADS=str(max(threads_list)))
    run([a.attend, "train", "--arch", "vit", "--images", a.images, "--batch", str(a.batch), "--max-steps", "300",
         "--epochs", "1", "--lr", str(a.lr), "--schedule", "constant", "-o", ckpt], env1)
    out, _ = run([a.attend, "eval", "-m", ckpt, "--images", a.images, "--json", ckpt + ".json"], env1)
    attend_acc = json.load(open(ckpt + ".json"))["accuracy"]
    torch_acc = result_of(run([a.python, me, "check", "--ckpt", ckpt, "--images", a.images,
                               "--threads", str(max(threads_list))],
                              torch_env("peer", max(threads_list)))[0])["accuracy"]
    print(f"check: test accuracy of attend's checkpoint, attend eval {attend_acc:.2f}%, PyTorch {torch_acc:.2f}%",
          flush=True)
    if abs(attend_acc - torch_acc) > 0.05:
        sys.exit("check failed: PyTorch does not read attend's vit as attend does")
    # 2. images/s, interleaved repeats.
    rates = {t: {"attend": [], "torch": []} for t in threads_list}
    for rep in range(a.repeats):
        for t in threads_list:
            env = dict(os.environ, ATTEND_NUM_THREADS=str(t))
            base = [a.attend, "train", "--arch", "vit", "--images", a.images, "--batch", str(a.batch), "--epochs", "1",
                    "--lr", str(a.lr), "--schedule", "constant", "--shift", "2", "--flip", "-o",
                    os.path.join(a.out_dir, "speed.ckpt")]
            _, short = run(base + ["--max-steps", str(a.warmup_steps)], env)
            _, full = run(base + ["--max-steps", str(a.warmup_steps + a.steps)], env)
            at = a.steps * a.batch / (full - short)
            r = result_of(run([a.python, me, "speed", "--threads", str(t), "--batch", str(a.batch), "--steps",
                               str(a.steps), "--warmup-steps", str(a.warmup_steps), "--images", a.images],
                              torch_env("peer", t))[0])
            pt = r["images_per_s"]
            rates[t]["attend"].append(at)
            rates[t]["torch"].append(pt)
            print(f"repeat {rep + 1}, {t} thread(s): attend {at:.0f} img/s, PyTorch {pt:.0f} img/s, "
                  f"{fmt_ratio(at, pt)}", flush=True)
    # Training FLOPs per image: 3x the forward's matrix products (attention included).
    S, P, D, F, L = 28, 4, 96, 192, 6
    T = (S // P) ** 2 + 1
    fwd = 2 * ((S // P) ** 2 * D * P * P + L * T * (4 * D * D + 2 * D * F) + L * 2 * T * T * D)
    flops = 3 * fwd
    lines = ["| threads | attend img/s | PyTorch img/s | ratio | attend GFLOP/s | SGEMM ceiling |",
             "|---|---|---|---|---|---|"]
    summary = {}
    for t in threads_list:
        am, pm = median(rates[t]["attend"]), median(rates[t]["torch"])
        summary[t] = dict(attend=am, torch=pm, ratio=am / pm, attend_repeats=rates[t]["attend"],
                          torch_repeats=rates[t]["torch"])
        ceil = sgemm.get(t)
        lines.append(f"| {t} | {am:.0f} | {pm:.0f} | {am / pm:.2f}x | {am * flops / 1e9:.1f} | "
                     f"{f'{ceil:.0f}' if ceil else '-'} |")
    md = "\n".join(lines)
    print(md, flush=True)
    with open(os.path.join(a.out_dir, "results.md"), "w") as f:
        f.write(f"CPU: {cpu}. Command: {a.command}. vit d 96, 6 layers, 4 heads, ffn 192, patch 4, batch {a.batch}, "
                f"steps {a.warmup_steps + 1}..{a.warmup_steps + a.steps}, medians of {a.repeats} interleaved repeats. "
                f"Check: attend eval {attend_acc:.2f}% = PyTorch {torch_acc:.2f}% on attend's checkpoint.\n\n{md}\n")
    with open(os.path.join(a.out_dir, "results.json"), "w") as f:
        json.dump(dict(cpu=cpu, sgemm=sgemm, check=dict(attend=attend_acc, torch=torch_acc), rates=summary,
                       flops_per_image=flops), f, indent=2)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["check", "speed", "train", "bench"])
    ap.add_argument("--attend")
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--out-dir", default="runs/vit_speed")
    ap.add_argument("--threads-list", default="1,2")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--sgemm-bench")
    ap.add_argument("--command", default="bench/vit_speed.sh")
    ap.add_argument("--images", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--ckpt")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--warmup-steps", type=int, default=15)
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--epochs", type=int, default=17)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--warmup", type=int, default=500)
    ap.add_argument("--shift", type=int, default=2)
    ap.add_argument("--no-flip", action="store_true")
    ap.add_argument("--valid-images", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    if a.mode == "bench":
        return bench(a)
    import torch
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    blas, jemalloc = loaded_libraries()
    print(f"torch {torch.__version__}, {a.threads} thread(s), blas {blas}, jemalloc {'yes' if jemalloc else 'no'}",
          flush=True)

    if a.mode == "check":
        tensors, meta = read_checkpoint(a.ckpt)
        cfg = dict(DEFAULTS, **json.loads(meta["model_config"])["model"])
        model = make_model(torch, cfg)
        model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in tensors.items()}, strict=True)
        x, y = tensors_of(torch, a.images, "t10k")
        acc, guesses = accuracy(torch, model, x, y)
        print("RESULT " + json.dumps(dict(accuracy=acc, guesses=guesses)))
        return

    cfg = dict(DEFAULTS)
    model = make_model(torch, cfg)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    x, y = tensors_of(torch, a.images, "train")
    n_train = len(x) - a.valid_images
    xt, yt = x[:n_train], y[:n_train]
    gen = torch.Generator().manual_seed(a.seed)
    loss_fn = torch.nn.CrossEntropyLoss()
    per_epoch = math.ceil(n_train / a.batch)
    total = a.epochs * per_epoch

    def lr_at(step):  # step 1-based; attend's cosine with linear warm-up (train/schedule.h)
        if step <= a.warmup:
            return a.lr * step / a.warmup
        return a.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, (step - a.warmup) / max(1, total - a.warmup))))

    def train_step(xb, yb, step):
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        loss = loss_fn(model(augment(torch, xb, a.shift, not a.no_flip, gen)), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        return float(loss.detach())

    if a.mode == "speed":
        step = 0
        order = torch.randperm(n_train, generator=gen)
        for i in range(a.warmup_steps + a.steps):
            if i == a.warmup_steps:
                t0 = time.perf_counter()
            idx = order[(i * a.batch) % n_train:][:a.batch]
            step += 1
            train_step(xt[idx], yt[idx], step)
        dt = time.perf_counter() - t0
        print("RESULT " + json.dumps(dict(images_per_s=a.steps * a.batch / dt, seconds=dt, steps=a.steps,
                                          batch=a.batch, threads=a.threads, version=torch.__version__)))
        return

    xs, ys = tensors_of(torch, a.images, "t10k")
    start, step = time.perf_counter(), 0
    curve = []
    for epoch in range(1, a.epochs + 1):
        order = torch.randperm(n_train, generator=gen)
        for i in range(0, n_train, a.batch):
            step += 1
            loss = train_step(xt[order[i:i + a.batch]], yt[order[i:i + a.batch]], step)
            if time.perf_counter() - start > 60 * a.minutes:
                break
        acc, _ = accuracy(torch, model, xs, ys)
        minutes = (time.perf_counter() - start) / 60
        curve.append(dict(epoch=epoch, minutes=minutes, test_accuracy=acc, loss=loss))
        print(f"epoch {epoch}: {minutes:.1f} min, loss {loss:.4f}, test accuracy {acc:.2f}%", flush=True)
        if minutes > a.minutes:
            break
    print("RESULT " + json.dumps(dict(curve=curve)))


if __name__ == "__main__":
    main()
