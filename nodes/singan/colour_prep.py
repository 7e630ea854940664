"""Colour/lighting first: match the pasted subject's Lab statistics to the scene right around it.

SinGAN's generators are residual and local: injected at a scale that keeps the person, they
redraw texture and grain but barely move a region's mean colour, so an orange suit stays a clash
(issue 10). Doing the colour step first, with the classical mean/std transfer (Reinhard et al.)
measured against a *ring* of scene around the subject rather than the whole frame, leaves the
pyramid only the texture to do. ``strength`` < 1 keeps part of the subject's own colour (a
subject may rightly differ from its surroundings).
"""

from __future__ import annotations

import torch

from ..color.convert import lab01_to_rgb, rgb_to_lab01
from ..color.matching import weighted_mean_std
from .quality import binary, ring

EPS = 1e-4


def match_to_surroundings(rgb: torch.Tensor, mask: torch.Tensor, *, strength: float = 1.0,
                          std_strength: float | None = None, width: int | None = None) -> torch.Tensor:
    """Move the subject's per-channel Lab mean (and std) towards its ring's, frame by frame.

    rgb ``(B, 3, H, W)``, mask ``(B or 1, 1, H, W)`` (the paste's alpha); returns ``(B, 3, H, W)``.
    Only pixels with alpha > 0 change (blended by alpha), so the scene stays bit-identical.
    ``std_strength`` (default ``strength``) scales the contrast change separately: contrast
    carries the subject's detail, the mean carries the colour cast.
    """
    if strength <= 0 and not std_strength:
        return rgb
    m = mask.expand(rgb.shape[0], 1, -1, -1)
    if not bool((binary(m).flatten(1).sum(1) > 0).all()):
        return rgb
    lab = rgb_to_lab01(rgb)
    ms, ss = weighted_mean_std(lab, binary(m))
    mr, sr = weighted_mean_std(lab, ring(m, width))
    ks = strength if std_strength is None else std_strength
    gain = 1 + ks * (sr / ss.clamp_min(EPS) - 1)
    target_mean = ms + strength * (mr - ms)
    matched = (lab - ms) * gain + target_mean
    out = lab01_to_rgb(matched).clamp(0, 1)
    return rgb + m * (out - rgb)

def _to_linear(x: torch.Tensor) -> torch.Tensor:
    return torch.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def _to_srgb(x: torch.Tensor) -> torch.Tensor:
    x = x.clamp(0, 1)
    return torch.where(x <= 0.0031308, 12.92 * x, 1.055 * x.clamp_min(1e-12) ** (1 / 2.4) - 0.055)


def relight_gains(rgb: torch.Tensor, mask: torch.Tensor, *, strength: float = 0.6, width: int | None = None,
                  cast: float = 1.0, light: float | None = None) -> torch.Tensor:
    """The per-channel linear-RGB gains :func:`relight_to_surroundings` applies, ``(B, 3, 1, 1)``.

    ``(ring mean / subject mean) ** strength`` per channel (von Kries). ``cast`` < 1 splits the
    ratio into brightness (the luminance ratio, taken fully) and colour cast (what is left per
    channel, taken ``cast`` of the way): measured on the demo scenes (issue 10), the full
    per-channel gain against a blue night sky or a green-grey field turns skin green, which a
    person reads as wrong long before the light. ``light`` (default ``strength``) is the exponent of
    the brightness ratio alone: a dark night-sky ring is not the light that falls on a lit subject,
    and taking its brightness fully turns a face grey (issue 10). Ones where the mask is empty.
    """
    m = mask.expand(rgb.shape[0], 1, -1, -1)
    if strength <= 0 or not bool((binary(m).flatten(1).sum(1) > 0).all()):
        return torch.ones(rgb.shape[0], 3, 1, 1, dtype=rgb.dtype, device=rgb.device)
    lin = _to_linear(rgb.clamp(0, 1))
    ms, _ = weighted_mean_std(lin, binary(m))
    mr, _ = weighted_mean_std(lin, ring(m, width))
    ratio = mr.clamp_min(1e-4) / ms.clamp_min(1e-4)
    if cast == 1 and light is None:
        return ratio ** strength
    y = LUMA.to(lin)
    bright = (mr * y).sum(dim=1, keepdim=True).clamp_min(1e-4) / (ms * y).sum(dim=1, keepdim=True).clamp_min(1e-4)
    if light is None:
        return (bright * (ratio / bright) ** cast) ** strength
    return bright ** light * (ratio / bright) ** (cast * strength)


def apply_gains(rgb: torch.Tensor, mask: torch.Tensor, gains: torch.Tensor) -> torch.Tensor:
    """Multiply the subject's linear RGB by ``gains`` (``(B or 1, 3, 1, 1)``), blended by alpha."""
    m = mask.expand(rgb.shape[0], 1, -1, -1)
    out = _to_srgb(_to_linear(rgb.clamp(0, 1)) * gains.to(rgb))
    return rgb + m * (out - rgb)


def relight_to_surroundings(rgb: torch.Tensor, mask: torch.Tensor, *, strength: float = 0.6,
                            width: int | None = None, cast: float = 1.0, light: float | None = None) -> torch.Tensor:
    """Re-light the subject like the scene's light would: per-channel gains in linear RGB (von Kries).

    The subject takes part of the surroundings' brightness and colour cast while its own hues and
    contrast ratios stay (:func:`relight_gains`). Only alpha > 0 changes.
    """
    if strength <= 0:
        return rgb
    m = mask.expand(rgb.shape[0], 1, -1, -1)
    if not bool((binary(m).flatten(1).sum(1) > 0).all()):
        return rgb
    return apply_gains(rgb, m, relight_gains(rgb, m, strength=strength, width=width, cast=cast, light=light))


LUMA = torch.tensor([0.2126, 0.7152, 0.0722]).view(1, 3, 1, 1)
"""Linear-RGB luminance weights (Rec. 709)."""


__all__ = ["apply_gains", "match_to_surroundings", "relight_gains", "relight_to_surroundings"]
