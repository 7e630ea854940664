"""SetAlpha: attach a matte to an image as its alpha channel."""

from __future__ import annotations

from typing import Any

import torch

from nodeflow.context import RunContext
from nodeflow.node import Input, Node, Output
from nodeflow.types import IMAGE, MASK

from .tensor_ops import join_alpha, resize_mask, split_alpha


class SetAlpha(Node):
    """Image + Mask -> RGBA with the mask as (straight) alpha; the mask is resized if needed.

    The usual bridge after RefineMatte: ``CutOut.image`` or the original frame plus the refined
    mask gives the foreground that AlphaOver places.
    """

    category = "composite"
    inputs = (
        Input("image", IMAGE, "(B, 3|4, H, W); an existing alpha is replaced"),
        Input("mask", MASK, "(B, 1, H, W) the new alpha"),
    )
    outputs = (Output("image", IMAGE, "(B, 4, H, W)"),)

    def run(self, ctx: RunContext, image: torch.Tensor, mask: torch.Tensor) -> dict[str, Any]:
        rgb, _ = split_alpha(image)
        alpha = resize_mask(mask, tuple(rgb.shape[-2:])).expand(-1, 1, *rgb.shape[-2:])
        return {"image": join_alpha(rgb, alpha)}
