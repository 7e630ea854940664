"""Frame bookkeeping shared by the frame sources and the exporters."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from nodeflow.context import RunContext
from nodeflow.errors import NodeError

_DIGITS = re.compile(r"(\d+)")


def natural_key(path: Path | str) -> list[object]:
    """Sort key where ``frame2`` < ``frame10`` (digit runs compare as numbers)."""
    parts = _DIGITS.split(str(path))
    return [int(p) if p.isdigit() else p.lower() for p in parts]


def select(total: int, first: int, last: int | None, step: int) -> range:
    """Indices ``first, first + step, ... <= last`` within ``0 .. total - 1`` (last None = to the end)."""
    end = total if last is None else min(total, last + 1)
    return range(first, max(first, end), step)


def run_frames(ctx: RunContext) -> tuple[int, ...]:
    """The run frames of this batch (a frame source is always called with ``ctx.frames``)."""
    if ctx.frames is None:
        raise NodeError("a frame source was run without frames", hint="this is an engine bug")
    return ctx.frames


def uint8_to_image(frames: Sequence[np.ndarray], device: torch.device) -> torch.Tensor:
    """``(H, W, C)`` uint8 arrays -> ``(B, C, H, W)`` float32 in [0, 1] on ``device``.

    The uint8 batch crosses to the device first (4x less traffic), then converts there.
    """
    batch = torch.from_numpy(np.stack(frames)).to(device, non_blocking=True)
    return batch.permute(0, 3, 1, 2).float().div_(255.0).contiguous()


def image_to_uint8(image: torch.Tensor) -> np.ndarray:
    """``(B, C, H, W)`` in [0, 1] -> ``(B, H, W, C)`` uint8 on the host (one transfer)."""
    return (image.clamp(0, 1) * 255.0).round_().to(torch.uint8).permute(0, 2, 3, 1).contiguous().cpu().numpy()


def stack_frames(images: Sequence[torch.Tensor], names: Sequence[str]) -> torch.Tensor:
    """Concatenate ``(1, C, H, W)`` frames; RGB is promoted to RGBA when others have alpha;
    a frame of another size is an error naming it."""
    h, w = images[0].shape[-2:]
    for img, name in zip(images, names, strict=True):
        if tuple(img.shape[-2:]) != (h, w):
            raise NodeError(f"frame {name} is {img.shape[-1]}x{img.shape[-2]}, the first is {w}x{h}",
                            field="path", hint="all frames of a clip must have one size")
    if len({img.shape[1] for img in images}) > 1:
        images = [img if img.shape[1] == 4 else torch.cat([img, torch.ones_like(img[:, :1])], 1)
                  for img in images]
    return torch.cat(list(images), dim=0)
