"""Grayscale: luminance as three equal channels (what a B&W film frame looks like)."""

from __future__ import annotations

from typing import Any, Literal

import torch
from pydantic import Field

from nodeflow.context import RunContext
from nodeflow.node import Input, Node, Output
from nodeflow.params import NodeParams
from nodeflow.types import IMAGE

from ..composite.tensor_ops import join_alpha, split_alpha

WEIGHTS: dict[str, tuple[float, float, float]] = {
    "rec709": (0.2126, 0.7152, 0.0722),
    "rec601": (0.299, 0.587, 0.114),
    "average": (1 / 3, 1 / 3, 1 / 3),
}
"""Luma weights on sRGB values: Rec. 709 (HD, the default), Rec. 601 (SD video), plain mean."""


def grayscale(rgb: torch.Tensor, method: str = "rec709") -> torch.Tensor:
    """``(B, 3, H, W)`` -> ``(B, 1, H, W)`` weighted sum of the channels."""
    w = torch.tensor(WEIGHTS[method], dtype=rgb.dtype, device=rgb.device).view(1, 3, 1, 1)
    return (rgb * w).sum(dim=1, keepdim=True)


class Grayscale(Node):
    """Turn colour into grey: three equal channels, alpha kept.

    E.g. to make Pix2Pix training pairs from colour frames, or to compare a colorization with
    its black-and-white input.
    """

    category = "color"
    inputs = (Input("image", IMAGE, "(B, 3|4, H, W)"),)
    outputs = (Output("image", IMAGE, "(B, 3|4, H, W) with R = G = B"),)

    class Params(NodeParams):
        method: Literal["rec709", "rec601", "average"] = Field("rec709", description="luma weights")

    def run(self, ctx: RunContext, image: torch.Tensor) -> dict[str, Any]:
        rgb, alpha = split_alpha(image)
        y = grayscale(rgb, self.params.method).clamp(0, 1)
        return {"image": join_alpha(y.expand(-1, 3, -1, -1).contiguous(), alpha)}
