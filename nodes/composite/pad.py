"""Pad: add borders, e.g. up to a multiple of 2^k for a model, or to a reference's size."""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from pydantic import Field

from nodeflow.context import RunContext
from nodeflow.errors import NodeError
from nodeflow.image_files import check_frame_size
from nodeflow.node import Input, Node, Output
from nodeflow.params import Color, NodeParams
from nodeflow.types import IMAGE

from .sizes import round_to_multiple


def split_padding(total: int, anchor: str) -> tuple[int, int]:
    """(before, after) for ``total`` extra pixels; centred padding puts the odd pixel after."""
    before = total // 2 if anchor == "center" else 0
    return before, total - before


class Pad(Node):
    """Enlarge images with borders.

    First ``left/top/right/bottom`` pixels are added; then, with ``reference`` connected, the
    image is padded to the reference's size, else each side is padded up to a multiple of
    ``multiple_of``; that extra padding is placed by ``anchor`` (Crop with the same anchor and
    the original as reference undoes it). Constant borders use ``color``; RGBA images get the
    colour's alpha (transparent by default).
    """

    category = "composite"
    inputs = (
        Input("image", IMAGE, "(B, C, H, W)"),
        Input("reference", IMAGE, "optional: pad to this image's size", optional=True),
    )
    outputs = (Output("image", IMAGE, "(B, C, H', W')"),)

    class Params(NodeParams):
        left: int = Field(0, ge=0, le=16384, description="pixels added on the left")
        top: int = Field(0, ge=0, le=16384, description="pixels added on top")
        right: int = Field(0, ge=0, le=16384, description="pixels added on the right")
        bottom: int = Field(0, ge=0, le=16384, description="pixels added at the bottom")
        multiple_of: int = Field(1, ge=1, le=4096, description="then pad each side up to a multiple of this")
        anchor: Literal["center", "top-left"] = Field(
            "center", description="where the image sits when padding to a multiple or a reference")
        mode: Literal["constant", "reflect", "replicate"] = Field(
            "constant", description="border content: a colour, the mirrored image, or the edge pixels")
        color: Color = Field((0.0, 0.0, 0.0, 0.0), description="constant border colour (RGB or RGBA)")

    def run(self, ctx: RunContext, image: torch.Tensor, reference: torch.Tensor | None = None
            ) -> dict[str, Any]:
        p = self.params
        h = image.shape[-2] + p.top + p.bottom
        w = image.shape[-1] + p.left + p.right
        if reference is not None:
            th, tw = int(reference.shape[-2]), int(reference.shape[-1])
            if th < h or tw < w:
                raise NodeError(f"reference is {tw}x{th}, smaller than the padded image ({w}x{h})",
                                field="reference", hint="use Crop to shrink an image")
        else:
            th = round_to_multiple(h, p.multiple_of, "up")
            tw = round_to_multiple(w, p.multiple_of, "up")
        t, b = split_padding(th - h, p.anchor)
        lft, r = split_padding(tw - w, p.anchor)
        pads = (p.left + lft, p.right + r, p.top + t, p.bottom + b)
        check_frame_size(th, tw, image.shape[0], field="left")
        if not any(pads):
            return {"image": image}
        if p.mode == "constant":
            return {"image": self._constant(image, pads)}
        if p.mode == "reflect" and (max(pads[:2]) >= image.shape[-1] or max(pads[2:]) >= image.shape[-2]):
            raise NodeError("reflect padding must be smaller than the image", field="mode",
                            hint="use mode 'replicate' or 'constant' for wide borders")
        return {"image": F.pad(image, pads, mode=p.mode)}

    def _constant(self, image: torch.Tensor, pads: tuple[int, int, int, int]) -> torch.Tensor:
        c = image.shape[1]
        color = list(self.params.color)
        fill = color[:3] + ([color[3] if len(color) == 4 else 1.0] if c == 4 else [])
        fill_t = torch.tensor(fill, dtype=image.dtype, device=image.device).view(1, c, 1, 1)
        b, _, h, w = image.shape
        out = fill_t.expand(b, c, h + pads[2] + pads[3], w + pads[0] + pads[1]).clone()
        out[..., pads[2]:pads[2] + h, pads[0]:pads[0] + w] = image
        return out
