# Sourced (bash) by the scripts that measure attend against PyTorch (bench/compare_torch.sh,
# bench/rnnsearch_speed.sh, bench/transformer_speed.sh, bench/transformer_translate_speed.sh,
# bench/gpt_speed.sh, bench/gpt_generate_speed.sh);
# see /work/shared/PEERS.md for why the peer is set up this way.
#
#   torch_peer_install         attend's build dependencies (scripts/deps.sh), then python3-torch
#                              and libjemalloc2 when missing (root or sudo only then).
#   torch_peer_openblas BUILD  prints the directory with OpenBLAS's libblas.so.3, unpacked from
#                              Debian's libopenblas0-pthread into BUILD/openblas on first use. Not
#                              installed system-wide: Debian's default libblas.so.3 is the reference
#                              BLAS, at which PyTorch's GEMMs crawl; the peer gets this directory on
#                              LD_LIBRARY_PATH (bench/torch_peer.py).
#   torch_peer_venv BUILD      prints the python of BUILD/peer-venv, a virtual environment with
#                              PyTorch 2.x and numpy from PyPI (pip install torch numpy: a large
#                              download, done once; python3-venv installed when missing).
#   torch_peer_venv_with BUILD MODULE...  the same, with more PyPI packages (bench/gpt_generate_speed.sh:
#                              ctranslate2).

torch_peer_install() {
  local root
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  "$root/scripts/deps.sh" --also python3-torch libjemalloc2
}

torch_peer_openblas() {
  local build="$1"
  local blas="$build/openblas/usr/lib/x86_64-linux-gnu/openblas-pthread"
  if [ ! -e "$blas/libblas.so.3" ]; then
    local tmp
    tmp="$(mktemp -d)" || return 1
    # (called as blas="$(torch_peer_openblas ...)", where set -e does not reach: check each step)
    (cd "$tmp" && apt-get download libopenblas0-pthread >/dev/null) &&
      dpkg -x "$tmp"/libopenblas0-pthread_*.deb "$build/openblas"
    local rc=$?
    rm -rf "$tmp"
    [ $rc -eq 0 ] && [ -e "$blas/libblas.so.3" ] || { echo "torch_peer_openblas: could not unpack OpenBLAS" >&2; return 1; }
  fi
  echo "$blas"
}

torch_peer_venv() {
  local venv="$1/peer-venv"
  if ! "$venv/bin/python" -c "import torch, numpy" >/dev/null 2>&1; then
    local root
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    # (called as py="$(torch_peer_venv ...)", where set -e does not reach: check each step)
    echo "torch_peer_venv: installing PyTorch 2.x and numpy into $venv" >&2
    "$root/scripts/deps.sh" --also python3-venv >&2 &&
      python3 -m venv "$venv" >&2 &&
      "$venv/bin/pip" install -q torch numpy >&2 &&
      "$venv/bin/python" -c "import torch, numpy" >&2 ||
      { echo "torch_peer_venv: could not install PyTorch into $venv" >&2; return 1; }
  fi
  echo "$venv/bin/python"
}

# torch_peer_venv_with BUILD MODULE...   torch_peer_venv's environment with these PyPI packages
#                              too (each installed by its own name when `import NAME` fails, e.g.
#                              ctranslate2); prints its python.
torch_peer_venv_with() {
  local build="$1"
  shift
  local py
  py="$(torch_peer_venv "$build")" || return 1
  local missing=() m
  for m in "$@"; do "$py" -c "import $m" >/dev/null 2>&1 || missing+=("$m"); done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "torch_peer_venv_with: installing ${missing[*]} into $build/peer-venv" >&2
    "$py" -m pip install -q "${missing[@]}" >&2 ||
      { echo "torch_peer_venv_with: could not install ${missing[*]}" >&2; return 1; }
  fi
  echo "$py"
}
