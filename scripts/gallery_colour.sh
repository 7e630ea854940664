#!/usr/bin/env bash
# Regenerate the colour / painting gallery (docs/gallery/: docs/demo-models.md and the README's film steps) from the demo's real outputs.
#
#   bash scripts/gallery_colour.sh          # runs both demo graphs (cached after the first run)
#   PHOTOS=/path/to/photos bash scripts/gallery_colour.sh   # fetch_photos.py's folder (default out/photos):
#                                                           # adds the test packages' sheet
#
# The contact sheets are the graphs' own ContactSheet outputs; the held-out sheets are written by
# benchmarks/colorize.py and benchmarks/stylize.py (which also refresh their JSON results).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
OUT=docs/gallery
mkdir -p "$OUT"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
for graph in past_film future_film; do
  .venv/bin/nodeflow --threads "$OMP_NUM_THREADS" run "graphs/$graph.json" --output-dir . >/dev/null
  cp "out/$graph/${graph}_steps.png" "$OUT/${graph}_steps.png"
done
[ -d out/datasets/painting/trainB ] || "$PY" graphs/assets/make_training_data.py out/datasets
"$PY" benchmarks/colorize.py --photos "${PHOTOS:-out/photos}" --sheet "$OUT/colorize_held_out.png"
"$PY" benchmarks/stylize.py --grid "$OUT/stylize_held_out.png"
# JPEG keeps the README light (the PNGs are 0.3-0.6 MB each)
"$PY" - "$OUT" <<'PY'
import sys
from pathlib import Path
from PIL import Image
# only the sheets this script writes (scripts/gallery.py's PNGs live in the same folder)
names = ("past_film_steps", "future_film_steps", "colorize_held_out", "colorize_held_out_packages", "stylize_held_out")
for png in (Path(sys.argv[1]) / f"{n}.png" for n in names):
    if not png.exists():
        continue
    Image.open(png).convert("RGB").save(png.with_suffix(".jpg"), quality=88, optimize=True)
    png.unlink()
PY
ls -la "$OUT"
