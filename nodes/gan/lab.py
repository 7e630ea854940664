"""sRGB <-> normalised Lab, scaled as the reference colorization model: ``L/50 - 1``, ``ab/110``.

Both directions use kornia (D65, sRGB transfer curve), which agrees with skimage's ``rgb2lab``
(what the reference dataset uses) to ~1e-4 Lab units. Conversions run in float32 even under
autocast: the cube roots and powers are not fp16-safe.
"""

from __future__ import annotations

import kornia
import torch
from torch import Tensor


def rgb_to_lab_norm(rgb: Tensor) -> tuple[Tensor, Tensor]:
    """``(B, 3, H, W)`` sRGB in [0, 1] -> L ``(B, 1, H, W)`` in [-1, 1], ab ``(B, 2, H, W)`` ~[-1, 1]."""
    lab = kornia.color.rgb_to_lab(rgb[:, :3].float().clamp(0, 1))
    return lab[:, :1] / 50.0 - 1.0, lab[:, 1:] / 110.0


def lightness_norm(rgb: Tensor) -> Tensor:
    """Only the L of :func:`rgb_to_lab_norm` (``(B, 1, H, W)`` in [-1, 1]), at a third of the cost.

    sRGB -> linear -> Y (D65, white Y = 1) -> ``L = 116 f(Y) - 16``, the same formulas as kornia.
    """
    rgb = rgb[:, :3].float().clamp(0, 1)
    lin = torch.where(rgb > 0.04045, ((rgb + 0.055) / 1.055).pow(2.4), rgb / 12.92)
    y = 0.212671 * lin[:, 0:1] + 0.715160 * lin[:, 1:2] + 0.072169 * lin[:, 2:3]
    f = torch.where(y > 0.008856, y.clamp(min=0.008856).pow(1 / 3), 7.787 * y + 4 / 29)
    return (116.0 * f - 16.0) / 50.0 - 1.0


def lab_norm_to_rgb(l_norm: Tensor, ab_norm: Tensor) -> Tensor:
    """Inverse of :func:`rgb_to_lab_norm`: ``(B, 1, H, W)`` + ``(B, 2, H, W)`` -> sRGB in [0, 1]."""
    lab = torch.cat([(l_norm.float() + 1.0) * 50.0, ab_norm.float() * 110.0], dim=1)
    return kornia.color.lab_to_rgb(lab, clip=True)
