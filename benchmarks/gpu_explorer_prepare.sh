#!/usr/bin/env bash
# Fetch, on this machine (PyPI and Debian reachable), what benchmarks/gpu_explorer_check.sh installs on
# the GPU machine (no network there): wheels for its Python 3.12 in .whl/, GL loader debs in .gl/
# (both git-ignored through .git/info/exclude). Run once from the repository root:
#
#     bash benchmarks/gpu_explorer_prepare.sh
#
# then give the device run  carry: [".whl", ".gl"]  (about 27 MB together).
set -euo pipefail
cd "$(dirname "$0")/.."
exclude="$(git rev-parse --git-dir)/info/exclude"
for d in /.whl/ /.gl/; do grep -qx "$d" "$exclude" 2>/dev/null || echo "$d" >> "$exclude"; done
mkdir -p .whl .gl
# The explorer's UI (versions as here) and CUDA-GL interop's runtime bindings (CUDA 13, as the
# device's torch); installed there only where missing.
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_24_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux1_x86_64 \
    -d .whl imgui-bundle==1.93.0 PyOpenGL==3.1.10 glfw==2.11.0 cuda-bindings==13.0.3 cuda-pathfinder==1.3.3
# GL loaders (glvnd: libEGL, libOpenGL, libGL); the NVIDIA driver there provides the vendor side.
o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
mkdir -p /tmp/amd64/partial
apt-get $o update -qq
(cd .gl && apt-get $o download -qq libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
ls -la .whl .gl
du -sh .whl .gl
