"""Build the shipped demo models' training sets (and a held-out test set) from images packages ship.

    .venv/bin/pip install -e ".[data]"     # only for china.jpg, flower.jpg, grace_hopper.jpg
    .venv/bin/python graphs/assets/make_training_data.py out/datasets

writes ``colour/train/`` (the colorizer's photos), ``colour/held_out/`` (to look at; the benchmarks load them from skimage)
and ``painting/trainA/`` (the same photos) + ``painting/trainB/`` (each photo turned into a
"painting" by OpenCV's edge-preserving ``cv2.stylization``, sigma_s 60, sigma_r 0.45): the
stylizer's unpaired domains (the trainer never sees which photo became which painting).

Every image is kept at its own aspect ratio (never squashed to a square) and written at three
sizes (longest side 256, 192 and 128 px) so random 64 px training crops see objects at several
scales; the trainer adds random crops and flips. Colour is never altered.

Training images (all permissively licensed, all available offline once the packages are installed):

- scikit-image ``skimage.data``: astronaut, rocket, hubble_deep_field (NASA / SpaceX, public domain),
  coffee (CC0), immunohistochemistry (no known copyright restrictions);
- scikit-learn ``sklearn/datasets/images``: china.jpg, flower.jpg (CC BY 2.0, danielbuechele / vultilion
  on Flickr, retrieved by Robert Layton);
- matplotlib ``mpl-data/sample_data``: grace_hopper.jpg (US Navy photo, public domain).

Left out on purpose: ``retina`` (CC0, but a fundus photo: saturated orange everywhere, which pulls a
small colorizer's every prediction toward sepia), the grey samples, and the synthetic ones.

Held out (never trained on; measured by ``benchmarks/colorize.py`` and ``stylize.py``): scikit-image's
chelsea (CC0) and motorcycle_left (Middlebury stereo), and the frames of its colour clip
``no_time_for_that_tiny.gif``. ``train_colorizer.py`` also holds ``grace_hopper`` out of the
colorizer's training (a validation photo, with chelsea); the stylizer trains on all of ``TRAIN``.
With ``train_colorizer.py --photos`` (an experiment, not the shipped model) the colorizer also
trains on ``fetch_photos.py``'s GCompris photos.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image

SIZES = (256, 192, 128)


def _skimage(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from skimage import data

        return getattr(data, name)()
    return load


def _package_file(module: str, *parts: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        mod = __import__(module)
        path = Path(mod.__file__).parent.joinpath(*parts)
        return np.asarray(Image.open(path).convert("RGB"))
    return load


TRAIN: dict[str, Callable[[], np.ndarray]] = {
    "astronaut": _skimage("astronaut"),
    "rocket": _skimage("rocket"),
    "hubble_deep_field": _skimage("hubble_deep_field"),
    "coffee": _skimage("coffee"),
    "immunohistochemistry": _skimage("immunohistochemistry"),
    "china": _package_file("sklearn", "datasets", "images", "china.jpg"),
    "flower": _package_file("sklearn", "datasets", "images", "flower.jpg"),
    "grace_hopper": _package_file("matplotlib", "mpl-data", "sample_data", "grace_hopper.jpg"),
}

HELD_OUT: dict[str, Callable[[], np.ndarray]] = {
    "chelsea": _skimage("chelsea"),
    "motorcycle_left": lambda: _skimage("stereo_motorcycle")()[0],
}


def fit(img: np.ndarray, longest: int) -> Image.Image:
    """``img`` resized (Lanczos) so its longest side is ``longest``, aspect kept."""
    im = Image.fromarray(np.ascontiguousarray(img[..., :3]))
    s = longest / max(im.size)
    return im.resize((max(1, round(im.width * s)), max(1, round(im.height * s))), Image.Resampling.LANCZOS)


def available(images: dict[str, Callable[[], np.ndarray]]) -> Iterator[tuple[str, np.ndarray]]:
    """(name, image) for each source whose package is installed; the others are reported and skipped."""
    for name, load in images.items():
        try:
            yield name, load()
        except (ImportError, FileNotFoundError) as exc:
            print(f"skipped {name}: {exc}", file=sys.stderr)


def paint(img: Image.Image) -> Image.Image:
    """The "painting" domain: OpenCV's edge-preserving stylization (flat colour regions, inked edges)."""
    import cv2

    bgr = cv2.cvtColor(np.asarray(img), cv2.COLOR_RGB2BGR)
    return Image.fromarray(cv2.cvtColor(cv2.stylization(bgr, sigma_s=60, sigma_r=0.45), cv2.COLOR_BGR2RGB))


def main(out: Path) -> None:
    train, held = out / "colour" / "train", out / "colour" / "held_out"
    photos, paintings = out / "painting" / "trainA", out / "painting" / "trainB"
    for folder in (train, held, photos, paintings):
        folder.mkdir(parents=True, exist_ok=True)
    n = 0
    for name, img in available(TRAIN):
        for size in SIZES:
            im = fit(img, size)
            im.save(train / f"{name}_{size}.png")
            im.save(photos / f"{name}_{size}.png")
            paint(im).save(paintings / f"{name}_{size}.png")
            n += 1
    for name, img in available(HELD_OUT):
        fit(img, 256).save(held / f"{name}.png")
    print(f"wrote {n} training images to {train} and {photos} (paintings: {paintings}); held out: {held}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "out/datasets"))
