"""LoadVideo: frames of a video file, streamed."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from nodeflow.context import RunContext
from nodeflow.node import Node, Output
from nodeflow.params import InputPath, NodeParams
from nodeflow.types import FLOAT, IMAGE

from .frames import run_frames, select, uint8_to_image
from .video_reader import VideoReader, count_frames


class LoadVideo(Node):
    """Frames of an MP4, MOV, AVI, MKV or GIF file, decoded by ffmpeg (imageio-ffmpeg).

    ``first``/``last``/``step`` pick the source frames (0-based, last inclusive). Decoding is
    streamed: one ffmpeg process stays open for the run and each batch continues where the
    previous one stopped, so memory does not grow with the clip's length; a batch far ahead
    or behind (a Dask worker's next batch) seeks to its first frame. Also outputs the
    file's frame rate (divided by ``step``), e.g. for SaveVideo's ``source_fps`` input.
    """

    category = "input"
    frame_source = True
    outputs = (
        Output("image", IMAGE, "(B, 3, H, W), one frame per run frame"),
        Output("fps", FLOAT, "frames per second of the selected frames"),
    )

    class Params(NodeParams):
        path: InputPath = Field(description="video file, relative to the graph file's folder")
        first: int = Field(0, ge=0, description="first source frame (0-based)")
        last: int | None = Field(None, ge=0, description="last source frame (inclusive); default: the end")
        step: int = Field(1, ge=1, description="take every step-th frame")

    def __init__(self, params: NodeParams):
        super().__init__(params)
        self._reader: VideoReader | None = None

    def frame_count(self, ctx: RunContext) -> int:
        p = self.params
        return len(select(count_frames(ctx.input_path(p.path)), p.first, p.last, p.step))

    def run(self, ctx: RunContext) -> dict[str, Any]:
        p = self.params
        if self._reader is None:
            self._reader = VideoReader(ctx.input_path(p.path))
            fps, (w, h) = self._reader.meta()
            ctx.logger.info("%s: %dx%d at %.3g fps", self._reader.path.name, w, h, fps)
        frames = [self._reader.read(p.first + f * p.step) for f in run_frames(ctx)]
        return {"image": uint8_to_image(frames, ctx.device), "fps": self._reader.fps / p.step}

    def finish(self, ctx: RunContext) -> None:
        self.abort()

    def abort(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
