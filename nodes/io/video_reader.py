"""Streaming video decoding through imageio-ffmpeg's bundled ffmpeg (MP4, MOV, AVI, MKV, GIF).

Frames arrive one at a time from an ffmpeg pipe; the reader remembers its position so that
consecutive batches continue the same decode. To go backwards, or far ahead (a Dask worker
given frames 5000..5007), it reopens ffmpeg seeking to the frame (``-ss`` before ``-i``: ffmpeg
decodes from the preceding keyframe and drops what comes before the frame's time), so a
batch never costs a decode from frame 0. Nothing holds more than the current frame.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Generator
from pathlib import Path
from typing import Any

import numpy as np

from nodeflow.errors import NodeError

_counts: dict[tuple[str, int, int], int] = {}

SEEK_AHEAD = 48
"""Frames ahead beyond which reopening at the frame beats decoding through the gap."""
UNSEEKABLE = (".gif",)
"""Formats whose frame times are irregular (GIF delays vary): always decoded in order."""

SWS_FLAGS = "spline+accurate_rnd+full_chroma_int+full_chroma_inp"
"""ffmpeg's RGB <-> YUV conversion done carefully (about +1 dB PSNR on a round trip)."""


def ffmpeg_module() -> Any:
    try:
        import imageio_ffmpeg
    except ImportError:
        raise NodeError("video needs imageio-ffmpeg, which is not installed",
                        hint="pip install 'nodeflow[video]'") from None
    return imageio_ffmpeg


def count_frames(path: Path) -> int:
    """Number of video frames, counted by demuxing (no decode); memoised by size and mtime."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key in _counts:
        return _counts[key]
    ffmpeg = ffmpeg_module()
    cmd = [ffmpeg.get_ffmpeg_exe(), "-nostdin", "-i", str(path), "-map", "0:v:0", "-c", "copy", "-f", "null", "-"]
    proc = subprocess.run(cmd, capture_output=True, check=False)
    text = proc.stderr.decode(errors="ignore")
    counts = re.findall(r"frame=\s*(\d+)", text)
    if proc.returncode != 0 or not counts:
        try:  # some containers only count when decoded
            n, _ = ffmpeg.count_frames_and_secs(str(path))
        except Exception:
            last = text.strip().splitlines()[-1] if text.strip() else "ffmpeg failed"
            raise NodeError(f"cannot read video {path}: {last}", field="path",
                            hint="use an MP4, MOV, AVI, MKV or GIF file ffmpeg can decode") from None
    else:
        n = int(counts[-1])
    _counts[key] = n
    return n


class VideoReader:
    """Sequential RGB frame access: ``read(i)`` returns frame ``i`` as ``(H, W, 3)`` uint8."""

    def __init__(self, path: Path):
        self.path = path
        self._gen: Generator[Any, None, None] | None = None
        self._pos = 0
        self.fps = 0.0
        self.size = (0, 0)
        """(width, height)"""
        self.frames_decoded = 0
        """Frames this reader has taken from ffmpeg (wanted or skipped): what seeking saves."""

    def _open(self, start: int = 0) -> None:
        """Start ffmpeg so that the next frame it sends is ``start``."""
        if start > 0 and self.fps <= 0:
            self._open()  # the frame rate is needed to find the frame's time
        self.close()
        seek = start > 0 and self.fps > 0 and self.path.suffix.lower() not in UNSEEKABLE
        # Half a frame before the frame's time: the previous frame is dropped, this one kept,
        # whatever the rounding of the container's timestamps.
        before = ["-ss", f"{(start - 0.5) / self.fps:.6f}"] if seek else []
        try:
            gen = ffmpeg_module().read_frames(str(self.path), pix_fmt="rgb24", input_params=before,
                                              output_params=["-sws_flags", SWS_FLAGS])
            meta = next(gen)
        except NodeError:
            raise
        except Exception as exc:
            raise NodeError(f"cannot open video {self.path}: {exc}", field="path") from None
        self._gen = gen
        self._pos = start if seek else 0
        self.fps = float(meta.get("fps") or 0.0)
        self.size = tuple(int(v) for v in meta["size"])  # type: ignore[assignment]

    def meta(self) -> tuple[float, tuple[int, int]]:
        if self._gen is None:
            self._open()
        return self.fps, self.size

    def read(self, index: int) -> np.ndarray:
        if self._gen is None or index < self._pos or index - self._pos > SEEK_AHEAD:
            self._open(index)
        assert self._gen is not None
        w, h = self.size
        while True:
            try:
                data = next(self._gen)
            except StopIteration:
                raise NodeError(f"{self.path} ended before frame {index} (it has {self._pos})",
                                field="last", hint="lower last or the frame range") from None
            self._pos += 1
            self.frames_decoded += 1
            if self._pos - 1 == index:
                return np.frombuffer(data, dtype=np.uint8).reshape(h, w, 3).copy()

    def close(self) -> None:
        if self._gen is not None:
            self._gen.close()  # terminates the ffmpeg process
            self._gen = None
            self._pos = 0
