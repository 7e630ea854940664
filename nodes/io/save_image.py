"""SaveImage: write one still (or one chosen frame of a clip)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import Field

from nodeflow.context import RunContext
from nodeflow.errors import NodeError
from nodeflow.image_files import write_image
from nodeflow.node import Input, Node, Output
from nodeflow.params import NodeParams, OutputPath
from nodeflow.types import IMAGE, PATH

from .sink_files import PendingFile, frames_of, output_target

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp")


class SaveImage(Node):
    """Write an image file; the format follows the suffix (PNG/TIFF keep alpha and 16 bits).

    For a clip, ``frame`` picks the run frame written; for a batch, the batch index. The file is
    written to a temporary name and renamed when the run completes, so a failed run leaves
    nothing behind. An existing file is replaced only with ``overwrite``, and only one nodeflow wrote.
    """

    category = "output"
    sink = True
    inputs = (Input("image", IMAGE, "(B, 3|4, H, W)"),)
    outputs = (Output("path", PATH, "the written file"),)

    class Params(NodeParams):
        path: OutputPath = Field(description="file to write (.png, .jpg, .tif, .webp, .bmp), "
                                             "relative to the output folder")
        frame: int = Field(0, ge=0, description="which frame of a clip (or image of a batch) to write")
        bits: Literal[8, 16] = Field(8, description="bits per channel; 16 needs .png or .tif")
        quality: int = Field(95, ge=1, le=100, description="JPEG quality")
        overwrite: bool = Field(False, description="replace an existing file nodeflow wrote (never a user's)")

    def __init__(self, params: NodeParams):
        super().__init__(params)
        self._pending: PendingFile | None = None
        self._target: Path | None = None

    def check(self, ctx: RunContext) -> None:
        """Refuse a bad output path before anything upstream (a long training) runs."""
        p = self.params
        self._target = output_target(ctx, p.path, "path", p.overwrite, IMAGE_SUFFIXES)

    def run(self, ctx: RunContext, image: torch.Tensor) -> dict[str, Any]:
        p = self.params
        if self._target is None:
            self._target = output_target(ctx, p.path, "path", p.overwrite, IMAGE_SUFFIXES)
            if p.bits == 16 and self._target.suffix.lower() not in (".png", ".tif", ".tiff"):
                raise NodeError("16-bit output needs .png or .tif", field="bits", hint="set bits to 8")
        for number, frame in frames_of(image, ctx):
            if number == p.frame:
                if self._pending is None:
                    self._pending = PendingFile(self._target, record=True)
                write_image(frame, self._pending.tmp, bits=p.bits, quality=p.quality)
        return {"path": str(self._target)}

    def finish(self, ctx: RunContext) -> None:
        if self._pending is None:
            if self._target is None:
                return  # never ran (not planned)
            raise NodeError(f"frame {self.params.frame} was not part of the run", field="frame",
                            hint="pick a frame inside the clip (or the batch)")
        self._pending.commit()
        self._pending = None

    def abort(self) -> None:
        if self._pending is not None:
            self._pending.discard()
            self._pending = None
