#!/usr/bin/env bash
# The GPU check in one command (see benchmarks/gpu_check.py): build + self-test, the cuda tests,
# stylegan-train/-generate on CUDA, training speed in both kernel modes, kernel bandwidth and the
# generator with and without kernels. Needs only torch, numpy, Pillow, tqdm, imageio, matplotlib and
# pytest (no install, no network); runs from the checkout. Report: $OUT (default ./gpu-check).
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export TORCH_CUDA_ARCH_LIST="${TORCH_CUDA_ARCH_LIST:-$(python3 -c 'import torch; m, n = torch.cuda.get_device_capability(); print(f"{m}.{n}")' 2>/dev/null || echo 9.0)}"
export MAX_JOBS="${MAX_JOBS:-$(nproc)}"
export XDG_CACHE_HOME="${XDG_CACHE_HOME:-/tmp/stylegan-gpu-check-cache}"   # the kernel build stays out of $OUT
export MPLBACKEND=Agg
exec python3 benchmarks/gpu_check.py --out "${OUT:-gpu-check}" "$@"
