"""Running an image-to-image generator on frames of any size: autocast, pad/crop, resize, tiles.

Generators only accept sizes that are multiples of their total stride (4 for the ResNet
generators, ``2**num_downs`` for U-Nets). ``run_padded`` pads (reflect, or replicate when the
pad exceeds the image) to that multiple and crops back; ``run_tiled`` covers big frames with
overlapping tiles blended by feathered weights, bounding memory. ``resolution="model"`` runs the
fully-convolutional generator near its training scale: the frame is resized, aspect kept, so its
longest side is ``net_size``, then padded; never stretched to a square.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

Precision = Literal["auto", "fp32", "fp16", "bf16"]


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """fp16 ('auto'/'fp16') or bf16 autocast on CUDA; bf16 on CPU only when asked; else nothing."""
    if device.type == "cuda" and precision != "fp32":
        dtype = torch.bfloat16 if precision == "bf16" else torch.float16
        return torch.autocast("cuda", dtype=dtype)
    if device.type == "cpu" and precision == "bf16":
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _bn_per_image(module: nn.BatchNorm2d, x: Tensor) -> Tensor:
    return F.instance_norm(x, weight=module.weight, bias=module.bias, use_input_stats=True, eps=module.eps)


@contextlib.contextmanager
def batch_norm_per_image(net: nn.Module, enabled: bool = True) -> Iterator[None]:
    """Normalise BatchNorm layers with each image's own statistics (running stats untouched).

    That is what the reference's ``test.py`` does without ``--eval`` (train-mode BatchNorm on a
    batch of one), here independent of how frames are batched.
    """
    patched = []
    if enabled:
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.forward = functools.partial(_bn_per_image, m)  # type: ignore[method-assign]
                patched.append(m)
    try:
        yield
    finally:
        for m in patched:
            del m.forward


def resize(x: Tensor, size: tuple[int, int]) -> Tensor:
    """Bicubic (antialiased when shrinking) resize of ``(B, C, H, W)`` to ``size`` = (H', W')."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode="bicubic", align_corners=False, antialias=True)


def model_size(h: int, w: int, net_size: int) -> tuple[int, int]:
    """``(h, w)`` scaled, aspect kept, so the longest side is ``net_size`` (each side at least 1)."""
    s = net_size / max(h, w)
    return max(1, round(h * s)), max(1, round(w * s))


def pad_to_multiple(x: Tensor, multiple: int) -> tuple[Tensor, tuple[slice, slice]]:
    """Pad ``(B, C, H, W)`` symmetrically to multiples of ``multiple``; returns (padded, crop slices)."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph == 0 and pw == 0:
        return x, (slice(0, h), slice(0, w))
    top, left = ph // 2, pw // 2
    mode = "reflect" if ph < h and pw < w else "replicate"
    padded = F.pad(x, (left, pw - left, top, ph - top), mode=mode)
    return padded, (slice(top, top + h), slice(left, left + w))


def run_padded(fn: Callable[[Tensor], Tensor], x: Tensor, multiple: int) -> Tensor:
    padded, (ys, xs) = pad_to_multiple(x, multiple)
    return fn(padded)[..., ys, xs]


def _starts(length: int, tile: int, step: int) -> list[int]:
    if length <= tile:
        return [0]
    starts = list(range(0, length - tile, step))
    return [*starts, length - tile]


def _ramp(length: int, overlap: int, device: torch.device) -> Tensor:
    pos = torch.arange(length, device=device, dtype=torch.float32)
    if overlap <= 0:
        return torch.ones(length, device=device)
    return torch.minimum(torch.ones_like(pos), torch.minimum(pos + 0.5, length - pos - 0.5) / overlap)


def run_tiled(fn: Callable[[Tensor], Tensor], x: Tensor, multiple: int, tile: int, overlap: int) -> Tensor:
    """Apply ``fn`` to overlapping ``tile`` x ``tile`` windows and blend them (feathered overlaps).

    ``fn`` maps ``(B, C, h, w) -> (B, C', h, w)``. Tiles are rounded up to ``multiple``; a frame
    no larger than one tile is run whole (identical to :func:`run_padded`).
    """
    h, w = x.shape[-2:]
    tile = max(multiple, -(-tile // multiple) * multiple)
    if h <= tile and w <= tile:
        return run_padded(fn, x, multiple)
    overlap = max(0, min(overlap, tile // 2))
    step = tile - overlap
    out: Tensor | None = None
    weight = torch.zeros((1, 1, h, w), device=x.device)
    for top in _starts(h, tile, step):
        for left in _starts(w, tile, step):
            window = x[..., top:top + tile, left:left + tile]
            y = run_padded(fn, window, multiple).float()
            th, tw = y.shape[-2:]
            wgt = _ramp(th, overlap, x.device)[:, None] * _ramp(tw, overlap, x.device)[None, :]
            if out is None:
                out = torch.zeros((x.shape[0], y.shape[1], h, w), device=x.device)
            out[..., top:top + th, left:left + tw] += y * wgt
            weight[..., top:top + th, left:left + tw] += wgt
    assert out is not None
    return out / weight


def run_generator(net: nn.Module, x: Tensor, *, multiple: int, net_size: int, resolution: str = "full",
                  tile: int = 0, overlap: int = 32, precision: str = "auto", per_image_norm: bool = False
                  ) -> Tensor:
    """Generator output for ``x`` ``(B, C, H, W)`` in [-1, 1], float32.

    ``resolution="model"``: run at :func:`model_size` (longest side ``net_size``, aspect kept, padded
    to ``multiple``; the output stays that size: the caller decides what to resize); ``"full"``:
    padded to ``multiple`` (or tiled when ``tile`` > 0) and cropped back to ``H, W``.
    """
    with torch.no_grad(), autocast(x.device, precision), batch_norm_per_image(net, per_image_norm):
        if resolution == "model":
            y = run_padded(net, resize(x, model_size(*x.shape[-2:], net_size)), multiple)
        elif tile > 0:
            y = run_tiled(net, x, multiple, tile, overlap)
        else:
            y = run_padded(net, x, multiple)
    return y.float()
