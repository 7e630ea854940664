"""Crop: a box, a reference image's size, or down to a multiple of 2^k."""

from __future__ import annotations

from typing import Any, Literal

import torch
from pydantic import Field

from nodeflow.context import RunContext
from nodeflow.errors import NodeError
from nodeflow.node import Input, Node, Output
from nodeflow.params import NodeParams
from nodeflow.types import IMAGE

from .sizes import round_to_multiple


def anchored_offset(outer: int, inner: int, anchor: str) -> int:
    """Offset of an ``inner`` span inside an ``outer`` one (the same rule Pad uses)."""
    return (outer - inner) // 2 if anchor == "center" else 0


class Crop(Node):
    """Cut a box out of images.

    With ``reference`` connected the box takes the reference's size, placed by ``anchor``: this
    undoes a Pad with the same anchor. Otherwise the box is ``x, y, width, height`` (px or
    fractions; a width/height of 0 runs to the edge). ``multiple_of`` then trims the box,
    keeping its centre, so both sides are multiples (e.g. 2^k for a model).
    """

    category = "composite"
    inputs = (
        Input("image", IMAGE, "(B, C, H, W)"),
        Input("reference", IMAGE, "optional: crop to this image's size", optional=True),
    )
    outputs = (Output("image", IMAGE, "(B, C, h, w)"),)

    class Params(NodeParams):
        x: float = Field(0, ge=0, description="left edge of the box")
        y: float = Field(0, ge=0, description="top edge of the box")
        width: float = Field(0, ge=0, description="box width, 0 = to the right edge")
        height: float = Field(0, ge=0, description="box height, 0 = to the bottom edge")
        units: Literal["px", "relative"] = Field("px", description="box in pixels or fractions of the size")
        anchor: Literal["center", "top-left"] = Field(
            "center", description="with a reference: where the reference-sized box sits")
        multiple_of: int = Field(1, ge=1, le=4096, description="trim each side down to a multiple of this")

    def box(self, h: int, w: int, reference: torch.Tensor | None) -> tuple[int, int, int, int]:
        """``(top, left, height, width)`` in pixels, checked against the image size."""
        p = self.params
        if reference is not None:
            bh, bw = int(reference.shape[-2]), int(reference.shape[-1])
            if bh > h or bw > w:
                raise NodeError(f"reference is {bw}x{bh}, larger than the image ({w}x{h})",
                                field="reference", hint="use Pad to enlarge an image")
            top, left = anchored_offset(h, bh, p.anchor), anchored_offset(w, bw, p.anchor)
        else:
            sx, sy = (w, h) if p.units == "relative" else (1, 1)
            left, top = round(p.x * sx), round(p.y * sy)
            bw = round(p.width * sx) if p.width else w - left
            bh = round(p.height * sy) if p.height else h - top
            if bw <= 0 or bh <= 0 or left + bw > w or top + bh > h:
                raise NodeError(f"box x={left}, y={top}, {bw}x{bh} does not fit the {w}x{h} image",
                                field="width", hint="make x + width <= image width and y + height <= height")
        if p.multiple_of > 1:
            nh = round_to_multiple(bh, p.multiple_of, "down")
            nw = round_to_multiple(bw, p.multiple_of, "down")
            if nh > bh or nw > bw:
                raise NodeError(f"a {bw}x{bh} box is smaller than multiple_of={p.multiple_of}",
                                field="multiple_of", hint="use Pad with multiple_of to grow it instead")
            top, left = top + (bh - nh) // 2, left + (bw - nw) // 2
            bh, bw = nh, nw
        return top, left, bh, bw

    def run(self, ctx: RunContext, image: torch.Tensor, reference: torch.Tensor | None = None
            ) -> dict[str, Any]:
        top, left, bh, bw = self.box(image.shape[-2], image.shape[-1], reference)
        return {"image": image[..., top:top + bh, left:left + bw].contiguous()}
