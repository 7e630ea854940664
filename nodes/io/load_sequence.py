"""LoadImageSequence: a clip stored as numbered image files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field

from nodeflow.context import RunContext
from nodeflow.errors import NodeError
from nodeflow.image_files import read_image
from nodeflow.node import Node, Output
from nodeflow.params import InputPath, NodeParams
from nodeflow.types import IMAGE

from .frames import run_frames, stack_frames
from .sequence_pattern import sequence_files


class LoadImageSequence(Node):
    """Frames from numbered image files: a folder, a pattern or a glob.

    ``frames``, ``frames/frame_%04d.png`` or ``frames/*.png``; files come in natural order.

    With a pattern, ``first``/``last`` are frame numbers and a missing frame in the range is an
    error naming the file; with a folder or glob they are positions in the sorted list. Files
    are read batch by batch, never all at once.
    """

    category = "input"
    frame_source = True
    outputs = (Output("image", IMAGE, "(B, 3|4, H, W), one image per run frame"),)

    class Params(NodeParams):
        path: InputPath = Field(description="folder, frame_%04d.png pattern or glob")
        first: int | None = Field(None, ge=0, description="first frame number (pattern) or position; "
                                                          "default: the first present")
        last: int | None = Field(None, ge=0, description="last frame (inclusive); default: the last present")
        step: int = Field(1, ge=1, description="take every step-th frame")

    def __init__(self, params: NodeParams):
        super().__init__(params)
        self._files: list[Path] | None = None

    def files(self, ctx: RunContext) -> list[Path]:
        if self._files is None:
            p = self.params
            self._files = sequence_files(ctx.input_path(p.path), p.first, p.last, p.step)
        return self._files

    def frame_count(self, ctx: RunContext) -> int:
        return len(self.files(ctx))

    def run(self, ctx: RunContext) -> dict[str, Any]:
        files = self.files(ctx)
        chosen = [files[f] for f in run_frames(ctx)]
        images = []
        for path in chosen:
            try:
                images.append(read_image(path))
            except FileNotFoundError:
                raise NodeError(f"missing frame: {path}", field="path",
                                hint="the file disappeared after the run started") from None
            except (OSError, ValueError) as exc:
                raise NodeError(f"cannot read frame {path}: {exc}", field="path") from None
        return {"image": stack_frames(images, [p.name for p in chosen]).to(ctx.device)}
