"""Blur: Gaussian, box or median, alpha-aware."""

from __future__ import annotations

import math
from typing import Any, Literal

import kornia.filters as kf
import torch
from pydantic import Field

from nodeflow.context import RunContext
from nodeflow.node import Input, Node, Output
from nodeflow.params import NodeParams
from nodeflow.types import IMAGE

from ..composite.tensor_ops import premultiply, unpremultiply


def gaussian(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian with a kernel of about +-3 sigma, reflected borders."""
    if sigma <= 0:
        return x
    k = min(2 * math.ceil(3 * sigma) + 1, 2 * min(x.shape[-2:]) - 1)  # reflect needs pad < size
    if k < 3:
        return x
    return kf.gaussian_blur2d(x, (k, k), (sigma, sigma), border_type="reflect")


class Blur(Node):
    """Soften an image: Gaussian, box or median.

    ``size`` is the Gaussian's sigma or the box/median radius, in px; median removes speckle
    and keeps edges. RGBA is blurred premultiplied so transparent pixels do not leak colour
    into the edge.
    """

    category = "color"
    inputs = (Input("image", IMAGE, "(B, 3|4, H, W)"),)
    outputs = (Output("image", IMAGE, "(B, 3|4, H, W)"),)

    class Params(NodeParams):
        method: Literal["gaussian", "box", "median"] = Field("gaussian", description="filter")
        size: float = Field(2.0, ge=0, le=200, description="Gaussian sigma, or box/median radius, in px")

    def run(self, ctx: RunContext, image: torch.Tensor) -> dict[str, Any]:
        p = self.params
        if p.size <= 0:
            return {"image": image}
        x = premultiply(image)
        if p.method == "gaussian":
            x = gaussian(x, p.size)
        else:
            k = 2 * max(1, round(p.size)) + 1
            x = kf.box_blur(x, (k, k), border_type="reflect") if p.method == "box" else kf.median_blur(x, (k, k))
        return {"image": unpremultiply(x.clamp(0, 1))}
