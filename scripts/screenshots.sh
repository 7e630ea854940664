#!/usr/bin/env bash
# Regenerate the README's editor screenshots (docs/images/editor_*.png) in a real X window on a
# private Xvfb display. Runs only cheap parts of the shipped graphs (no training). Needs Xvfb and
# the Qt xcb libraries (see .ci/run for the Debian packages).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
OUT=docs/images
mkdir -p "$OUT"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} QT_QPA_PLATFORM=xcb
export NODEFLOW_CACHE_DIR=${NODEFLOW_CACHE_DIR:-$PWD/out/screenshots-cache}
command -v Xvfb >/dev/null || { echo "Xvfb is not installed (apt-get install xvfb)" >&2; exit 1; }

n=77
while [ -e "/tmp/.X11-unix/X$n" ] || [ -e "/tmp/.X$n-lock" ]; do n=$((n + 1)); done
Xvfb ":$n" -screen 0 1800x1100x24 -nolisten tcp >/dev/null 2>&1 &
xvfb_pid=$!
tmp=$(mktemp -d)
trap 'kill "$xvfb_pid" 2>/dev/null || true; rm -rf "$tmp"' EXIT
for _ in $(seq 100); do [ -e "/tmp/.X11-unix/X$n" ] && break; sleep 0.1; done
export DISPLAY=":$n"

shot() { "$PY" -m nodeflow.gui.screenshot "$@" --size 1600x1000; }
shot graphs/future_film.json "$tmp/editor_viewer.png" --run-to paste --frames 0:8 --frame 6
shot graphs/future_film.json "$tmp/editor_alpha.png" --run-to subject --mode alpha
shot graphs/past_film.json "$tmp/editor_add_menu.png" --menu "blur"
# the wires of future_film's harmonize / restyle / export stages, up close (canvas only, 1:1)
shot graphs/future_film.json "$tmp/editor_wires.png" --canvas 1430,-370,1510,1150

# Small files for the README: 1200 px wide, 256 colours.
"$PY" - "$tmp" "$OUT" <<'PY'
import sys
from pathlib import Path
from PIL import Image
src, dst = Path(sys.argv[1]), Path(sys.argv[2])
for path in sorted(src.glob("*.png")):
    img = Image.open(path).convert("RGB")
    img = img.resize((1200, round(img.height * 1200 / img.width)), Image.Resampling.LANCZOS)
    out = dst / path.name
    img.quantize(colors=256, method=Image.Quantize.FASTOCTREE).save(out, optimize=True)
    print(f"{out}: {out.stat().st_size // 1024} KiB")
PY
