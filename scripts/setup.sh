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
# torch first, pinned (constraints/cpu.txt), so that the open range in pyproject.toml never
# resolves to another build. Which build: scripts/torch_choice.py decides from what the configured
# index offers (pip --dry-run report, no download). A CUDA machine gets the configured index's torch
# (on PyPI the CUDA build); a machine without CUDA gets a CPU build: the configured index's own
# when it has one (this machine's wheel folder), else PyTorch's CPU wheel index is added
# (NODEFLOW_TORCH_CPU_INDEX, empty to disable); if that index cannot be reached, the configured
# index alone. Overrides: NODEFLOW_TORCH_CUDA=yes|no|auto, NODEFLOW_TORCH_SPEC="pip args" (all of it).
if ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
  if [ -n "${NODEFLOW_TORCH_SPEC:-}" ]; then
    # shellcheck disable=SC2086
    quiet "${pip[@]}" $NODEFLOW_TORCH_SPEC
  else
    report=$("${pip[@]}" --dry-run --no-deps --ignore-installed --report - -c constraints/cpu.txt torch \
             2>/dev/null || true)
    extra=()
    while IFS= read -r arg; do extra+=("$arg"); done < <(
      printf '%s' "$report" | "$VENV/bin/python" scripts/torch_choice.py --cuda "${NODEFLOW_TORCH_CUDA:-auto}")
    if ! quiet "${pip[@]}" -c constraints/cpu.txt torch ${extra[@]+"${extra[@]}"}; then
      [ ${#extra[@]} -gt 0 ] || exit 1
      echo "setup: the CPU wheel index could not be used; torch from the configured index instead" \
           "(on plain PyPI that is the CUDA build)" >&2
      quiet "${pip[@]}" -c constraints/cpu.txt torch
    fi
  fi
fi
quiet "${pip[@]}" -c constraints/cpu.txt -e ".[video,demo,matte,gui,dask,dev]"
echo "$want" > "$stamp"
