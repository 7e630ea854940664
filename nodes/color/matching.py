"""Colour statistics transfer: weighted mean/std and histogram matching, batched in torch.

Shapes: ``x`` ``(B, C, H, W)``, weights ``(B, 1, H, W)`` in [0, 1] (a soft region); every
batch element and channel is matched on its own. Values are expected in [0, 1] (packed Lab).
"""

from __future__ import annotations

import torch

EPS = 1e-6


def weighted_mean_std(x: torch.Tensor, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and standard deviation over the weighted region -> ``(B, C, 1, 1)`` each."""
    total = w.sum(dim=(2, 3), keepdim=True).clamp_min(EPS)
    mean = (x * w).sum(dim=(2, 3), keepdim=True) / total
    var = ((x - mean) ** 2 * w).sum(dim=(2, 3), keepdim=True) / total
    return mean, var.clamp_min(0).sqrt()


def match_mean_std(x: torch.Tensor, w_x: torch.Tensor, ref: torch.Tensor, w_ref: torch.Tensor) -> torch.Tensor:
    """Shift and scale each channel so its region's mean/std equal the reference region's.

    The classical colour-transfer baseline (Reinhard et al. 2001, here in CIE Lab).
    """
    mx, sx = weighted_mean_std(x, w_x)
    mr, sr = weighted_mean_std(ref, w_ref)
    return (x - mx) * (sr / sx.clamp_min(EPS)) + mr


def interp(x: torch.Tensor, xp: torch.Tensor, fp: torch.Tensor) -> torch.Tensor:
    """Batched ``numpy.interp``: ``x (N, P)``, increasing ``xp (N, K)``, ``fp (N, K)`` -> ``(N, P)``."""
    k = xp.shape[-1]
    idx = torch.searchsorted(xp.contiguous(), x.contiguous(), right=True).clamp(1, k - 1)
    x0, x1 = xp.gather(-1, idx - 1), xp.gather(-1, idx)
    f0, f1 = fp.gather(-1, idx - 1), fp.gather(-1, idx)
    t = ((x - x0) / (x1 - x0).clamp_min(EPS)).clamp(0, 1)
    return f0 + t * (f1 - f0)


def weighted_cdf(x: torch.Tensor, w: torch.Tensor, bins: int) -> torch.Tensor:
    """Cumulative weighted histogram at the ``bins + 1`` bin edges of [0, 1] -> ``(B, C, bins + 1)``."""
    b, c = x.shape[:2]
    idx = (x.clamp(0, 1) * bins).long().clamp(max=bins - 1).flatten(2)
    weights = w.expand(b, c, *x.shape[2:]).flatten(2).to(x.dtype)
    hist = torch.zeros(b, c, bins, dtype=x.dtype, device=x.device).scatter_add_(2, idx, weights)
    cdf = torch.cat([torch.zeros_like(hist[..., :1]), hist.cumsum(-1)], dim=-1)
    return cdf / cdf[..., -1:].clamp_min(EPS)


def match_histogram(x: torch.Tensor, w_x: torch.Tensor, ref: torch.Tensor, w_ref: torch.Tensor,
                    bins: int = 512) -> torch.Tensor:
    """Map each channel through its CDF and the reference's inverse CDF (piecewise linear)."""
    b, c, h, wd = x.shape
    edges = torch.linspace(0, 1, bins + 1, device=x.device, dtype=x.dtype).expand(b * c, bins + 1)
    cdf_x = weighted_cdf(x, w_x, bins).reshape(b * c, bins + 1)
    cdf_r = weighted_cdf(ref, w_ref, bins).reshape(b * c, bins + 1)
    # a strictly increasing reference CDF keeps the inverse well defined across empty bins
    ramp = torch.linspace(0, EPS, bins + 1, device=x.device, dtype=x.dtype)
    u = interp(x.reshape(b * c, h * wd), edges, cdf_x)
    out = interp(u, cdf_r + ramp, edges)
    return out.reshape(b, c, h, wd)
