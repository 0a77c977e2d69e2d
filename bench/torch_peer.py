"""The environment of a PyTorch peer process, shared by the attend-vs-PyTorch benchmarks
(bench/compare_torch.py, bench/rnnsearch_torch.py). See /work/shared/PEERS.md.

  peer    : PyTorch at its best: OPENBLAS_CORETYPE unset, OMP/OPENBLAS threads = n,
            ATEN_CPU_CAPABILITY=avx512, OMP_WAIT_POLICY=passive, jemalloc that keeps memory, and
            (blas_dir) an optimized libblas.so.3 first on LD_LIBRARY_PATH.
  shipped : PyTorch as the environment gives it (the worker still calls set_num_threads(n)).
"""
import os

JEMALLOC = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"


def torch_env(config, threads, blas_dir=None):
    env = dict(os.environ)
    if config == "peer":
        if blas_dir:
            env["LD_LIBRARY_PATH"] = blas_dir + (":" + env["LD_LIBRARY_PATH"] if env.get("LD_LIBRARY_PATH") else "")
        env.pop("OPENBLAS_CORETYPE", None)
        env.update(OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
                   ATEN_CPU_CAPABILITY="avx512", OMP_WAIT_POLICY="passive")
        if os.path.exists(JEMALLOC):
            env.update(LD_PRELOAD=JEMALLOC,
                       MALLOC_CONF="oversize_threshold:0,dirty_decay_ms:-1,muzzy_decay_ms:-1")
        else:
            env.update(MALLOC_MMAP_THRESHOLD_="8589934592", MALLOC_TRIM_THRESHOLD_="100000000000")
    return env


def loaded_libraries():
    """(BLAS, allocator) as this process mapped them, for the report: which libblas.so.3 is
    loaded (resolved: OpenBLAS or the reference BLAS) and whether jemalloc is preloaded."""
    blas, jemalloc = "?", False
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.split()[-1] if len(line.split()) >= 6 else ""
                if "libblas.so" in path or "libopenblas" in path:
                    blas = os.path.realpath(path)
                if "libjemalloc" in path:
                    jemalloc = True
    except OSError:
        pass
    return blas, jemalloc
