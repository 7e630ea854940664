"""Image-folder datasets for GAN training: paired (aligned ``A|B`` or ``A/``+``B/``), single, unpaired.

Images are decoded once, resized for the chosen preprocessing and kept as uint8 (bounded cache),
then each sample gets a random crop and flip. Sampling is a pure function of (seed, sample
number): the k-th sample of a run is always the same image with the same crop, so a resumed
training sees exactly the data an uninterrupted one would, with nothing to checkpoint.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from PIL import Image, ImageOps
from torch import Tensor

from nodeflow.errors import NodeError
from nodeflow.image_files import READ_SUFFIXES

Preprocess = Literal["resize_and_crop", "crop", "resize"]
PairedLayout = Literal["auto", "aligned", "folders"]


def list_images(folder: Path) -> list[Path]:
    """Image files under ``folder`` (recursive), sorted, hidden files skipped."""
    return sorted(p for p in folder.rglob("*")
                  if p.is_file() and p.suffix.lower() in READ_SUFFIXES
                  and not any(part.startswith(".") for part in p.relative_to(folder).parts))


def require_folder(root: Path, field_name: str = "dataroot") -> Path:
    if not root.exists():
        raise NodeError(f"dataset folder not found: {root}", field=field_name,
                        hint="relative paths are relative to the graph file's folder")
    if not root.is_dir():
        raise NodeError(f"{root} is a file; a dataset is a folder of images", field=field_name)
    return root


def _phase_dir(root: Path) -> Path:
    """``root/train`` when it holds images (the reference's dataroot/phase layout), else ``root``."""
    train = root / "train"
    return train if train.is_dir() and list_images(train) else root


# ---------------------------------------------------------------------------------------------
# decoding and augmentation


def _decode(path: Path) -> Image.Image:
    try:
        with Image.open(path) as img:
            img.load()
            img = ImageOps.exif_transpose(img) or img
            return img.convert("RGB")
    except Exception as exc:
        raise NodeError(f"cannot read training image {path}: {exc}", field="dataroot") from None


def _to_uint8(img: Image.Image) -> Tensor:
    return torch.from_numpy(np.asarray(img, dtype=np.uint8).copy()).permute(2, 0, 1).contiguous()


class ImageStore:
    """Decoded, pre-resized uint8 ``(3, H, W)`` images, kept up to ``max_bytes``."""

    def __init__(self, preprocess: str, load_size: int, crop_size: int, max_bytes: int = 1 << 30):
        self.preprocess = preprocess
        self.load_size = load_size
        self.crop_size = crop_size
        self.max_bytes = max_bytes
        self._cache: OrderedDict[tuple[Path, int], Tensor] = OrderedDict()
        self._bytes = 0

    def _resize(self, img: Image.Image) -> Image.Image:
        if self.preprocess == "resize_and_crop":
            size = self.load_size
        elif self.preprocess == "resize":
            size = self.crop_size
        else:
            return img
        return img.resize((size, size), Image.Resampling.BICUBIC)

    def get(self, path: Path, half: int = -1) -> Tensor:
        """The image at ``path``; ``half`` 0/1 takes the left/right half of an ``A|B`` image first."""
        key = (path, half)
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        img = _decode(path)
        if half >= 0:
            w, h = img.size
            if w < 2:
                raise NodeError(f"{path} is {w}x{h}: too narrow to hold A|B side by side", field="dataroot")
            img = img.crop((0, 0, w // 2, h) if half == 0 else (w // 2, 0, 2 * (w // 2), h))
        tensor = _to_uint8(self._resize(img))
        if tensor.shape[1] < self.crop_size or tensor.shape[2] < self.crop_size:
            raise NodeError(f"{path} is {tensor.shape[2]}x{tensor.shape[1]} after preprocessing, smaller than "
                            f"crop_size {self.crop_size}", field="crop_size",
                            hint="lower crop_size or use preprocess 'resize_and_crop'")
        size = tensor.numel()
        if size <= self.max_bytes:
            self._cache[key] = tensor
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, old = self._cache.popitem(last=False)
                self._bytes -= old.numel()
        return tensor


def crop_flip(images: Sequence[Tensor], crop: int, flip: bool, gen: torch.Generator) -> list[Tensor]:
    """One random ``crop`` x ``crop`` window and horizontal flip applied to all ``images`` alike.

    uint8 ``(3, H, W)`` (same H, W) -> float ``(3, crop, crop)`` in [0, 1].
    """
    h, w = images[0].shape[-2:]
    for im in images[1:]:
        if im.shape[-2:] != (h, w):
            raise NodeError(f"paired images differ in size ({w}x{h} vs {im.shape[-1]}x{im.shape[-2]})",
                            field="dataroot", hint="use preprocess 'resize_and_crop' or 'resize'")
    top = int(torch.randint(0, h - crop + 1, (), generator=gen))
    left = int(torch.randint(0, w - crop + 1, (), generator=gen))
    do_flip = flip and bool(torch.rand((), generator=gen) < 0.5)
    out = []
    for im in images:
        patch = im[:, top:top + crop, left:left + crop].float() / 255.0
        out.append(patch.flip(-1) if do_flip else patch)
    return out


class _Sampler:
    """Sample number k -> dataset index: a fresh permutation per pass over the data (an epoch)."""

    def __init__(self, n: int, seed: int):
        self.n = n
        self.seed = seed
        self._epoch = -1
        self._perm: Tensor | None = None

    def index(self, k: int) -> int:
        epoch, pos = divmod(k, self.n)
        if epoch != self._epoch:
            g = torch.Generator().manual_seed((self.seed * 1_000_003 + epoch) % (2**63))
            self._perm = torch.randperm(self.n, generator=g)
            self._epoch = epoch
        assert self._perm is not None
        return int(self._perm[pos])


def sample_generator(seed: int, k: int, stream: int = 0) -> torch.Generator:
    """The generator for the augmentation of sample ``k`` (a pure function of seed and k)."""
    return torch.Generator().manual_seed((seed * 7919 + stream * 104_729 + k * 2_654_435_761) % (2**63))


# ---------------------------------------------------------------------------------------------
# datasets


class _Base:
    def __init__(self, preprocess: str, load_size: int, crop_size: int, flip: bool, seed: int):
        self.store = ImageStore(preprocess, load_size, crop_size)
        self.crop_size = crop_size
        self.flip = flip
        self.seed = seed


class PairedImages(_Base):
    """Pairs (A, B) from ``A|B`` side-by-side images or from ``A/`` + ``B/`` folders with matching names.

    ``batch(step, n) -> (A, B)``, each ``(n, 3, crop, crop)`` in [0, 1]; ``direction='BtoA'`` swaps them.
    """

    def __init__(self, root: Path, *, layout: str = "auto", direction: str = "AtoB",
                 preprocess: str = "resize_and_crop", load_size: int = 286, crop_size: int = 256,
                 flip: bool = True, seed: int = 0):
        super().__init__(preprocess, load_size, crop_size, flip, seed)
        root = require_folder(root)
        self.swap = direction == "BtoA"
        a_dir, b_dir = root / "A", root / "B"
        if layout == "auto":
            layout = "folders" if a_dir.is_dir() and b_dir.is_dir() else "aligned"
        self.layout = layout
        if layout == "folders":
            if not (a_dir.is_dir() and b_dir.is_dir()):
                raise NodeError(f"{root} has no A/ and B/ sub-folders", field="dataroot",
                                hint="layout 'folders' pairs A/<name> with B/<name>; or use layout 'aligned'")
            a_dir, b_dir = _phase_dir(a_dir), _phase_dir(b_dir)
            b_files = {p.relative_to(b_dir).with_suffix("").as_posix(): p for p in list_images(b_dir)}
            self.pairs = [(p, b_files[key]) for p in list_images(a_dir)
                          if (key := p.relative_to(a_dir).with_suffix("").as_posix()) in b_files]
            if not self.pairs:
                raise NodeError(f"no file in {a_dir} has a partner with the same name in {b_dir}",
                                field="dataroot", hint="paired images must share their names (any suffix)")
        else:
            folder = _phase_dir(root)
            self.files = list_images(folder)
            if not self.files:
                raise NodeError(f"no images in {folder}", field="dataroot",
                                hint="layout 'aligned' expects images with A and B side by side (A|B)")
        self.sampler = _Sampler(len(self), seed)

    def __len__(self) -> int:
        return len(self.pairs) if self.layout == "folders" else len(self.files)

    def sample(self, k: int) -> tuple[Tensor, Tensor]:
        i = self.sampler.index(k)
        if self.layout == "folders":
            a, b = self.store.get(self.pairs[i][0]), self.store.get(self.pairs[i][1])
        else:
            a, b = self.store.get(self.files[i], 0), self.store.get(self.files[i], 1)
        a_t, b_t = crop_flip([a, b], self.crop_size, self.flip, sample_generator(self.seed, k))
        return (b_t, a_t) if self.swap else (a_t, b_t)

    def batch(self, step: int, n: int) -> tuple[Tensor, Tensor]:
        samples = [self.sample(step * n + i) for i in range(n)]
        return torch.stack([s[0] for s in samples]), torch.stack([s[1] for s in samples])


class SingleImages(_Base):
    """Any folder of colour images (colorization and gray->RGB training): ``batch -> (n, 3, c, c)``."""

    def __init__(self, root: Path, *, preprocess: str = "resize_and_crop", load_size: int = 286,
                 crop_size: int = 256, flip: bool = True, seed: int = 0, field_name: str = "dataroot"):
        super().__init__(preprocess, load_size, crop_size, flip, seed)
        folder = _phase_dir(require_folder(root, field_name))
        self.files = list_images(folder)
        if not self.files:
            raise NodeError(f"no images in {folder}", field=field_name,
                            hint=f"expected image files ({', '.join(sorted(READ_SUFFIXES))})")
        self.sampler = _Sampler(len(self.files), seed)

    def __len__(self) -> int:
        return len(self.files)

    def sample(self, k: int, stream: int = 0) -> Tensor:
        im = self.store.get(self.files[self.sampler.index(k)])
        return crop_flip([im], self.crop_size, self.flip, sample_generator(self.seed, k, stream))[0]

    def batch(self, step: int, n: int) -> Tensor:
        return torch.stack([self.sample(step * n + i) for i in range(n)])


class UnpairedImages:
    """Two unrelated sets, ``trainA/`` and ``trainB/`` (or ``A/`` and ``B/``): ``batch -> (A, B)``."""

    def __init__(self, root: Path, *, preprocess: str = "resize_and_crop", load_size: int = 286,
                 crop_size: int = 256, flip: bool = True, seed: int = 0):
        root = require_folder(root)
        dirs = []
        for name in ("A", "B"):
            for cand in (root / f"train{name}", root / name):
                if cand.is_dir():
                    dirs.append(cand)
                    break
            else:
                raise NodeError(f"{root} has no train{name}/ folder", field="dataroot",
                                hint="CycleGAN data is two folders: trainA/ (domain A) and trainB/ (domain B)")
        self.a = SingleImages(dirs[0], preprocess=preprocess, load_size=load_size, crop_size=crop_size,
                              flip=flip, seed=seed)
        self.b = SingleImages(dirs[1], preprocess=preprocess, load_size=load_size, crop_size=crop_size,
                              flip=flip, seed=seed + 1)

    def batch(self, step: int, n: int) -> tuple[Tensor, Tensor]:
        ks = range(step * n, step * n + n)
        return (torch.stack([self.a.sample(k, 0) for k in ks]), torch.stack([self.b.sample(k, 1) for k in ks]))
