"""Mix: blend two images with a blend mode and a factor (optionally per pixel)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import torch
from pydantic import Field

from nodeflow.context import RunContext
from nodeflow.errors import NodeError
from nodeflow.node import Input, Node, Output
from nodeflow.params import NodeParams
from nodeflow.types import IMAGE, MASK

from .tensor_ops import broadcast_batch, check_same_size, split_alpha


def _overlay(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.where(a < 0.5, 2 * a * b, 1 - 2 * (1 - a) * (1 - b))


BLENDS: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "normal": lambda a, b: b,
    "add": lambda a, b: a + b,
    "multiply": lambda a, b: a * b,
    "screen": lambda a, b: 1 - (1 - a) * (1 - b),
    "overlay": _overlay,
}
"""Blend functions of the base ``a`` and the layer ``b`` (sRGB values, like Blender/Photoshop)."""


class Mix(Node):
    """Blend ``b`` onto ``a``: ``out = a + factor * (blend(a, b) - a)``.

    ``factor`` is the param times the optional ``factor_mask`` (per pixel) times b's alpha
    when b is RGBA. The output keeps a's alpha. Sizes must match; 1x1 constants (a Float or
    Color connected to a or b) broadcast.
    """

    category = "composite"
    inputs = (
        Input("a", IMAGE, "the base image"),
        Input("b", IMAGE, "the layer blended onto a"),
        Input("factor_mask", MASK, "optional per-pixel factor, multiplied with the factor param",
              optional=True),
    )
    outputs = (Output("image", IMAGE, "the blend, a's size and alpha"),)

    class Params(NodeParams):
        mode: Literal["normal", "add", "multiply", "screen", "overlay"] = Field(
            "normal", description="blend mode")
        factor: float = Field(1.0, ge=0, le=1, description="0 = a, 1 = fully blended")
        clamp: bool = Field(True, description="clip the result to [0, 1] (add can exceed 1)")

    def run(self, ctx: RunContext, a: torch.Tensor, b: torch.Tensor,
            factor_mask: torch.Tensor | None = None) -> dict[str, Any]:
        p = self.params
        check_same_size(a, b, "a and b", field="b")
        a_rgb, a_alpha = split_alpha(a)
        b_rgb, b_alpha = split_alpha(b)
        fac = torch.full_like(b_rgb[:, :1], p.factor)
        if b_alpha is not None:
            fac = fac * b_alpha
        if factor_mask is not None:
            check_same_size(a, factor_mask, "a and factor_mask", field="factor_mask")
            fac, factor_mask = broadcast_batch(fac, factor_mask, names=("b", "factor_mask"))
            fac = fac * factor_mask
        try:
            blended = BLENDS[p.mode](a_rgb, b_rgb)
            out = a_rgb + fac * (blended - a_rgb)
        except RuntimeError as exc:  # batch sizes that do not broadcast
            raise NodeError(f"cannot combine a {tuple(a.shape)} and b {tuple(b.shape)}: {exc}",
                            hint="connect frames of the same clip or a single still") from None
        if p.clamp:
            out = out.clamp(0, 1)
        if a_alpha is not None:
            out, a_alpha = broadcast_batch(out, a_alpha, names=("b", "a"))
            out = torch.cat([out, a_alpha.expand(-1, 1, *out.shape[-2:])], dim=1)
        return {"image": out}
