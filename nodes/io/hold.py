"""HoldFrames: a still (or a few) held for N frames, so a photo can drive a clip."""

from __future__ import annotations

from typing import Any

import torch
from pydantic import Field

from nodeflow.context import RunContext
from nodeflow.node import Input, Node, Output
from nodeflow.params import NodeParams
from nodeflow.types import IMAGE

from .frames import run_frames


class HoldFrames(Node):
    """Turn a still into a clip of ``frames`` frames.

    A batch of several stills becomes a slideshow: each is held for an equal share of the
    frames, in order. The frames are views of the still, so holding costs no memory.
    """

    category = "input"
    frame_source = True
    inputs = (Input("image", IMAGE, "(S, C, H, W): one still, or S stills for a slideshow"),)
    outputs = (Output("image", IMAGE, "(B, C, H, W), one image per run frame"),)

    class Params(NodeParams):
        frames: int = Field(24, ge=1, le=1_000_000, description="length of the clip in frames")

    def frame_count(self, ctx: RunContext) -> int:
        return self.params.frames

    def run(self, ctx: RunContext, image: torch.Tensor) -> dict[str, Any]:
        frames = run_frames(ctx)
        s = image.shape[0]
        if s == 1:
            return {"image": image.expand(len(frames), *image.shape[1:])}
        idx = torch.tensor([min(s - 1, f * s // self.params.frames) for f in frames], device=image.device)
        return {"image": image.index_select(0, idx)}
