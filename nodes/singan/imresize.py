"""MATLAB-style bicubic resize with antialiasing, as SinGAN's pyramid uses it.

SinGAN builds its pyramid, upsamples between scales and prepares harmonization inputs with the
resizer of Shocher et al. (a port of MATLAB's ``imresize``): a cubic kernel (a = -0.5) that is
stretched by ``1/scale`` when downscaling (antialiasing), weights normalised per output pixel.
A scale factor gives ``ceil(size * scale)`` output pixels while the sampling grid follows the
factor itself, which is why SinGAN crops after every upsampling.

Here each axis is one dense ``(out, in)`` weight matrix, so a resize is two matrix products on
any device, batched, differentiable, with no per-pixel Python. Boundaries follow the reference
as it actually runs: taps past the bottom/right edge reflect (the edge pixel repeated), taps
before the top/left edge get weight 0 and the remaining weights are renormalised (the reference
casts negative indices to unsigned integers, which zeroes their weights).

The reference also converts every image to 8 bits before each resize (``torch2uint8``:
``(x + 1) / 2 · 255`` truncated to ``uint8``), resizes those integers in float64 and maps the
result back (``/ 255``, ``(v - 0.5) · 2``, clamped). :func:`imresize_8bit` does exactly that, for
models imported from the reference (so they reproduce its outputs) and as an option for training;
:func:`imresize` itself does not quantise and callers clamp where SinGAN clamps.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch


def _cubic(x: np.ndarray) -> np.ndarray:
    ax = np.abs(x)
    ax2 = ax * ax
    ax3 = ax2 * ax
    return ((1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1)
            + (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * ((ax > 1) & (ax <= 2)))


@lru_cache(maxsize=256)
def resize_weights(in_len: int, out_len: int, scale: float, antialias: bool = True) -> np.ndarray:
    """The ``(out_len, in_len)`` float64 matrix that resizes one axis by ``scale``."""
    if in_len < 1 or out_len < 1:
        raise ValueError(f"cannot resize an axis of {in_len} pixels to {out_len}")
    aa = antialias and scale < 1
    width = 4.0 / scale if aa else 4.0
    out = np.arange(1, out_len + 1, dtype=np.float64)
    match = out / scale + 0.5 * (1 - 1.0 / scale)
    left = np.floor(match - width / 2)
    taps = math.ceil(width) + 2
    fov = left[:, None] + np.arange(taps)[None, :] - 1  # 0-based input positions
    dist = match[:, None] - fov - 1
    w = scale * _cubic(scale * dist) if aa else _cubic(dist)
    w = np.where(fov < 0, 0.0, w)
    sums = w.sum(axis=1, keepdims=True)
    sums[sums == 0] = 1.0
    w = w / sums
    period = 2 * in_len
    j = np.mod(np.maximum(fov, 0), period).astype(np.int64)
    idx = np.where(j < in_len, j, period - 1 - j)
    mat = np.zeros((out_len, in_len), dtype=np.float64)
    np.add.at(mat, (np.repeat(np.arange(out_len), taps), idx.ravel()), w.ravel())
    return mat


@lru_cache(maxsize=512)
def _matrix(in_len: int, out_len: int, scale: float, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """The ``(out_len, in_len)`` weights on ``device`` (training reuses a handful of them every step).

    Made outside inference mode: the cached tensor is shared by inference (harmonize) and by
    training in the same process, and autograd refuses inference tensors."""
    with torch.inference_mode(False):
        return torch.from_numpy(resize_weights(in_len, out_len, scale)).to(device=device, dtype=dtype)


def resize_to(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize ``[0, 1]`` images ``(B, C, H, W)`` to ``size = (h, w)``, clamped (unchanged at that size)."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return imresize(x, size=size).clamp(0, 1)


def output_size(size: tuple[int, int], scale: float) -> tuple[int, int]:
    """``ceil(size * scale)`` per axis, in the same float arithmetic as the reference."""
    return math.ceil(size[0] * scale), math.ceil(size[1] * scale)


def imresize(x: torch.Tensor, scale: float | None = None, size: tuple[int, int] | None = None) -> torch.Tensor:
    """Resize ``(B, C, H, W)`` by ``scale`` (to ``ceil(H*scale), ceil(W*scale)``) or to ``size``.

    With ``size`` each axis uses its own factor ``out/in`` (the reference's ``imresize_to_shape``).
    Values are not clamped.
    """
    h, w = x.shape[-2:]
    if size is None:
        if scale is None:
            raise ValueError("give scale or size")
        oh, ow = output_size((h, w), scale)
        sh = sw = float(scale)
    else:
        oh, ow = int(size[0]), int(size[1])
        sh, sw = oh / h, ow / w
    dtype = x.dtype if x.is_floating_point() else torch.float32
    out = x.to(dtype)
    if sh != 1.0:
        out = torch.matmul(_matrix(h, oh, sh, x.device, dtype), out)
    if sw != 1.0:
        out = torch.matmul(out, _matrix(w, ow, sw, x.device, dtype).T)
    return out


def quantize_8bit(x: torch.Tensor) -> torch.Tensor:
    """``[-1, 1]`` -> the reference's ``uint8`` levels 0…255 (as floats): ``⌊255 · clamp((x+1)/2)⌋``.

    Computed in float32 like the reference (``255 * denorm(x)`` then ``astype(np.uint8)``), so a
    value like 254.99998 truncates to 254 there and here alike.
    """
    return torch.floor(255 * ((x.float() + 1) / 2).clamp(0, 1))


def imresize_8bit(x: torch.Tensor, scale: float | None = None, size: tuple[int, int] | None = None) -> torch.Tensor:
    """The reference's ``imresize``: quantise to 8 bits (truncating), resize, back to ``[-1, 1]``.

    ``x``: ``(B, C, H, W)`` in [-1, 1]. The result is clamped to [-1, 1] (the reference's ``norm``)
    and has ``x``'s dtype. The rounding has no gradient; where ``x`` needs one (stages trained
    together), the plain resize's gradient passes through (straight-through).
    """
    # float64 as the reference (numpy) resizes; MPS has no float64, float32 is within 1e-5 of it
    levels = quantize_8bit(x).to(torch.float32 if x.device.type == "mps" else torch.float64)
    out = ((imresize(levels, scale, size) / 255).float() - 0.5) * 2
    out = out.clamp(-1, 1).to(x.dtype)
    if x.requires_grad:
        plain = imresize(x, scale, size).clamp(-1, 1)
        out = plain + (out - plain).detach()
    return out
