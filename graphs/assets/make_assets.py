"""Regenerate the demo's small training sets from images shipped with scikit-image.

    .venv/bin/python graphs/assets/make_assets.py

- ``photo2painting/trainA/``: colour photographs (scikit-image's CC0 / public-domain samples),
  longest side 256 px: what the demo's Pix2Pix colorizer learns L -> ab from, and CycleGAN's
  domain A.
- ``photo2painting/trainB/``: the same photos turned into "paintings" by OpenCV's
  edge-preserving stylization filter: CycleGAN's domain B (unpaired: the trainer never sees
  which photo became which).
The files are committed so the demo graphs run from a fresh clone; this script documents how
they were made.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from skimage import data

HERE = Path(__file__).parent
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "immunohistochemistry")
MAX_SIDE = 256


def fit(img: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    s = MAX_SIDE / max(h, w)
    return np.asarray(Image.fromarray(img).resize((round(w * s), round(h * s)), Image.LANCZOS))


def main() -> None:
    photos, painted = HERE / "photo2painting" / "trainA", HERE / "photo2painting" / "trainB"
    photos.mkdir(parents=True, exist_ok=True)
    painted.mkdir(parents=True, exist_ok=True)
    for name in PHOTOS:
        img = fit(getattr(data, name)()[..., :3])
        Image.fromarray(img).save(photos / f"{name}.jpg", quality=92)
        art = cv2.stylization(cv2.cvtColor(img, cv2.COLOR_RGB2BGR), sigma_s=60, sigma_r=0.45)
        Image.fromarray(cv2.cvtColor(art, cv2.COLOR_BGR2RGB)).save(painted / f"{name}.jpg", quality=92)
    print(f"wrote {len(PHOTOS)} photos to {photos} and {painted}")


if __name__ == "__main__":
    main()
