"""CameraMove: a pan/zoom (Ken Burns) over a still, as a clip."""

from __future__ import annotations

import math
from typing import Any, Literal

import torch
import torch.nn.functional as F
from pydantic import Field

from nodeflow.context import RunContext
from nodeflow.image_files import check_frame_size
from nodeflow.node import Input, Node, Output
from nodeflow.params import NodeParams
from nodeflow.types import IMAGE

from ..composite.tensor_ops import premultiply, unpremultiply
from .frames import run_frames


def ease(t: float, kind: str) -> float:
    """Linear, or smoothstep (slow in, slow out)."""
    return t * t * (3 - 2 * t) if kind == "smooth" else t


class CameraMove(Node):
    """A pan/zoom over a still, as a clip (demo clips from one photo).

    The view moves from (start_x, start_y, start_zoom) to (end_x, end_y, end_zoom) over
    ``frames`` frames.

    At zoom 1 the view is the largest rectangle of the output's aspect ratio that fits in the
    still; zoom 2 shows half of that. Positions are the view's centre as fractions of the
    still and are clamped so the view stays inside it. Zoom changes geometrically (constant
    perceived speed). Shrinking reads from an antialiased, cached copy of the still, so the
    clip does not shimmer.
    """

    category = "input"
    frame_source = True
    inputs = (Input("image", IMAGE, "(1, C, H, W) the still (the first image of a batch is used)"),)
    outputs = (Output("image", IMAGE, "(B, C, height, width), one view per run frame"),)

    class Params(NodeParams):
        frames: int = Field(48, ge=1, le=1_000_000, description="length of the clip in frames")
        width: int = Field(0, ge=0, le=16384, description="output width, 0 = the view's size at zoom 1")
        height: int = Field(0, ge=0, le=16384, description="output height, 0 = from width and the still's aspect")
        start_x: float = Field(0.5, ge=0, le=1, description="view centre at the start (fraction of width)")
        start_y: float = Field(0.5, ge=0, le=1, description="view centre at the start (fraction of height)")
        start_zoom: float = Field(1.0, ge=1, le=64, description="zoom at the start (1 = widest view)")
        end_x: float = Field(0.5, ge=0, le=1, description="view centre at the end")
        end_y: float = Field(0.5, ge=0, le=1, description="view centre at the end")
        end_zoom: float = Field(1.5, ge=1, le=64, description="zoom at the end")
        easing: Literal["linear", "smooth"] = Field("smooth", description="how the move accelerates")

    def __init__(self, params: NodeParams):
        super().__init__(params)
        self._levels: dict[int, torch.Tensor] = {}

    def frame_count(self, ctx: RunContext) -> int:
        return self.params.frames

    def output_size(self, h: int, w: int) -> tuple[int, int]:
        p = self.params
        if p.width and p.height:
            return p.height, p.width
        if p.width:
            return max(1, round(p.width * h / w)), p.width
        return h, w

    def view(self, frame: int) -> tuple[float, float, float]:
        """Centre (x, y as fractions) and zoom at run frame ``frame``."""
        p = self.params
        t = ease(frame / (p.frames - 1), p.easing) if p.frames > 1 else 0.0
        x = p.start_x + (p.end_x - p.start_x) * t
        y = p.start_y + (p.end_y - p.start_y) * t
        zoom = math.exp(math.log(p.start_zoom) + (math.log(p.end_zoom) - math.log(p.start_zoom)) * t)
        return x, y, zoom

    def _source(self, still: torch.Tensor, shrink: float) -> torch.Tensor:
        """The still, premultiplied, downscaled by about ``shrink`` (< 1) in quarter octaves."""
        level = max(0, math.floor(-4 * math.log2(shrink))) if shrink < 1 else 0
        if level not in self._levels:
            s = 2.0 ** (-level / 4)
            h, w = still.shape[-2:]
            x = premultiply(still)
            if level:
                x = F.interpolate(x, size=(max(1, round(h * s)), max(1, round(w * s))), mode="bilinear",
                                  align_corners=False, antialias=True)
            self._levels[level] = x
        return self._levels[level]

    def run(self, ctx: RunContext, image: torch.Tensor) -> dict[str, Any]:
        still = image[:1]
        h, w = still.shape[-2:]
        oh, ow = self.output_size(h, w)
        check_frame_size(oh, ow, len(run_frames(ctx)), field="width")
        aspect = ow / oh
        base_w = min(w, h * aspect)  # the zoom-1 view in still pixels
        base_h = base_w / aspect
        ys = (torch.arange(oh, device=still.device, dtype=still.dtype) + 0.5) / oh * 2 - 1
        xs = (torch.arange(ow, device=still.device, dtype=still.dtype) + 0.5) / ow * 2 - 1
        gy, gx = torch.meshgrid(ys, xs, indexing="ij")
        out = []
        for f in run_frames(ctx):
            cx, cy, zoom = self.view(f)
            vw, vh = base_w / zoom, base_h / zoom
            # keep the view inside the still
            px = min(max(cx * w, vw / 2), w - vw / 2)
            py = min(max(cy * h, vh / 2), h - vh / 2)
            # output pixel -> normalised still coordinates (align_corners=False convention)
            grid = torch.stack([(px + gx * vw / 2) / w * 2 - 1, (py + gy * vh / 2) / h * 2 - 1], dim=-1)
            src = self._source(still, ow / vw)
            out.append(F.grid_sample(src, grid[None], mode="bilinear", padding_mode="border",
                                     align_corners=False))
        return {"image": unpremultiply(torch.cat(out).clamp(0, 1))}
