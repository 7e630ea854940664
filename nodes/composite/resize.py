"""Resize: to a size, a scale, a reference image's size, or the nearest multiple of 2^k."""

from __future__ import annotations

from typing import Any, Literal

import torch
from pydantic import Field

from nodeflow.context import RunContext
from nodeflow.image_files import check_frame_size
from nodeflow.node import Input, Node, Output
from nodeflow.params import NodeParams
from nodeflow.types import IMAGE, INT

from .sizes import fit_size, round_to_multiple
from .tensor_ops import resize


class Resize(Node):
    """Resize images, e.g. to what a model needs and back.

    The target size comes from, in this order: the ``reference`` input's size; ``width`` and/or
    ``height`` (a 0 follows the aspect ratio; both set -> ``fit``); else ``scale``. It is then
    rounded to a multiple of ``multiple_of`` (e.g. 256 = 2^8 for an 8-level U-Net). Shrinking is
    antialiased; RGBA is resized premultiplied so transparent colours do not bleed into edges.
    """

    category = "composite"
    inputs = (
        Input("image", IMAGE, "(B, C, H, W)"),
        Input("reference", IMAGE, "optional: resize to this image's size (e.g. back to the original)",
              optional=True),
    )
    outputs = (
        Output("image", IMAGE, "(B, C, H', W')"),
        Output("width", INT, "W'"),
        Output("height", INT, "H'"),
    )

    class Params(NodeParams):
        width: int = Field(0, ge=0, le=16384, description="target width in px, 0 = from height/scale")
        height: int = Field(0, ge=0, le=16384, description="target height in px, 0 = from width/scale")
        scale: float = Field(1.0, gt=0, le=64, description="used when width and height are both 0")
        fit: Literal["stretch", "contain", "cover"] = Field(
            "stretch", description="when both width and height are set: stretch to them, fit inside "
                                   "keeping the aspect ratio, or cover them keeping it")
        multiple_of: int = Field(1, ge=1, le=4096, description="round each side to a multiple of this")
        rounding: Literal["nearest", "up", "down"] = Field("nearest", description="how multiple_of rounds")
        filter: Literal["bilinear", "bicubic", "area", "nearest"] = Field(
            "bilinear", description="resampling filter (nearest for label maps)")

    def target_size(self, h: int, w: int, reference: torch.Tensor | None) -> tuple[int, int]:
        p = self.params
        if reference is not None:
            return int(reference.shape[-2]), int(reference.shape[-1])
        if p.width and p.height:
            th, tw = fit_size((h, w), (p.height, p.width), p.fit)
        elif p.width:
            th, tw = h * p.width / w, float(p.width)
        elif p.height:
            th, tw = float(p.height), w * p.height / h
        else:
            th, tw = h * p.scale, w * p.scale
        return (round_to_multiple(th, p.multiple_of, p.rounding),
                round_to_multiple(tw, p.multiple_of, p.rounding))

    def run(self, ctx: RunContext, image: torch.Tensor, reference: torch.Tensor | None = None
            ) -> dict[str, Any]:
        th, tw = self.target_size(image.shape[-2], image.shape[-1], reference)
        check_frame_size(th, tw, image.shape[0], field="width")
        return {"image": resize(image, (th, tw), self.params.filter), "width": tw, "height": th}
