"""Target-size arithmetic shared by Resize, Crop and Pad (pure functions on ints)."""

from __future__ import annotations

import math
from typing import Literal

Rounding = Literal["nearest", "up", "down"]


def round_to_multiple(value: float, multiple: int, rounding: Rounding = "nearest") -> int:
    """Round ``value`` to a positive multiple of ``multiple`` (e.g. 2^k for a U-Net)."""
    if multiple <= 1:
        n = {"nearest": round, "up": math.ceil, "down": math.floor}[rounding](value)
        return max(1, int(n))
    q = value / multiple
    n = {"nearest": round, "up": math.ceil, "down": math.floor}[rounding](q)
    return max(1, int(n)) * multiple


def fit_size(src: tuple[int, int], box: tuple[int, int], fit: str) -> tuple[float, float]:
    """Size ``(h, w)`` of ``src`` resized into ``box = (h, w)``.

    ``stretch`` takes the box as is; ``contain`` keeps the aspect ratio inside the box;
    ``cover`` keeps the aspect ratio and covers the box (crop afterwards to fill it exactly).
    """
    sh, sw = src
    bh, bw = box
    if fit == "stretch":
        return float(bh), float(bw)
    s = min(bh / sh, bw / sw) if fit == "contain" else max(bh / sh, bw / sw)
    return sh * s, sw * s
