"""Copy the trained demo models into graphs/assets/ (what the demo graphs load), with their inference size.

The exact commands that made the shipped weights (CPU, one thread, seed 0; about 30 min each on a
busy 2-core machine: 7 and 26 min)::

    .venv/bin/pip install scikit-learn matplotlib
    .venv/bin/python graphs/assets/make_training_data.py out/datasets
    OMP_NUM_THREADS=1 .venv/bin/nodeflow --threads 1 train pix2pix out/datasets/colour/train \\
        --mode colorization --generator resnet_6blocks --ngf 16 --ndf 32 --preprocess crop --load-size 64 \\
        --crop-size 64 --batch-size 8 --lambda-l1 1000 --niter 300 --niter-decay 300 --seed 0 \\
        --out out/models/colorizer
    OMP_NUM_THREADS=1 .venv/bin/nodeflow --threads 1 train cyclegan out/datasets/painting \\
        --generator resnet_6blocks --ngf 16 --ndf 32 --preprocess crop --load-size 64 --crop-size 64 \\
        --batch-size 2 --niter 600 --niter-decay 600 --seed 0 --out out/models/stylizer
    .venv/bin/python graphs/assets/ship_models.py out/models

The colorizer learnt from 64 px crops of photos whose longest side is 128-256 px, so it is run on
frames resized (aspect kept) to a longest side of 192 px: ``net_size`` 192 in its options.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from nodeflow.nodes.cyclegan.handle import CycleGANHandle  # noqa: E402
from nodeflow.nodes.pix2pix.handle import Pix2PixHandle  # noqa: E402

COLORIZER_NET_SIZE = 192


def main(models: Path) -> None:
    colorizer = Pix2PixHandle.load(models / "colorizer")
    colorizer.net_size = COLORIZER_NET_SIZE
    colorizer.save(HERE / "colorizer")
    if (models / "stylizer").is_dir():
        CycleGANHandle.load(models / "stylizer").save(HERE / "stylizer")
    print(f"shipped {models} -> {HERE}/colorizer, {HERE}/stylizer")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "out/models"))
