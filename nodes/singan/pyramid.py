"""SinGAN's image pyramid: how many scales, which factor, which sizes.

The sizes must equal the reference's (``adjust_scales2image`` + ``creat_reals_pyramid``) so that
a scale number ``n`` means the same thing here, in the paper's figures and in imported reference
models. The recipe, for an ``H × W`` image, ``min_size`` 25, ``max_size`` 250 and an initial factor
``r`` 0.75:

- ``num_scales = ceil(log_r(min_size / min(H, W))) + 1`` (counted on the *original* image),
- ``stop_scale = num_scales - ceil(log_r(min(max_size, max(H, W)) / max(H, W)))``,
- the image is resized by ``scale1 = min(max_size / max(H, W), 1)`` to ``ceil(H·scale1) × …``,
- the factor is re-fitted so the coarsest short side is ``min_size``:
  ``scale_factor = (min_size / min(h1, w1)) ** (1 / stop_scale)``,
- scale ``i`` (0 = coarsest … ``stop_scale`` = finest) is ``ceil(h1 · scale_factor^(stop_scale-i))``.

So there are ``N + 1 = stop_scale + 1`` scales, numbered 0 … N; harmonization injects at 1 … N.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .imresize import imresize, imresize_8bit


@dataclass(frozen=True)
class PyramidPlan:
    """Sizes of a SinGAN pyramid, coarsest first: ``sizes[i] = (h_i, w_i)``."""

    scale1: float
    """Factor from the input image to the finest scale (≤ 1)."""
    num_scales: int
    stop_scale: int
    """N: the index of the finest scale (there are N + 1 scales)."""
    scale_factor: float
    """The re-fitted factor between consecutive scales (< 1)."""
    sizes: tuple[tuple[int, int], ...]

    @property
    def finest(self) -> tuple[int, int]:
        return self.sizes[-1]


def plan_pyramid(height: int, width: int, *, min_size: int = 25, max_size: int = 250,
                 scale_factor: float = 0.75) -> PyramidPlan:
    """The reference's pyramid for an ``height × width`` image (see the module docstring)."""
    if not 0 < scale_factor < 1:
        raise ValueError(f"scale_factor must lie in (0, 1), got {scale_factor}")
    short, long = min(height, width), max(height, width)
    num_scales = math.ceil(math.log(min_size / short, scale_factor)) + 1
    scale2stop = math.ceil(math.log(min(max_size, long) / long, scale_factor))
    stop_scale = num_scales - scale2stop
    scale1 = min(max_size / long, 1)
    h1, w1 = (math.ceil(height * scale1), math.ceil(width * scale1)) if scale1 != 1 else (height, width)
    if stop_scale < 1 or min(h1, w1) <= min_size:
        raise ValueError(f"a {height}×{width} image resized to {h1}×{w1} leaves no room for a pyramid "
                         f"from min_size {min_size}: use a larger image or a smaller min_size")
    factor = math.pow(min_size / min(h1, w1), 1 / stop_scale)
    sizes = []
    for i in range(stop_scale + 1):
        s = math.pow(factor, stop_scale - i)
        sizes.append((math.ceil(h1 * s), math.ceil(w1 * s)))
    return PyramidPlan(scale1, num_scales, stop_scale, factor, tuple(sizes))


def build_pyramid(image: torch.Tensor, plan: PyramidPlan, *, quantize: bool = False) -> list[torch.Tensor]:
    """``(1, 3, H, W)`` in [-1, 1] -> one tensor per scale, coarsest first, clamped to [-1, 1].

    ``quantize``: every resize goes through 8 bits first, as in the reference (:func:`imresize_8bit`).
    """
    def resize(x: torch.Tensor, s: float) -> torch.Tensor:
        return imresize_8bit(x, s).to(x.dtype) if quantize else imresize(x, s).clamp(-1, 1)

    real = image if plan.scale1 == 1 and not quantize else resize(image, plan.scale1)
    reals = []
    for i in range(plan.stop_scale + 1):
        s = math.pow(plan.scale_factor, plan.stop_scale - i)
        r = real if s == 1 and not quantize else resize(real, s)
        if tuple(r.shape[-2:]) != plan.sizes[i]:  # pragma: no cover - guards the formulas above
            raise AssertionError(f"scale {i}: {tuple(r.shape[-2:])} != planned {plan.sizes[i]}")
        reals.append(r.contiguous())
    return reals


def first_input(reals: list[torch.Tensor], first_scale: int, scale_factor: float, *,
                quantize: bool = False) -> torch.Tensor:
    """What the first trained scale sees: zeros at scale 0, else the coarser real one step up."""
    if first_scale == 0:
        return torch.zeros_like(reals[0])
    return upsample_to(reals[first_scale - 1], scale_factor, (reals[first_scale].shape[-2], reals[first_scale].shape[-1]),
                       quantize=quantize)


def upsample_to(x: torch.Tensor, scale_factor: float, size: tuple[int, int], *,
                quantize: bool = False) -> torch.Tensor:
    """One step up the pyramid: resize by ``1/scale_factor``, clamp, crop to ``size``.

    ``quantize``: through 8 bits first, as the reference does (models imported from it).
    ``ceil(h_i / r) ≥ h_{i+1}`` always holds for the planned sizes, so the crop never pads; samples
    at another size/aspect can fall a pixel short, and are then stretched to ``size``.
    """
    up = imresize_8bit(x, 1.0 / scale_factor) if quantize else imresize(x, 1.0 / scale_factor).clamp(-1, 1)
    up = up[..., : size[0], : size[1]]
    if tuple(up.shape[-2:]) != tuple(size):
        up = F.interpolate(up, size=tuple(size), mode="bilinear", align_corners=True)
    return up
