"""Harmonization (and editing) at injection scale n, as the reference does it, for frame batches.

Reference (``harmonization.py``): the naive composite and its mask are resized to the training
resolution, the mask is binarised, dilated with a disk (radius 7; 20 for editing), blurred with a
Gaussian (σ 5, truncated at 4σ, edge-replicating) and normalised to [0, 1] by its min/max; the
composite is resized down to scale ``n - 1`` and one step up to scale ``n``, the pyramid generates
from ``n`` to the finest scale, and the output is ``(1 − m)·background + m·generated``.

Here the background is the composite itself (equal to the scene outside the pasted object for a
still, and the right thing for a clip whose frames differ from the training frame), and the
blend is written as ``where(m > 0, …, composite)``, so pixels outside the blurred, dilated mask
are bit-identical to the input. Optionally the result goes back to the frame's resolution: the
generated pixels (or only the change, ``detail``) are resized up and blended through the resized
soft mask; the rest of the frame is untouched.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Literal, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from .generate import regenerate
from .handle import SinGANModel
from .imresize import imresize, resize_to

Upsample = Literal["generated", "detail"]


@lru_cache(maxsize=16)
def _disk(radius: int) -> np.ndarray:
    """``skimage.morphology.disk``: the points with ``x² + y² ≤ r²``."""
    r = np.arange(-radius, radius + 1)
    return (r[:, None] ** 2 + r[None, :] ** 2 <= radius * radius).astype(np.float32)


@lru_cache(maxsize=16)
def _gauss(sigma: float) -> np.ndarray:
    """``scipy.ndimage.gaussian_filter``'s 1-D kernel (truncate 4.0)."""
    radius = int(4.0 * sigma + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    w = np.exp(-0.5 * x * x / (sigma * sigma))
    return (w / w.sum()).astype(np.float32)


def soft_mask(mask: torch.Tensor, radius: int = 7, sigma: float = 5.0) -> torch.Tensor:
    """Binarise, dilate (disk), blur (Gaussian), normalise by min/max: ``(B,1,h,w)`` -> ``(B,1,h,w)``.

    The reference binarises through 8 bits (``uint8(255·m) > 0``, i.e. ``m ≥ 1/255``). An empty
    mask gives zeros (the reference divides by zero there).
    """
    binary = (mask.float() * 255 >= 1).float()
    if radius > 0:
        disk = torch.from_numpy(_disk(radius)).to(mask.device)[None, None]
        binary = (F.conv2d(binary, disk, padding=radius) > 0.5).float()
    g = binary
    if sigma > 0:
        k = torch.from_numpy(_gauss(sigma)).to(mask.device)
        r = (k.numel() - 1) // 2
        g = F.conv2d(F.pad(g, (r, r, 0, 0), mode="replicate"), k.view(1, 1, 1, -1))
        g = F.conv2d(F.pad(g, (0, 0, r, r), mode="replicate"), k.view(1, 1, -1, 1))
    lo = g.amin(dim=(2, 3), keepdim=True)
    hi = g.amax(dim=(2, 3), keepdim=True)
    span = hi - lo
    out = torch.where(span > 0, (g - lo) / span.clamp_min(1e-12), (hi > 0).float().expand_as(g))
    return out.clamp(0, 1)


class Harmonized(NamedTuple):
    image: torch.Tensor
    """``(B, C, H, W)`` at frame size (or training size when not ``frame_size``)."""
    mask: torch.Tensor
    """The soft mask ``(B, 1, ·, ·)`` at the same size as ``image``."""
    generated: torch.Tensor
    """Raw pyramid output at training size ``(B, 3, h_N, w_N)`` in [0, 1]."""
    training: torch.Tensor
    """The blend at training size ``(B, 3, h_N, w_N)``."""


def harmonize(model: SinGANModel, composite: torch.Tensor, mask: torch.Tensor, n: int, *,
              generator: torch.Generator, radius: int = 7, sigma: float = 5.0,
              frame_size: bool = True, upsample: Upsample = "generated", chunk: int = 8) -> Harmonized:
    """Harmonize a batch of composites at injection scale ``n`` (1 ≤ n ≤ N).

    composite: ``(B, C, H, W)`` in [0, 1] (C = 3 or 4; alpha passes through);
    mask: ``(B or 1, 1, H or 1, W or 1)``: a still mask is softened once and shared by all frames.
    One noise map per scale, drawn from ``generator``, is shared by all frames, so identical
    frames give identical results.
    """
    model.check_scale(n)
    B, C, H, W = composite.shape
    size = model.sizes[-1]
    rgb = composite[:, :3]
    comp_t = resize_to(rgb, size)
    m_t = soft_mask(resize_to(mask.expand(-1, 1, H, W), size), radius, sigma)
    generated = regenerate(model, comp_t, n, generator=generator, chunk=chunk)
    with torch.inference_mode():
        blend_t = torch.where(m_t > 0, (1 - m_t) * comp_t + m_t * generated, comp_t)
        if not frame_size or size == (H, W):
            out = blend_t
            if C == 4:
                out = torch.cat([out, resize_to(composite[:, 3:], size)], dim=1)
            return Harmonized(out, m_t.expand(B, -1, -1, -1), generated, blend_t)
        m_f = imresize(m_t, size=(H, W)).clamp(0, 1)
        if upsample == "detail":
            gen_f = (rgb + imresize(generated - comp_t, size=(H, W))).clamp(0, 1)
        else:
            gen_f = imresize(generated, size=(H, W)).clamp(0, 1)
        out = torch.where(m_f > 0, (1 - m_f) * rgb + m_f * gen_f, rgb)
        if C == 4:
            out = torch.cat([out, composite[:, 3:]], dim=1)
        return Harmonized(out, m_f.expand(B, -1, -1, -1), generated, blend_t)


def valid_scales(model: SinGANModel) -> list[int]:
    """Injection scales a model supports: ``max(1, first_scale) … N``."""
    return list(range(max(1, model.first_scale), model.N + 1))


def contact_sheet(tiles: list[torch.Tensor], labels: list[str], columns: int | None = None,
                  label_height: int = 14, gap: int = 2) -> torch.Tensor:
    """Grid of ``(B, 3, h, w)`` tiles with a text strip over each: ``(B, 3, H', W')``."""
    b, c, h, w = tiles[0].shape
    cols = columns or min(len(tiles), 4)
    rows = math.ceil(len(tiles) / cols)
    cell_h, cell_w = h + label_height + gap, w + gap
    sheet = torch.zeros((b, c, rows * cell_h - gap, cols * cell_w - gap), dtype=tiles[0].dtype,
                        device=tiles[0].device)
    for i, (tile, text) in enumerate(zip(tiles, labels, strict=True)):
        r, q = divmod(i, cols)
        y, x = r * cell_h, q * cell_w
        strip = _text_strip(text, w, label_height).to(sheet.device, sheet.dtype)
        sheet[:, :, y:y + label_height, x:x + w] = strip
        sheet[:, :, y + label_height:y + label_height + h, x:x + w] = tile
    return sheet


@lru_cache(maxsize=64)
def _text_strip_np(text: str, width: int, height: int) -> np.ndarray:
    from PIL import Image, ImageDraw

    img = Image.new("L", (width, height), 0)
    ImageDraw.Draw(img).text((2, max(0, (height - 11) // 2)), text, fill=255)
    return np.asarray(img, dtype=np.float32) / 255.0


def _text_strip(text: str, width: int, height: int) -> torch.Tensor:
    return torch.from_numpy(_text_strip_np(text, width, height).copy())[None, None]


def harmonize_all_scales(model: SinGANModel, composite: torch.Tensor, mask: torch.Tensor, *,
                         seed: int, radius: int = 7, sigma: float = 5.0,
                         done: dict[int, torch.Tensor] | None = None) -> torch.Tensor:
    """Harmonization for every valid n at training size, as a labelled contact sheet.

    Each n uses a generator seeded with ``seed`` so the sheet matches the single-n outputs;
    ``done`` maps scales already harmonized (their ``Harmonized.training``) to reuse them.
    """
    tiles, labels = [], []
    for n in valid_scales(model):
        tile = (done or {}).get(n)
        if tile is None:
            g = torch.Generator()
            g.manual_seed(seed)
            tile = harmonize(model, composite, mask, n, generator=g, radius=radius, sigma=sigma,
                             frame_size=False).training
        tiles.append(tile)
        labels.append(f"scale = {n}")
    return contact_sheet(tiles, labels)
