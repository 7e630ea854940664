"""GrabCut (OpenCV) seeded by a rectangle or by the image border.

GrabCut is a CPU algorithm: each frame crosses to the host as 8-bit BGR here, and the matte
goes back to the run's device. That round trip is the price of OpenCV's exact graph cut.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import torch


def grabcut_mask(rgb: np.ndarray, rect: tuple[float, float, float, float] | None, border: float,
                 iterations: int, seed: int, bottom: bool = True) -> np.ndarray:
    """One ``(H, W, 3)`` uint8 RGB image -> ``(H, W)`` float32 matte in {0, 1}.

    ``rect = (x, y, w, h)`` as fractions of the size marks "the subject is inside"; without it
    a band of ``border`` (fraction of the shorter side) around the edge is sure background and
    the rest is probably foreground; ``bottom=False`` leaves the bottom edge out of that band
    (a person cut off at the waist touches it).
    """
    h, w = rgb.shape[:2]
    bgr = np.ascontiguousarray(rgb[..., ::-1])
    mask = np.zeros((h, w), np.uint8)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(seed % 2**31)  # OpenCV takes a C int
    if rect is not None:
        x0, y0 = round(rect[0] * w), round(rect[1] * h)
        rw, rh = max(1, round(rect[2] * w)), max(1, round(rect[3] * h))
        rw, rh = min(rw, w - x0), min(rh, h - y0)
        cv2.grabCut(bgr, mask, (x0, y0, rw, rh), bgd, fgd, iterations, cv2.GC_INIT_WITH_RECT)
    else:
        b = max(1, round(border * min(h, w)))
        mask[:] = cv2.GC_PR_FGD
        mask[:b, :] = cv2.GC_BGD
        mask[:, :b] = mask[:, -b:] = cv2.GC_BGD
        if bottom:
            mask[-b:, :] = cv2.GC_BGD
        cv2.grabCut(bgr, mask, None, bgd, fgd, iterations, cv2.GC_INIT_WITH_MASK)
    return ((mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)).astype(np.float32)


def grabcut_batch(rgb: torch.Tensor, rect: tuple[float, float, float, float] | None, border: float,
                  iterations: int, seed: int, bottom: bool = True,
                  progress: Callable[[int, int], None] | None = None) -> torch.Tensor:
    """``(B, 3, H, W)`` -> ``(B, 1, H, W)`` mattes on ``rgb``'s device, one GrabCut per image."""
    frames = (rgb.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    out = []
    for i, frame in enumerate(frames):
        out.append(grabcut_mask(frame, rect, border, iterations, seed, bottom))
        if progress is not None:
            progress(i + 1, len(frames))
    return torch.from_numpy(np.stack(out)[:, None]).to(rgb.device)
