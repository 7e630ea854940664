"""Colour as a distribution over quantised ab bins (Zhang et al., "Colorful Image Colorization", 2016).

A regression toward the ab of ambiguous pixels lands on their mean or median, which is grey
when the photos disagree (grass or earth, sky or wall). Predicting a distribution over ab bins
keeps every plausible hue; the *annealed mean* decodes it: ``softmax(logits / T)`` weighted over
the bin centres. ``T = 1`` is the plain mean (greyish), ``T -> 0`` the mode (vivid, patchy); the
paper uses 0.38. ``T`` is calibrated on validation photos and stored with the model.

The network is the project's ResNet generator whose last 7x7 conv + tanh becomes a 1x1 conv to
``Q`` logits (a 7x7 conv to ~300 channels would cost 6x the rest of a ngf-16 net); its forward
returns decoded ab in [-1, 1] (``ab / 110``), so ``Colorize`` and every resize / pad path treat
it as any L -> ab generator. Saved options: ``"ab_bins": {"grid", "temperature"}``; the bin
centres are recomputed from ``grid`` (in gamut: some L in [1, 99] gives an sRGB colour).
"""

from __future__ import annotations

import functools
from typing import Any

import kornia
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..gan.generators import GeneratorSpec, ResnetGenerator, parse_arch

AB_SCALE = 110.0  # ab_norm = ab / 110 (nodes/gan/lab.py)


@functools.lru_cache(maxsize=8)
def _centres(grid: float) -> tuple[tuple[float, float], ...]:
    lim = int(AB_SCALE // grid) * grid
    axis = torch.arange(-lim, lim + grid / 2, grid)
    a, b = torch.meshgrid(axis, axis, indexing="ij")
    ab = torch.stack([a.flatten(), b.flatten()], dim=1)  # (N, 2)
    ls = torch.arange(1.0, 100.0, 1.0)
    lab = torch.cat([ls.repeat_interleave(len(ab))[:, None], ab.repeat(len(ls), 1)], dim=1)
    rgb = kornia.color.lab_to_rgb(lab.T.reshape(1, 3, len(ls), len(ab)), clip=False)[0]  # (3, L, N)
    inside = ((rgb >= -1e-4) & (rgb <= 1 + 1e-4)).all(dim=0).any(dim=0)  # some L is in gamut
    return tuple((float(x), float(y)) for x, y in ab[inside].tolist())


def bin_centres(grid: float = 10.0) -> Tensor:
    """In-gamut ab bin centres ``(Q, 2)`` in CIE units on a square grid of step ``grid`` (225 at 10; the paper counts 313 cells that touch the gamut)."""
    return torch.tensor(_centres(float(grid)), dtype=torch.float32)


def soft_encode(ab: Tensor, centres: Tensor, neighbours: int = 5, sigma: float = 5.0) -> Tensor:
    """``ab`` ``(B, 2, H, W)`` in CIE units -> target distributions ``(B, Q, H, W)``.

    Each pixel's weight goes to its ``neighbours`` nearest centres by a Gaussian of ``sigma``
    (the paper's soft encoding: a colour between two bins counts for both).
    """
    b, _, h, w = ab.shape
    flat = ab.permute(0, 2, 3, 1).reshape(-1, 2)
    d2 = torch.cdist(flat, centres).pow(2)
    k = min(neighbours, len(centres))
    near, idx = d2.topk(k, dim=1, largest=False)
    wts = torch.softmax(-near / (2 * sigma**2), dim=1)
    z = torch.zeros(len(flat), len(centres), dtype=ab.dtype, device=ab.device).scatter_(1, idx, wts)
    return z.reshape(b, h, w, -1).permute(0, 3, 1, 2)


def rebalance_weights(prior: Tensor, mix: float = 0.5) -> Tensor:
    """Class weights ``(Q,)`` from the empirical bin distribution ``prior`` ``(Q,)``.

    ``w ~ 1 / ((1 - mix) * p + mix / Q)``, normalised so ``sum(p * w) = 1``: rare (saturated)
    colours count more, so the loss is not won by predicting the common desaturated bins
    (smooth ``prior`` first with :func:`smooth_prior`, as the paper does).
    """
    p = prior.float().clamp(min=0)
    p = p / p.sum()
    w = 1.0 / ((1 - mix) * p + mix / len(p))
    return w / (p * w).sum()


def smooth_prior(prior: Tensor, centres: Tensor, sigma: float = 5.0) -> Tensor:
    """``prior`` ``(Q,)`` blurred over the ab plane by a Gaussian of ``sigma`` CIE units."""
    k = torch.exp(-torch.cdist(centres, centres).pow(2) / (2 * sigma**2))
    out = k @ prior.float()
    return out / out.sum()


def annealed_mean(logits: Tensor, centres: Tensor, temperature: float) -> Tensor:
    """``(B, Q, H, W)`` logits -> ab ``(B, 2, H, W)`` in CIE units: the mean of ``softmax(logits / T)``."""
    p = torch.softmax(logits.float() / max(float(temperature), 1e-3), dim=1)
    return torch.einsum("bqhw,qc->bchw", p, centres.to(p.device))


def rebalanced_cross_entropy(logits: Tensor, target: Tensor, weights: Tensor) -> Tensor:
    """Mean over pixels of ``-w(argmax z) * sum_q z_q log p_q`` (``target`` = :func:`soft_encode`)."""
    logp = F.log_softmax(logits.float(), dim=1)
    w = weights.to(logits.device)[target.argmax(dim=1)]  # (B, H, W)
    return (w * -(target * logp).sum(dim=1)).mean()


class BinnedResnetGenerator(ResnetGenerator):
    """A ResNet generator whose head predicts ab-bin logits; ``forward`` returns the decoded ab / 110.

    Keeps the parent's ``state_dict`` keys (``model.<i>``), only the last conv's shape differs
    (``(Q, ngf, 1, 1)``), so the saved file is a plain generator state dict.
    """

    def __init__(self, spec: GeneratorSpec, grid: float = 10.0, temperature: float = 0.38):
        family, n = parse_arch(spec.arch)
        if family != "resnet" or spec.input_nc != 1 or spec.output_nc != 2:
            raise ValueError("ab bins need a resnet_<n>blocks generator with 1 -> 2 channels (L -> ab)")
        super().__init__(1, 2, spec.ngf, spec.norm, spec.dropout, n)
        self.grid = float(grid)
        self.temperature = float(temperature)
        self.register_buffer("centres", bin_centres(grid), persistent=False)
        q = len(self.centres)
        self.model[-3] = nn.Identity()  # was ReflectionPad2d(3) for the 7x7 conv
        self.model[-2] = nn.Conv2d(spec.ngf, q, kernel_size=1)
        self.model[-1] = nn.Identity()  # no tanh: logits

    def logits(self, x: Tensor) -> Tensor:
        """``(B, 1, H, W)`` L in [-1, 1] -> ``(B, Q, H, W)`` bin logits."""
        return self.model(x)

    def decode(self, logits: Tensor, temperature: float | None = None) -> Tensor:
        """Logits -> ab / 110 ``(B, 2, H, W)`` by the annealed mean at ``temperature`` (default: the model's)."""
        t = self.temperature if temperature is None else temperature
        return annealed_mean(logits, self.centres, t) / AB_SCALE

    def forward(self, x: Tensor) -> Tensor:
        return self.decode(self.logits(x))

    def options(self) -> dict[str, Any]:
        return {"grid": self.grid, "temperature": self.temperature}
