"""SaveImageSequence: one numbered image file per frame."""

from __future__ import annotations

import os
from typing import Any, Literal

import torch
from pydantic import Field

from nodeflow.context import RunContext
from nodeflow.errors import NodeError
from nodeflow.image_files import write_image
from nodeflow.node import Input, Node, Output
from nodeflow.params import NodeParams, OutputPath
from nodeflow.types import IMAGE, PATH

from .save_image import IMAGE_SUFFIXES
from .sequence_pattern import Pattern, parse_pattern
from .sink_files import PendingFolder, check_writable, frames_of


class SaveImageSequence(Node):
    """Write each frame to ``frames/frame_%04d.png`` (a printf pattern in the file name).

    Run frame ``f`` gets number ``start_number + f`` (a static batch: its index). Frames are
    written as they arrive into a hidden folder beside the outputs and renamed into place when
    the run completes; a failed run leaves no partial frames. Existing files are replaced only
    with ``overwrite`` (older frames beyond the new clip's end are left alone).
    """

    category = "output"
    sink = True
    inputs = (Input("image", IMAGE, "(B, 3|4, H, W)"),)
    outputs = (Output("path", PATH, "the pattern the files were written to"),)

    class Params(NodeParams):
        path: OutputPath = Field(description="pattern such as frames/frame_%04d.png, relative to the output folder")
        start_number: int = Field(0, ge=0, description="number of the first run frame (e.g. 1)")
        bits: Literal[8, 16] = Field(8, description="bits per channel; 16 needs .png or .tif")
        quality: int = Field(95, ge=1, le=100, description="JPEG quality")
        overwrite: bool = Field(False, description="replace existing files nodeflow wrote (never a user's)")

    def __init__(self, params: NodeParams):
        super().__init__(params)
        self._pattern: Pattern | None = None
        self._pending: PendingFolder | None = None

    def pattern(self, ctx: RunContext) -> Pattern:
        if self._pattern is None:
            target = ctx.output_path(self.params.path)
            pattern = parse_pattern(target)
            if pattern is None:
                raise NodeError(f"{target.name} has no frame number", field="path",
                                hint="add %04d to the file name, e.g. frames/frame_%04d.png")
            if target.suffix.lower() not in IMAGE_SUFFIXES:
                raise NodeError(f"unsupported image type {target.suffix!r}", field="path",
                                hint=f"use one of {', '.join(IMAGE_SUFFIXES)}")
            if self.params.bits == 16 and target.suffix.lower() not in (".png", ".tif", ".tiff"):
                raise NodeError("16-bit output needs .png or .tif", field="bits", hint="set bits to 8")
            self._pattern = pattern
        return self._pattern

    def check(self, ctx: RunContext) -> None:
        """Refuse a bad pattern, and a file this run's frames would land on that may not be
        replaced, before anything upstream runs (not after hours of a clip). A static batch's
        numbers are known only when it arrives: :meth:`run` checks each file again anyway."""
        p = self.params
        pattern = self.pattern(ctx)
        if not ctx.frames:
            return
        try:  # one listing, not a stat per frame: a film has 100 000 of them
            present = set(os.listdir(pattern.folder))
        except OSError:
            return  # no folder yet (or unreadable: run() says so)
        for n in (p.start_number + number for number in ctx.frames):
            if pattern.name(n) in present:
                check_writable(ctx, pattern.path(n), "path", p.overwrite)

    def run(self, ctx: RunContext, image: torch.Tensor) -> dict[str, Any]:
        p = self.params
        pattern = self.pattern(ctx)
        if self._pending is None:
            self._pending = PendingFolder(pattern.folder, record=True)
        for number, frame in frames_of(image, ctx):
            n = p.start_number + number
            check_writable(ctx, pattern.path(n), "path", p.overwrite)
            write_image(frame, self._pending.path(pattern.name(n)), bits=p.bits, quality=p.quality)
            ctx.check_cancelled()
        return {"path": str(ctx.output_path(p.path))}

    def finish(self, ctx: RunContext) -> None:
        if self._pending is not None:
            self._pending.commit()
            self._pending = None

    def abort(self) -> None:
        if self._pending is not None:
            self._pending.discard()
            self._pending = None
