"""Matte operations: grow/shrink, feather (kornia, on device) and region topology (OpenCV).

Shapes: masks ``(B, 1, H, W)`` in [0, 1]. Growing by r px alternates 3x3 square and cross
structuring elements (an octagon, close to a disk of radius r), so the cost is r small
kornia morphology steps rather than one huge kernel.
"""

from __future__ import annotations

import math

import cv2
import kornia.filters as kf
import kornia.morphology as km
import numpy as np
import torch


def _kernels(like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    square = torch.ones(3, 3, dtype=like.dtype, device=like.device)
    cross = torch.tensor([[0, 1, 0], [1, 1, 1], [0, 1, 0]], dtype=like.dtype, device=like.device)
    return square, cross


def grow(mask: torch.Tensor, pixels: int) -> torch.Tensor:
    """Dilate (``pixels`` > 0) or erode (< 0) by ``|pixels|`` px; beyond the border counts as
    background, so erosion also eats in from the frame edge only where the matte touches it."""
    if pixels == 0:
        return mask
    square, cross = _kernels(mask)
    op = km.dilation if pixels > 0 else km.erosion
    out = mask
    for i in range(abs(pixels)):
        out = op(out, cross if i % 2 else square, border_type="geodesic")
    return out


def feather(mask: torch.Tensor, pixels: float) -> torch.Tensor:
    """Soften the edge with a Gaussian of sigma ``pixels / 2`` (the ramp spans about 2x pixels)."""
    if pixels <= 0:
        return mask
    sigma = pixels / 2
    k = min(2 * math.ceil(3 * sigma) + 1, 2 * min(mask.shape[-2:]) - 1)
    if k < 3:
        return mask
    return kf.gaussian_blur2d(mask, (k, k), (sigma, sigma), border_type="replicate").clamp(0, 1)


def _topology(mask: torch.Tensor, fn) -> torch.Tensor:
    """Apply a binary uint8 ``(H, W)`` -> ``(H, W)`` OpenCV function per image (host round trip)."""
    binary = (mask[:, 0] > 0.5).to(torch.uint8).cpu().numpy()
    out = np.stack([fn(m) for m in binary]).astype(np.float32)
    return torch.from_numpy(out[:, None]).to(device=mask.device, dtype=mask.dtype)


def _fill_holes_one(m: np.ndarray) -> np.ndarray:
    # background regions not connected to the border are holes
    _, labels = cv2.connectedComponents(1 - m, connectivity=4)
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    holes = (labels > 0) & ~np.isin(labels, border) & (m == 0)
    return (m.astype(bool) | holes).astype(np.uint8)


def _largest_one(m: np.ndarray) -> np.ndarray:
    n, labels, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
    if n <= 1:
        return m
    biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    return (labels == biggest).astype(np.uint8)


def fill_holes(mask: torch.Tensor) -> torch.Tensor:
    """Binary matte with enclosed background regions filled (threshold 0.5)."""
    return _topology(mask, _fill_holes_one)


def keep_largest(mask: torch.Tensor) -> torch.Tensor:
    """Binary matte with only its largest 8-connected region (threshold 0.5)."""
    return _topology(mask, _largest_one)
