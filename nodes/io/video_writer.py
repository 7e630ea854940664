"""Streaming H.264 encoding through imageio-ffmpeg's bundled ffmpeg."""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import Any

import numpy as np

from nodeflow.errors import NodeError

from .video_reader import SWS_FLAGS, ffmpeg_module


class VideoWriter:
    """Frames in, an H.264 file out: ``write((H, W, 3) uint8)`` per frame, then ``close()``.

    Odd sizes are padded to even by one black row/column (yuv420p needs even sides).
    """

    def __init__(self, path: Path, size: tuple[int, int], fps: float, crf: int, preset: str,
                 pixel_format: str):
        self.path = path
        self.size = size
        """(width, height)"""
        self.frames = 0
        output_params = ["-crf", str(crf), "-preset", preset, "-sws_flags", SWS_FLAGS]
        if pixel_format == "yuv420p" and (size[0] % 2 or size[1] % 2):
            output_params += ["-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2"]
        self._gen: Generator[Any, Any, None] | None = ffmpeg_module().write_frames(
            str(path), size, fps=fps, codec="libx264", quality=None, pix_fmt_out=pixel_format,
            macro_block_size=1, ffmpeg_log_level="error", ffmpeg_timeout=0, output_params=output_params)
        self._gen.send(None)  # start ffmpeg

    def write(self, frame: np.ndarray) -> None:
        h, w = frame.shape[:2]
        if (w, h) != self.size:
            raise NodeError(f"frame {self.frames} is {w}x{h}, the video is {self.size[0]}x{self.size[1]}",
                            field="image", hint="resize the frames to one size before saving")
        assert self._gen is not None
        try:
            self._gen.send(np.ascontiguousarray(frame))
        except OSError as exc:
            raise NodeError(f"ffmpeg stopped while writing {self.path}: {exc}", field="path") from None
        self.frames += 1

    def close(self) -> None:
        """Flush and wait for ffmpeg to finish the file."""
        if self._gen is not None:
            self._gen.close()
            self._gen = None
