#!/usr/bin/python3
"""attend's fused attention vs PyTorch, same shapes and thread counts, in one run.

Runs bench/flash_attention_bench (--csv) for attend, then PyTorch 1.13 in subprocesses (one per
configuration and thread count) and prints one table with the attend/PyTorch speed ratios
(> 1 = attend faster); with --torch2 PYTHON (an interpreter with PyTorch 2.x, e.g.
build/peer-venv/bin/python: compare_torch.sh passes it) a second table times PyTorch 2.x's own
torch.nn.functional.scaled_dot_product_attention on the same shapes, float32 and bfloat16, forward
and forward+backward, and records the backend PyTorch chose for each (torch._fused_sdp_choice:
FLASH_ATTENTION is its CPU flash kernel, MATH the composition). bf16 rows are PyTorch's bf16
against attend's f32 (attend has no bf16 kernel yet). The peer setup is the "peer" one below.

PyTorch 1.13 has no public F.scaled_dot_product_attention; its CPU multi-head attention computes
softmax(Q K^T * scale + mask) V with separate kernels, and that composition is what is timed here
(forward, and forward+backward through autograd). Two PyTorch configurations (see
/work/shared/PEERS.md):
  peer    : the fastest: OPENBLAS_CORETYPE unset, OMP/OPENBLAS threads = n, set_num_threads(n),
            ATEN_CPU_CAPABILITY=avx512, OMP_WAIT_POLICY=passive, jemalloc that keeps memory.
  shipped : PyTorch as the environment gives it, only the thread count set.
Shapes whose score matrices would not fit in memory are skipped for PyTorch (marked "skip").

PyTorch's GEMMs go through the system libblas.so.3. Where that is Debian's reference (netlib)
BLAS, PyTorch runs at a few GFLOP/s and no comparison is fair; --blas-dir points the peer at an
optimized BLAS without touching the system, e.g. OpenBLAS unpacked from its Debian package:
  apt-get download libopenblas0-pthread && dpkg -x libopenblas0-pthread_*.deb /tmp/openblas
  --blas-dir /tmp/openblas/usr/lib/x86_64-linux-gnu/openblas-pthread
Each worker reports the SGEMM rate PyTorch reaches (1024^3), printed above the table.

  /usr/bin/python3 bench/compare_torch.py [--quick] [--threads 1,2] [--max-n N] [--max-n-b4 N]
                                          [--bench PATH] [--no-shipped] [--cpu-time]
                                          [--blas-dir DIR]
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

from torch_peer import torch_env

# Score-sized tensors PyTorch keeps alive in forward+backward (scores, weights, their grads).
SCORE_COPIES = 4
MEMORY_BUDGET = 12 << 30  # bytes; the machine has 24 GiB
CPU_TIME = False


CLOCK = time.perf_counter


def median_seconds(fn):
    t0 = CLOCK()
    fn()
    warm = CLOCK() - t0
    reps = 1 if warm > 4 else 3 if warm > 1 else 5 if warm > 0.05 else 11
    times = []
    for _ in range(reps):
        t0 = CLOCK()
        fn()
        times.append(CLOCK() - t0)
    return statistics.median(times)


def torch_worker(args):
    """Runs inside the PyTorch subprocess: times every shape, prints CSV rows."""
    import torch

    global CLOCK
    if args.cpu_time:
        CLOCK = time.process_time
    torch.set_num_threads(args.threads_one)
    a = torch.randn(1024, 1024)
    t = median_seconds(lambda: a @ a)
    print(f"gemm,{2 * 1024 ** 3 / t * 1e-9:.1f}", flush=True)
    H, D = 8, 64
    for B, N, causal in parse_shapes(args.shapes):
        if SCORE_COPIES * B * H * N * N * 4 > MEMORY_BUDGET:
            print(f"torch,{B},{N},{causal},skip,skip", flush=True)
            continue
        g = torch.Generator().manual_seed(0)
        q = torch.randn(B, H, N, D, generator=g, requires_grad=True)
        k = torch.randn(B, H, N, D, generator=g, requires_grad=True)
        v = torch.randn(B, H, N, D, generator=g, requires_grad=True)
        dout = torch.randn(B, H, N, D, generator=g)
        mask = None
        if causal:
            mask = torch.full((N, N), float("-inf")).triu_(1)
        scale = 1.0 / D ** 0.5

        def forward():
            s = torch.matmul(q, k.transpose(-2, -1)) * scale
            if mask is not None:
                s = s + mask
            return torch.matmul(torch.softmax(s, dim=-1), v)

        def fwd():
            with torch.no_grad():
                forward()

        def fwd_bwd():
            q.grad = k.grad = v.grad = None
            forward().backward(dout)

        tf = median_seconds(fwd)
        tb = median_seconds(fwd_bwd)
        print(f"torch,{B},{N},{causal},{tf * 1e3:.3f},{tb * 1e3:.3f}", flush=True)
        del q, k, v, dout, mask


def sdpa_worker(args):
    """Runs inside a PyTorch 2.x subprocess: F.scaled_dot_product_attention per shape, f32 and bf16."""
    import torch
    import torch.nn.functional as F
    from torch.nn.attention import SDPBackend

    global CLOCK
    if args.cpu_time:
        CLOCK = time.process_time
    torch.set_num_threads(args.threads_one)
    names = {int(getattr(SDPBackend, n)): n for n in dir(SDPBackend) if n.isupper()}
    print(f"version,{torch.__version__},{torch.backends.cpu.get_cpu_capability()}", flush=True)
    H, D = 8, 64
    for B, N, causal in parse_shapes(args.shapes):
        row = [str(B), str(N), str(causal)]
        for dtype in (torch.float32, torch.bfloat16):
            g = torch.Generator().manual_seed(0)
            q, k, v = (torch.randn(B, H, N, D, generator=g).to(dtype).requires_grad_() for _ in range(3))
            dout = torch.randn(B, H, N, D, generator=g).to(dtype)
            backend = names.get(int(torch._fused_sdp_choice(q, k, v, is_causal=bool(causal))), "?")

            def fwd():
                with torch.no_grad():
                    F.scaled_dot_product_attention(q, k, v, is_causal=bool(causal))

            def fwd_bwd():
                q.grad = k.grad = v.grad = None
                F.scaled_dot_product_attention(q, k, v, is_causal=bool(causal)).backward(dout)

            row += [backend, f"{median_seconds(fwd) * 1e3:.3f}", f"{median_seconds(fwd_bwd) * 1e3:.3f}"]
            del q, k, v, dout
        print("sdpa," + ",".join(row), flush=True)


def run_sdpa(python, threads, shapes, blas_dir=None):
    spec = ";".join(f"{b},{n},{c}" for b, n, c in shapes)
    cmd = [python, os.path.abspath(__file__), "--sdpa-worker", "--threads-one", str(threads), "--shapes", spec] + (
        ["--cpu-time"] if CPU_TIME else [])
    res = subprocess.run(cmd, env=torch_env("peer", threads, blas_dir), capture_output=True, text=True)
    rows, version = {}, "?"
    for line in res.stdout.splitlines():
        f = line.split(",")
        if f[0] == "version":
            version = f"{f[1]} ({f[2]})"
        elif f[0] == "sdpa":
            rows[(int(f[1]), int(f[2]), int(f[3]))] = dict(f32=(f[4], float(f[5]), float(f[6])),
                                                           bf16=(f[7], float(f[8]), float(f[9])))
    if res.returncode != 0:
        print(f"# PyTorch 2.x ({threads} threads) exited with {res.returncode}: {res.stderr.strip()[-300:]}",
              file=sys.stderr)
    return rows, version


def parse_shapes(s):
    out = []
    for item in s.split(";"):
        if item:
            b, n, c = item.split(",")
            out.append((int(b), int(n), int(c)))
    return out


def run_torch(config, threads, shapes, blas_dir=None):
    spec = ";".join(f"{b},{n},{c}" for b, n, c in shapes)
    cmd = [sys.executable, os.path.abspath(__file__), "--torch-worker", "--threads-one", str(threads),
           "--shapes", spec] + (["--cpu-time"] if CPU_TIME else [])
    res = subprocess.run(cmd, env=torch_env(config, threads, blas_dir), capture_output=True, text=True)
    rows = {}
    for line in res.stdout.splitlines():
        f = line.split(",")
        if f[0] == "gemm":
            print(f"# PyTorch {config}, {threads} thread(s): SGEMM 1024^3 {f[1]} GFLOP/s", flush=True)
        elif f[0] == "torch":
            key = (int(f[1]), int(f[2]), int(f[3]))
            rows[key] = None if f[4] == "skip" else (float(f[4]), float(f[5]))
    if res.returncode != 0:
        print(f"# PyTorch ({config}, {threads} threads) exited with {res.returncode}: "
              f"{res.stderr.strip()[-300:]}", file=sys.stderr)
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--max-n", type=int, default=16384)
    ap.add_argument("--max-n-b4", type=int, default=4096)
    ap.add_argument("--causal", default="0,1")
    ap.add_argument("--batch", default="1,4")
    ap.add_argument("--bench", default=None, help="path of flash_attention_bench")
    ap.add_argument("--no-shipped", action="store_true", help="skip PyTorch as shipped")
    ap.add_argument("--cpu-time", action="store_true",
                    help="time both by process CPU seconds (1 thread on a shared machine)")
    ap.add_argument("--blas-dir", default=None,
                    help="directory with an optimized libblas.so.3 for the PyTorch peer (see above)")
    ap.add_argument("--torch2", default=None, help="python with PyTorch 2.x: also time its scaled_dot_product_attention")
    ap.add_argument("--torch-worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--sdpa-worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--threads-one", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--shapes", default="", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.torch_worker:
        torch_worker(args)
        return
    if args.sdpa_worker:
        sdpa_worker(args)
        return

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    bench = args.bench
    if bench is None:
        for d in ("build", "build-flash"):
            cand = os.path.join(root, d, "flash_attention_bench")
            if os.path.exists(cand):
                bench = cand
                break
    if bench is None or not os.path.exists(bench):
        sys.exit("flash_attention_bench not found: build it or pass --bench")

    cmd = [bench, "--csv", "--threads", args.threads, "--max-n", str(args.max_n), "--max-n-b4",
           str(args.max_n_b4), "--causal", args.causal, "--batch", args.batch]
    if args.quick:
        cmd.append("--quick")
    if args.cpu_time:
        cmd.append("--cpu-time")
        global CPU_TIME
        CPU_TIME = True
    print("$ " + " ".join(cmd), flush=True)
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"attend benchmark failed:\n{out.stdout}\n{out.stderr}")
    attend, sgemm, isa = {}, {}, "?"
    for line in out.stdout.splitlines():
        f = line.split(",")
        if f[0] == "isa":
            isa = f[1]
        elif f[0] == "sgemm":
            sgemm[int(f[1])] = float(f[2])
        elif f[0] == "row" and f[1] != "B":
            B, N, causal, thr = int(f[1]), int(f[3]), int(f[5]), int(f[6])
            attend[(B, N, causal, thr)] = dict(fwd=float(f[7]), fwd_gf=float(f[8]), fwd_frac=float(f[9]),
                                               fb=float(f[10]), fb_gf=float(f[11]), fb_frac=float(f[12]),
                                               mib=float(f[13]))
    threads = sorted(sgemm)
    configs = ["peer"] + ([] if args.no_shipped else ["shipped"])
    torch_rows = {}
    for config in configs:
        for t in threads:
            shapes = sorted({(B, N, c) for (B, N, c, tt) in attend if tt == t})
            print(f"# PyTorch {config}, {t} thread(s): {len(shapes)} shapes", flush=True)
            torch_rows[(config, t)] = run_torch(config, t, shapes, args.blas_dir)

    print(f"\nattend ISA {isa}; {'process CPU' if args.cpu_time else 'wall-clock'} time; SGEMM ceiling " +
          ", ".join(f"{t} thr {sgemm[t]:.0f} GFLOP/s" for t in threads) +
          "; ratios = PyTorch time / attend time (> 1: attend faster)")
    hdr = (f"{'B':>2} {'N':>6} {'causal':>6} {'thr':>3} | {'fwd ms':>8} {'GF/s':>6} {'%SG':>4} | "
           f"{'f+b ms':>9} {'GF/s':>6} {'%SG':>4} | {'MiB':>6} | {'torch fwd':>9} {'ratio':>6} "
           f"{'torch f+b':>9} {'ratio':>6}")
    if "shipped" in configs:
        hdr += f" | {'shipped fwd':>11} {'f+b':>6}"
    print(hdr)
    for key in sorted(attend, key=lambda k: (k[0], k[1], k[2], k[3])):
        B, N, causal, t = key
        a = attend[key]
        line = (f"{B:>2} {N:>6} {'yes' if causal else 'no':>6} {t:>3} | {a['fwd']:>8.2f} {a['fwd_gf']:>6.1f} "
                f"{100 * a['fwd_frac']:>3.0f}% | {a['fb']:>9.2f} {a['fb_gf']:>6.1f} {100 * a['fb_frac']:>3.0f}% | "
                f"{a['mib']:>6.2f} |")
        p = torch_rows[("peer", t)].get((B, N, causal), "missing")
        if p is None or p == "missing":
            line += f" {'skip' if p is None else 'fail':>9} {'':>6} {'':>9} {'':>6}"
        else:
            line += f" {p[0]:>9.2f} {p[0] / a['fwd']:>5.2f}x {p[1]:>9.2f} {p[1] / a['fb']:>5.2f}x"
        if "shipped" in configs:
            s = torch_rows[("shipped", t)].get((B, N, causal), "missing")
            if s is None or s == "missing":
                line += f" | {'skip' if s is None else 'fail':>11} {'':>6}"
            else:
                line += f" | {s[0] / a['fwd']:>10.2f}x {s[1] / a['fb']:>5.2f}x"
        print(line, flush=True)

    if args.torch2:
        sdpa, version = {}, "?"
        for t in threads:
            shapes = sorted({(B, N, c) for (B, N, c, tt) in attend if tt == t})
            print(f"# PyTorch 2.x SDPA, {t} thread(s): {len(shapes)} shapes", flush=True)
            sdpa[t], version = run_sdpa(args.torch2, t, shapes, args.blas_dir)
        print(f"\nPyTorch {version} torch.nn.functional.scaled_dot_product_attention (peer setup); "
              "ratio = PyTorch time / attend f32 time (> 1: attend faster); backend = torch._fused_sdp_choice")
        print(f"{'B':>2} {'N':>6} {'causal':>6} {'thr':>3} | {'attend fwd':>10} {'f+b':>9} | "
              f"{'f32 fwd':>8} {'ratio':>6} {'f32 f+b':>9} {'ratio':>6} {'backend':>15} | "
              f"{'bf16 fwd':>8} {'ratio':>6} {'bf16 f+b':>9} {'ratio':>6} {'backend':>15}")
        for key in sorted(attend, key=lambda k: (k[0], k[1], k[2], k[3])):
            B, N, causal, t = key
            a = attend[key]
            line = f"{B:>2} {N:>6} {'yes' if causal else 'no':>6} {t:>3} | {a['fwd']:>10.2f} {a['fb']:>9.2f} |"
            r = sdpa[t].get((B, N, causal))
            if r is None:
                print(line + " fail", flush=True)
                continue
            for dt in ("f32", "bf16"):
                backend, f, fb = r[dt]
                line += (f" {f:>8.2f} {f / a['fwd']:>5.2f}x {fb:>9.2f} {fb / a['fb']:>5.2f}x {backend:>15}" +
                         (" |" if dt == "f32" else ""))
            print(line, flush=True)


if __name__ == "__main__":
    main()
