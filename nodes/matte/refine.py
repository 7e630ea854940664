"""RefineMatte: clean up a matte: threshold, fill holes, keep the largest region, grow, feather."""

from __future__ import annotations

from typing import Any

import torch
from pydantic import Field

from nodeflow.context import RunContext
from nodeflow.node import Input, Node, Output
from nodeflow.params import NodeParams
from nodeflow.types import MASK

from .morphology import feather, fill_holes, grow, keep_largest


class RefineMatte(Node):
    """Clean a matte: threshold, fill holes, keep the largest region, grow/shrink, feather.

    The steps run in that order. Thresholding makes a hard matte; fill holes and keep largest
    work on the matte cut at 0.5 (on the host with OpenCV: connected regions are a sequential
    problem) and give a hard matte; grow and feather run on the device. To keep a soft matte's
    edge while removing specks, multiply it with a refined copy (Mix, mode multiply).
    """

    category = "matte"
    inputs = (Input("mask", MASK, "(B, 1, H, W)"),)
    outputs = (Output("mask", MASK, "(B, 1, H, W)"),)

    class Params(NodeParams):
        threshold: float | None = Field(None, ge=0, le=1,
                                        description="if set, values above become 1 and the rest 0")
        fill_holes: bool = Field(False, description="fill background regions enclosed by the subject")
        keep_largest: bool = Field(False, description="drop every region but the largest")
        grow: int = Field(0, ge=-256, le=256, description="px to dilate (> 0) or erode (< 0)")
        feather: float = Field(0.0, ge=0, le=256, description="soft edge width in px (Gaussian, sigma = feather/2)")

    def run(self, ctx: RunContext, mask: torch.Tensor) -> dict[str, Any]:
        p = self.params
        out = mask
        if p.threshold is not None:
            out = (out > p.threshold).to(mask.dtype)
        if p.fill_holes:
            out = fill_holes(out)
        if p.keep_largest:
            out = keep_largest(out)
        out = grow(out, p.grow)
        out = feather(out, p.feather)
        return {"mask": out.clamp(0, 1).contiguous()}
