"""Copy the trained demo models into graphs/assets/ (what the demo graphs load).

The exact commands that made the shipped weights (CPU, one thread, seed 0, on a busy shared
2-core machine; the wall times are in each model's calibration.json / training.json)::

    .venv/bin/pip install -e ".[data]"
    OMP_NUM_THREADS=1 .venv/bin/python graphs/assets/train_colorizer.py out/models/colorizer \\
        --steps 2000 --eval-every 200 --batch-size 12
    OMP_NUM_THREADS=1 .venv/bin/python graphs/assets/train_stylizer.py out/models/stylizer \\
        --steps 3000 --save-every 300
    .venv/bin/python graphs/assets/ship_models.py out/models

Tried and not shipped (docs/demo-models.md, "Tried: more data"): the colorizer retrained with 248 photos,
``fetch_photos.py out/photos`` then ``train_colorizer.py out/models/colorizer --photos out/photos
--steps 6000 --eval-every 400 --batch-size 12`` (best state step 1 200). Its ab error is lower but
its colour is washed out (8-35 % of the real chroma), so the demo keeps the 7-photo model above.
Also not shipped (docs/demo-models.md, "Tried: ab bins"): ``train_colorizer.py out/models/colorizer_bins --photos
out/photos --objective bins --steps 2500 --eval-every 250 --batch-size 12`` (Zhang et al.'s ab-bin
classification): closer than the shipped model on 5 of 6 test sets, not clearly better by eye.

The colorizer folder keeps its ``calibration.json`` (the saturation and net size chosen on the
validation photos); ``graphs/past_film.json``'s ``Colorize`` nodes use that saturation.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from nodeflow.nodes.cyclegan.handle import CycleGANHandle  # noqa: E402
from nodeflow.nodes.pix2pix.handle import Pix2PixHandle  # noqa: E402


def main(models: Path) -> None:
    if (models / "colorizer").is_dir():
        Pix2PixHandle.load(models / "colorizer").save(HERE / "colorizer")
        shutil.copyfile(models / "colorizer" / "calibration.json", HERE / "colorizer" / "calibration.json")
    if (models / "stylizer").is_dir():
        CycleGANHandle.load(models / "stylizer").save(HERE / "stylizer")
        shutil.copyfile(models / "stylizer" / "training.json", HERE / "stylizer" / "training.json")
    print(f"shipped {models} -> {HERE}/colorizer, {HERE}/stylizer")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "out/models"))
