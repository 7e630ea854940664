#!/usr/bin/env bash
# Create .venv (once) and install nodeflow with every extra. Safe to re-run: a finished
# install is recorded in .venv/.nodeflow-installed with the hash of the inputs it used.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=${NODEFLOW_VENV:-.venv}
stamp="$VENV/.nodeflow-installed"
want=$(cat pyproject.toml constraints/cpu.txt | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then exit 0; fi
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
pip=("$VENV/bin/python" -m pip install --disable-pip-version-check -q)
quiet() { "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2); }
# Tested CPU pin first: a bare `torch` range would pull a CUDA build of several GB.
# On a CUDA machine set NODEFLOW_TORCH_SPEC (e.g. "torch==2.13.0 --index-url ...").
if ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
  # shellcheck disable=SC2086
  quiet "${pip[@]}" ${NODEFLOW_TORCH_SPEC:--c constraints/cpu.txt torch}
fi
quiet "${pip[@]}" -c constraints/cpu.txt -e ".[video,demo,matte,gui,dask,dev]"
echo "$want" > "$stamp"
