"""Image files <-> tensors, the only place pixels cross the file edge.

Tensors follow the project convention: float32 ``(B, C, H, W)`` in [0, 1], RGB or RGBA.
Grayscale files become 3 equal channels; 16-bit files keep their precision (scaled by 65535);
EXIF orientation is applied. Writes are atomic.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from nodeflow.atomic import atomic_path
from nodeflow.errors import NodeError

READ_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp"}


def pil_to_array(img: Image.Image) -> np.ndarray:
    """A PIL image -> float32 ``(H, W, C)`` in [0, 1] with C = 3 or 4."""
    img = ImageOps.exif_transpose(img) or img
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float32)
        scale = 65535.0 if mode.startswith("I;16") or arr.max() > 255 else 255.0
        arr = np.clip(arr / scale, 0, 1)[..., None].repeat(3, axis=2)
        return arr
    if mode == "F":
        arr = np.clip(np.asarray(img, dtype=np.float32), 0, 1)
        return arr[..., None].repeat(3, axis=2)
    has_alpha = mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in img.info)
    img = img.convert("RGBA" if has_alpha else "RGB")
    return np.asarray(img, dtype=np.float32) / 255.0


def png_bit_depth(path: Path) -> int | None:
    """The bit depth in a PNG's header (IHDR), None for other files."""
    with path.open("rb") as f:
        head = f.read(25)
    if len(head) < 25 or head[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    return head[24]


def _read_png16(path: Path) -> np.ndarray | None:
    """16-bit PNG (grey, grey+alpha, RGB, RGBA) -> float ``(H, W, 3|4)``; Pillow cannot hold 16-bit RGB."""
    import cv2

    arr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if arr is None or arr.dtype != np.uint16:
        return None
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    elif arr.shape[2] == 2:
        arr = np.concatenate([np.repeat(arr[..., :1], 3, axis=2), arr[..., 1:]], axis=2)
    else:
        arr = cv2.cvtColor(arr, cv2.COLOR_BGRA2RGBA if arr.shape[2] == 4 else cv2.COLOR_BGR2RGB)
    return arr.astype(np.float32) / 65535.0


MAX_PIXELS = int(float(os.environ.get("NODEFLOW_MAX_PIXELS", 100e6)))
"""The largest frame (width × height) nodeflow reads or makes: 100 MP by default (an 8K frame
is 33 MP) — a float RGBA frame of 100 MP takes 1.6 GB. Set ``NODEFLOW_MAX_PIXELS`` to change it."""
MAX_BATCH_FRAMES_AT_LIMIT = 4
"""A batch may hold this many frames of :data:`MAX_PIXELS` (fewer of a larger size)."""

log = logging.getLogger(__name__)


def check_frame_size(height: int, width: int, batch: int = 1, *, field: str | None = None) -> None:
    """Refuse a frame or batch too large to allocate, before allocating it, with what to change."""
    pixels = height * width
    if pixels > MAX_PIXELS:
        raise NodeError(f"a {width}×{height} frame is {pixels / 1e6:.0f} MP, over the limit of "
                        f"{MAX_PIXELS / 1e6:.0f} MP", field=field,
                        hint="use a smaller size, or raise NODEFLOW_MAX_PIXELS if the memory is there")
    if batch > 1 and pixels * batch > MAX_PIXELS * MAX_BATCH_FRAMES_AT_LIMIT:
        fit = max(1, MAX_PIXELS * MAX_BATCH_FRAMES_AT_LIMIT // pixels)
        raise NodeError(f"a batch of {batch} frames of {width}×{height} is {pixels * batch / 1e6:.0f} MP, "
                        f"over the limit of {MAX_PIXELS * MAX_BATCH_FRAMES_AT_LIMIT / 1e6:.0f} MP",
                        field=field, hint=f"use --batch-size {fit} or a smaller size")


def read_image(path: str | Path) -> torch.Tensor:
    """Read an image file -> ``(1, C, H, W)`` float32 in [0, 1] (C = 3, or 4 with alpha).

    The size in the header is checked against :data:`MAX_PIXELS` before any pixel is decoded
    (a decompression bomb is a tiny file with a huge header); of a multi-page TIFF the first
    page is read, with a warning in the log."""
    path = Path(path)
    if path.is_dir():
        raise NodeError(f"{path} is a folder, not an image file", field="path",
                        hint="name one image file; LoadImageSequence reads a folder of frames")
    with _pixel_limit(None), Image.open(path) as img:  # the header only; our limit follows
        width, height = img.size
        pages = getattr(img, "n_frames", 1)
    check_frame_size(height, width, field="path")
    if pages > 1 and path.suffix.lower() in {".tif", ".tiff"}:
        log.warning("%s has %d pages; reading the first", path, pages)
    if path.suffix.lower() == ".png" and png_bit_depth(path) == 16:
        arr16 = _read_png16(path)
        if arr16 is not None:
            return array_to_tensor(arr16)
    with _pixel_limit(max(MAX_PIXELS, Image.MAX_IMAGE_PIXELS or 0)), Image.open(path) as img:
        img.load()
        if img.mode in ("I;16", "I;16B", "I;16L") or path.suffix.lower() in {".tif", ".tiff"}:
            arr = _read_high_bit_depth(path, img, pages)
        else:
            arr = pil_to_array(img)
    return array_to_tensor(arr)


@contextlib.contextmanager
def _pixel_limit(limit: int | None) -> Iterator[None]:
    """Pillow's own bomb check set to ``limit`` (None: off) while we read: :data:`MAX_PIXELS`
    is the one limit, checked against the header before any pixel is decoded."""
    previous = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = limit
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = previous


def _read_high_bit_depth(path: Path, img: Image.Image, pages: int = 1) -> np.ndarray:
    """16-bit PNG/TIFF (incl. 16-bit RGB, which PIL cannot hold) via imageio when possible."""
    try:
        import imageio.v3 as iio

        arr = iio.imread(path)
    except Exception:
        return pil_to_array(img)
    if pages > 1 and arr.ndim >= 3 and arr.shape[0] == pages:
        arr = arr[0]  # a multi-page TIFF comes back as a stack of pages
    img = ImageOps.exif_transpose(img) or img
    if arr.dtype == np.uint16:
        arr = arr.astype(np.float32) / 65535.0
    elif arr.dtype == np.uint8:
        arr = arr.astype(np.float32) / 255.0
    elif np.issubdtype(arr.dtype, np.floating):
        arr = np.clip(arr.astype(np.float32), 0, 1)
    else:
        return pil_to_array(img)
    if arr.ndim == 2:
        arr = arr[..., None].repeat(3, axis=2)
    elif arr.shape[2] == 2:  # gray + alpha
        arr = np.concatenate([arr[..., :1].repeat(3, axis=2), arr[..., 1:]], axis=2)
    elif arr.shape[2] > 4:
        arr = arr[..., :4]
    return arr


def array_to_tensor(arr: np.ndarray) -> torch.Tensor:
    """float ``(H, W, C)`` -> ``(1, C, H, W)``."""
    return torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1))).unsqueeze(0).float()


def tensor_to_array(image: torch.Tensor, bits: int = 8) -> np.ndarray:
    """``(C, H, W)`` or ``(1, C, H, W)`` in [0, 1] -> uint8/uint16 ``(H, W, C)``."""
    if image.ndim == 4:
        if image.shape[0] != 1:
            raise ValueError(f"expected one image, got a batch of {image.shape[0]}")
        image = image[0]
    arr = image.detach().float().clamp(0, 1).cpu().numpy().transpose(1, 2, 0)
    if bits == 16:
        return np.round(arr * 65535.0).astype(np.uint16)
    return np.round(arr * 255.0).astype(np.uint8)


def tensor_to_pil(image: torch.Tensor) -> Image.Image:
    arr = tensor_to_array(image, 8)
    if arr.shape[2] == 1:
        return Image.fromarray(arr[..., 0], "L")
    return Image.fromarray(arr, "RGBA" if arr.shape[2] == 4 else "RGB")


def write_image(image: torch.Tensor, path: str | Path, *, bits: int = 8, quality: int = 95,
                record: bool = False) -> None:
    """Write one image atomically; the format follows the suffix. 16-bit needs PNG or TIFF.
    ``record``: note it as an output nodeflow wrote (:mod:`nodeflow.written`)."""
    path = Path(path)
    suffix = path.suffix.lower()
    with atomic_path(path, record=record) as tmp:
        if bits == 16:
            if suffix not in {".png", ".tif", ".tiff"}:
                raise ValueError(f"16-bit output needs .png or .tif, not {suffix}")
            arr = tensor_to_array(image, 16)
            if suffix == ".png":  # Pillow cannot write 16-bit RGB(A); OpenCV can
                import cv2

                if arr.shape[2] in (3, 4):
                    arr = cv2.cvtColor(arr, cv2.COLOR_RGBA2BGRA if arr.shape[2] == 4 else cv2.COLOR_RGB2BGR)
                ok, data = cv2.imencode(".png", arr)
                if not ok:
                    raise ValueError(f"could not encode {path.name} as 16-bit PNG")
                tmp.write_bytes(data.tobytes())
                return
            import imageio.v3 as iio

            iio.imwrite(tmp, arr[..., 0] if arr.shape[2] == 1 else arr, extension=suffix)
            return
        pil = tensor_to_pil(image)
        if suffix in {".jpg", ".jpeg"}:
            pil.convert("RGB").save(tmp, format="JPEG", quality=quality)
        else:
            fmt = {".png": "PNG", ".tif": "TIFF", ".tiff": "TIFF", ".webp": "WEBP", ".bmp": "BMP"}.get(suffix)
            if fmt is None:
                raise ValueError(f"unsupported image format {suffix!r}; use .png, .jpg, .tif, .webp or .bmp")
            pil.save(tmp, format=fmt)
