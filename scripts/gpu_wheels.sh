#!/usr/bin/env bash
# Wheels that the GPU machine's image lacks (it has torch, numpy, pillow, opencv, imageio, rich,
# networkx, safetensors, scikit-image, but no pydantic, kornia or platformdirs) and cannot
# download (no network there). Run here, then carry the folder: run(..., carry=[".gpu-wheels"]).
#   bash scripts/gpu_wheels.sh [DIR]        (default .gpu-wheels; Python 3.12, manylinux x86_64)
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:-.gpu-wheels}
PY=${PYTHON:-.venv/bin/python}
mkdir -p "$DIR"
# the versions this checkout is tested with (pydantic and pydantic-core must match exactly)
pins=$("$PY" -m pip freeze 2>/dev/null | grep -i -E '^(pydantic|pydantic[-_]core|annotated[-_]types|typing[-_]inspection|kornia|kornia[-_]rs|platformdirs)==' || true)
[ -n "$pins" ] || pins="pydantic pydantic-core annotated-types typing-inspection kornia kornia-rs platformdirs"
echo "[gpu_wheels] downloading into $DIR: $(echo $pins)"
# shellcheck disable=SC2086
"$PY" -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux_2_28_x86_64 \
    -d "$DIR" $pins
ls -la "$DIR"
