"""Chroma keying in the YCbCr chroma plane: distance to the key colour -> matte, plus spill removal.

Working on chroma (Cb, Cr) rather than RGB makes the key insensitive to the brightness
variations of an unevenly lit screen, while shadows and highlights on the subject (near-neutral
chroma) stay far from a saturated key colour.
"""

from __future__ import annotations

import kornia.color as kc
import torch


def _chroma(rgb: torch.Tensor) -> torch.Tensor:
    """``(B, 3, H, W)`` sRGB -> ``(B, 2, H, W)`` Cb, Cr centred on 0 (range about +-0.5)."""
    return kc.rgb_to_ycbcr(rgb)[:, 1:] - 0.5


def _key_chroma(key: tuple[float, ...], like: torch.Tensor) -> torch.Tensor:
    k = torch.tensor(key[:3], dtype=like.dtype, device=like.device).view(1, 3, 1, 1)
    return _chroma(k)


def key_distance(rgb: torch.Tensor, key: tuple[float, ...], min_saturation: float = 0.4) -> torch.Tensor:
    """How far each pixel's chroma is from the key's, ``(B, 1, H, W)``, in units of the key's
    own saturation (its chroma distance from grey).

    The reference is not the key point alone but the ray from it outwards and inwards down to
    ``min_saturation`` times its saturation: a screen that is lit unevenly, or that is less
    saturated than the key colour picked (pure green for a real screen), has the key's hue at
    varying saturations and still counts as key. Near-grey pixels stay far from it.
    """
    k = _key_chroma(key, rgb)
    norm = k.norm(dim=1, keepdim=True).clamp_min(1e-3)
    direction = k / norm
    c = _chroma(rgb)
    along = (c * direction).sum(dim=1, keepdim=True).clamp_min(min_saturation * norm)
    return (c - along * direction).norm(dim=1, keepdim=True) / norm


def chroma_matte(rgb: torch.Tensor, key: tuple[float, ...], tolerance: float, softness: float) -> torch.Tensor:
    """Alpha ``(B, 1, H, W)``: 0 within ``tolerance`` of the key (see :func:`key_distance`),
    1 beyond ``tolerance + softness``, a linear ramp between."""
    d = key_distance(rgb, key)
    if softness <= 0:
        return (d > tolerance).to(rgb.dtype)
    return ((d - tolerance) / softness).clamp(0, 1)


def suppress_spill(rgb: torch.Tensor, key: tuple[float, ...], amount: float) -> torch.Tensor:
    """Remove the key colour's cast (green bounce light on hair and edges).

    The pixel's chroma component along the key's chroma direction, when positive, is removed
    (times ``amount``); luma is unchanged, so the spill turns neutral instead of dark.
    """
    if amount <= 0:
        return rgb
    ycc = kc.rgb_to_ycbcr(rgb)
    c = ycc[:, 1:] - 0.5
    k = _key_chroma(key, rgb)
    direction = k / k.norm(dim=1, keepdim=True).clamp_min(1e-6)
    along = (c * direction).sum(dim=1, keepdim=True).clamp_min(0)
    c = c - amount * along * direction
    return kc.ycbcr_to_rgb(torch.cat([ycc[:, :1], c + 0.5], dim=1)).clamp(0, 1)
