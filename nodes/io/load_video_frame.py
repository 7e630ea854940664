"""LoadVideoFrame: one frame of a video as a still (a reference frame to train on)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from nodeflow.context import RunContext
from nodeflow.errors import NodeError
from nodeflow.node import Node, Output
from nodeflow.params import InputPath, NodeParams
from nodeflow.types import IMAGE

from .frames import uint8_to_image
from .video_reader import VideoReader, count_frames


class LoadVideoFrame(Node):
    """One frame of a video file as a still ``(1, 3, H, W)``.

    Unlike LoadVideo this is not a frame source: it runs once per run, so what it feeds (e.g.
    ``TrainSinGAN`` on the film's reference frame) is trained once and reused for every frame
    that LoadVideo streams from the same file.
    """

    category = "input"
    outputs = (Output("image", IMAGE, "(1, 3, H, W)"),)

    class Params(NodeParams):
        path: InputPath = Field(description="video file, relative to the graph file's folder")
        frame: int = Field(0, ge=0, description="source frame (0-based)")

    def run(self, ctx: RunContext) -> dict[str, Any]:
        path = ctx.input_path(self.params.path)
        n = count_frames(path)
        if self.params.frame >= n:
            raise NodeError(f"{path.name} has {n} frames; there is no frame {self.params.frame}", field="frame",
                            hint=f"pick a frame in 0..{n - 1}")
        reader = VideoReader(path)
        try:
            frame = reader.read(self.params.frame)
        finally:
            reader.close()
        return {"image": uint8_to_image([frame], ctx.device)}
