"""Augmented scenes for the harmonization training mode (in the spirit of ConSinGAN, Hinz et al. 2021).

A harmonization input is the scene with a foreign region in it: wrong colour, wrong brightness,
hard edges. Training the upper stages to map such inputs back to the real scene teaches them
exactly that repair. Each augmented scene has 1–3 regions (ellipses or rectangles, 10–40 % of the
shorter side), each either colour/brightness jittered (per-channel gain and offset, a gamma) or
replaced by a naive paste of a patch from elsewhere in the scene (itself jittered half the time).
Images are ``(1, 3, H, W)`` in [-1, 1], the networks' range.
"""

from __future__ import annotations

import torch


def _u(g: torch.Generator, lo: float, hi: float, n: int = 1) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=g)


def _region(h: int, w: int, g: torch.Generator) -> tuple[torch.Tensor, tuple[int, int, int, int]]:
    """A random ellipse or rectangle: mask ``(1, 1, h, w)`` and its box ``(y, x, rh, rw)``."""
    side = min(h, w)
    rh = max(2, int(_u(g, 0.1, 0.4) * side))
    rw = max(2, int(_u(g, 0.1, 0.4) * side))
    y = int(torch.randint(0, max(1, h - rh), (1,), generator=g))
    x = int(torch.randint(0, max(1, w - rw), (1,), generator=g))
    m = torch.zeros(1, 1, h, w)
    if float(_u(g, 0, 1)) < 0.5:
        m[..., y:y + rh, x:x + rw] = 1
    else:
        yy = (torch.arange(h).view(-1, 1) - (y + rh / 2)) / (rh / 2)
        xx = (torch.arange(w).view(1, -1) - (x + rw / 2)) / (rw / 2)
        m[0, 0] = ((yy ** 2 + xx ** 2) <= 1).float()
    return m, (y, x, rh, rw)


def _jitter(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Per-channel gain and offset around a global brightness change, then a gamma: [0, 1] in and out."""
    brightness = _u(g, 0.6, 1.4)
    gain = brightness * _u(g, 0.75, 1.25, 3)
    offset = _u(g, -0.12, 0.12, 3)
    gamma = _u(g, 0.7, 1.4)
    y = (x * gain.view(1, 3, 1, 1) + offset.view(1, 3, 1, 1)).clamp(0, 1)
    return y.pow(gamma.view(1, 1, 1, 1))


def augment_scene(real: torch.Tensor, seed: int) -> torch.Tensor:
    """The scene with 1–3 foreign regions (deterministic given ``seed``): ``(1, 3, H, W)`` in [-1, 1]."""
    g = torch.Generator()
    g.manual_seed(seed)
    x = ((real.detach().float().cpu() + 1) / 2).clamp(0, 1)
    h, w = x.shape[-2:]
    out = x.clone()
    for _ in range(int(torch.randint(1, 4, (1,), generator=g))):
        m, (y0, x0, rh, rw) = _region(h, w, g)
        if float(_u(g, 0, 1)) < 0.5:
            src = _jitter(x, g)
        else:  # a naive paste: the same shape cut from a random place of the scene
            dy = int(torch.randint(-y0, max(1, h - rh - y0), (1,), generator=g))
            dx = int(torch.randint(-x0, max(1, w - rw - x0), (1,), generator=g))
            src = torch.roll(x, shifts=(-dy, -dx), dims=(2, 3))
            if float(_u(g, 0, 1)) < 0.5:
                src = _jitter(src, g)
        out = m * src + (1 - m) * out
    return (out * 2 - 1).to(real.device, real.dtype)


__all__ = ["augment_scene"]
