"""SaveVideo: an H.264 MP4 (or MOV/MKV/AVI), encoded as frames arrive."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import Field

from nodeflow.context import RunContext
from nodeflow.errors import NodeError
from nodeflow.node import Input, Node, Output
from nodeflow.params import NodeParams, OutputPath
from nodeflow.types import FLOAT, IMAGE, PATH

from .frames import image_to_uint8
from .sink_files import PendingFile, flatten_alpha, frames_of, output_target
from .video_writer import VideoWriter

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".avi")


class SaveVideo(Node):
    """Encode the frames as H.264 with imageio-ffmpeg's bundled ffmpeg (no system ffmpeg needed).

    Frames are piped to ffmpeg batch by batch, into a temporary file renamed onto ``path`` when
    the run completes. Quality is x264's constant rate factor: 0 is lossless, 18 looks
    lossless, 23 is ffmpeg's default, 51 is worst. Alpha is dropped (colour over black). The
    optional ``source_fps`` input (e.g. LoadVideo's fps) overrides the ``fps`` param.
    """

    category = "output"
    sink = True
    inputs = (
        Input("image", IMAGE, "(B, 3|4, H, W) frames of one size"),
        Input("source_fps", FLOAT, "optional frame rate overriding the fps param (e.g. LoadVideo's fps)",
              optional=True),
    )
    outputs = (Output("path", PATH, "the written file"),)

    class Params(NodeParams):
        path: OutputPath = Field(description="video file (.mp4, .mov, .mkv, .avi), relative to the output folder")
        fps: float = Field(24.0, ge=0.1, le=240, description="frames per second (0.1 … 240: what H.264 encoders accept)")
        crf: int = Field(18, ge=0, le=51, description="quality: x264 CRF, lower is better (0 = lossless)")
        preset: Literal["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow",
                        "slower", "veryslow"] = Field("medium", description="x264 speed/size trade-off")
        pixel_format: Literal["yuv420p", "yuv444p"] = Field(
            "yuv420p", description="yuv420p plays everywhere; yuv444p keeps full colour resolution")
        overwrite: bool = Field(False, description="replace an existing file nodeflow wrote (never a user's)")

    def __init__(self, params: NodeParams):
        super().__init__(params)
        self._target: Path | None = None
        self._pending: PendingFile | None = None
        self._writer: VideoWriter | None = None

    def check(self, ctx: RunContext) -> None:
        """Refuse a bad output path before anything upstream (a long training) runs."""
        p = self.params
        self._target = output_target(ctx, p.path, "path", p.overwrite, VIDEO_SUFFIXES)

    def run(self, ctx: RunContext, image: torch.Tensor, source_fps: float | None = None) -> dict[str, Any]:
        p = self.params
        if self._target is None:
            self._target = output_target(ctx, p.path, "path", p.overwrite, VIDEO_SUFFIXES)
        frames = image_to_uint8(torch.cat([f for _, f in frames_of(flatten_alpha(image), ctx)]))
        if self._writer is None:
            self._pending = PendingFile(self._target, record=True)
            rate = float(source_fps) if source_fps else p.fps
            if not 0.1 <= rate <= 240:
                raise NodeError(f"frame rate {rate:g} is outside 0.1 … 240", field="source_fps",
                                hint="connect a real frame rate, or leave source_fps unconnected to use fps")
            h, w = frames.shape[1:3]
            self._writer = VideoWriter(self._pending.tmp, (w, h), rate, p.crf, p.preset, p.pixel_format)
        for frame in frames:
            self._writer.write(frame)
        ctx.progress(self._writer.frames, ctx.frame_count or self._writer.frames, "encoding")
        return {"path": str(self._target)}

    def finish(self, ctx: RunContext) -> None:
        if self._writer is None or self._pending is None:
            return
        self._writer.close()
        self._writer = None
        if not self._pending.tmp.exists() or self._pending.tmp.stat().st_size == 0:
            self._pending.discard()
            raise NodeError(f"ffmpeg produced no video for {self._target}", field="path")
        self._pending.commit()
        self._pending = None

    def abort(self) -> None:
        """Stop ffmpeg and remove the partial file, even if stopping is interrupted (a second Ctrl-C)."""
        writer, pending = self._writer, self._pending
        self._writer = self._pending = None
        try:
            if writer is not None:
                writer.close()
        finally:
            if pending is not None:
                pending.discard()
