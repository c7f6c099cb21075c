#!/usr/bin/env bash
# The explorer on a GPU machine (issue #23), one command, <= 6 minutes on an H100/H200, no network:
# installs the wheels and GL loaders brought along (benchmarks/gpu_explorer_prepare.sh fetched them
# into .whl/ and .gl/), then runs benchmarks/gpu_explorer_check.py: the zero-copy frame against
# stylegan-generate, the explorer's headless tests, benchmarks/explorer.py zero copy vs host path.
#
#     bash benchmarks/gpu_explorer_check.sh            # on the GPU machine: run with carry [".whl", ".gl"]
#     bash benchmarks/gpu_explorer_check.sh --cpu      # the dry run here: every step, on the CPU, nothing installed
#
# Results go to $OUT (the device tool's folder; ./gpu-explorer-out otherwise): explorer-check.json,
# explorer-check.md, explorer-bench.json, explorer-check-log.txt.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-$PWD/gpu-explorer-out}"
mkdir -p "$OUT"
MODE=cuda
[ "${1:-}" = "--cpu" ] && MODE=cpu
{
  echo "== gpu_explorer_check ($MODE) $(date -u +%FT%TZ) at $(git rev-parse --short HEAD 2>/dev/null)"
  if [ "$MODE" = cuda ]; then
    if [ -d .gl ]; then  # GL loaders (glvnd) where the machine lacks them; the driver is already there
      for f in .gl/*.deb; do dpkg -x "$f" /; done
      ldconfig
    fi
    for f in /usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json /usr/share/glvnd/egl_vendor.d/10_nvidia.json; do
      [ -f "$f" ] && export __EGL_VENDOR_LIBRARY_FILENAMES="$f" && break
    done
    if [ -d .whl ]; then  # only what is missing (the machine's own packages stay in charge)
      need=$(python3 - <<'PY'
import importlib.util, glob
wanted = {"imgui_bundle": "imgui_bundle", "OpenGL": "pyopengl", "glfw": "glfw", "cuda.bindings": "cuda_bindings"}
out = []
for module, wheel in wanted.items():
    try:
        found = importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        found = False
    if not found:
        out += glob.glob(f".whl/{wheel}-*.whl") + (glob.glob(".whl/cuda_pathfinder-*.whl") if wheel == "cuda_bindings" else [])
print(" ".join(out))
PY
)
      if [ -n "$need" ]; then
        echo "installing: $need"
        python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site $need || exit 1
        export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
      fi
    fi
    nvidia-smi --query-gpu=name,driver_version,memory.used,memory.total --format=csv,noheader || true
  fi
  export PYOPENGL_PLATFORM=egl
  timeout 330 python3 benchmarks/gpu_explorer_check.py --device "$MODE" --out "$OUT" $([ "$MODE" = cpu ] && echo --seconds 3)
  echo "== exit $?"
} 2>&1 | tee "$OUT/explorer-check-log.txt"
