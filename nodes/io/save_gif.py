"""SaveGIF: an animated GIF (Pillow), for short previews that play anywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from PIL import Image
from pydantic import Field

from nodeflow.context import RunContext
from nodeflow.node import Input, Node, Output
from nodeflow.params import NodeParams, OutputPath
from nodeflow.types import IMAGE, PATH

from .frames import image_to_uint8
from .sink_files import PendingFile, flatten_alpha, frames_of, output_target


class SaveGIF(Node):
    """Write the frames as an animated GIF.

    Each frame is reduced to a palette of ``colors`` as it arrives (1 byte per pixel is kept
    until the end, since a GIF is written in one go); the file appears atomically when the run
    completes. GIF timing has 10 ms steps, so fps is rounded accordingly; identical
    consecutive frames are merged into one longer frame by Pillow. Alpha is dropped.
    """

    category = "output"
    sink = True
    inputs = (Input("image", IMAGE, "(B, 3|4, H, W) frames of one size"),)
    outputs = (Output("path", PATH, "the written file"),)

    class Params(NodeParams):
        path: OutputPath = Field(description="GIF file, relative to the output folder")
        fps: float = Field(12.0, ge=0.01, le=50, description="frames per second (GIF: 10 ms steps; "
                                                             "a frame lasts at most 655 s)")
        loop: int = Field(0, ge=0, le=65535, description="0 = loop forever, n = play n times")
        colors: int = Field(256, ge=2, le=256, description="palette size per frame")
        dither: bool = Field(True, description="Floyd-Steinberg dithering (smoother gradients, larger file)")
        overwrite: bool = Field(False, description="replace an existing file nodeflow wrote (never a user's)")

    def __init__(self, params: NodeParams):
        super().__init__(params)
        self._target: Path | None = None
        self._frames: list[Image.Image] = []
        self._pending: PendingFile | None = None

    def check(self, ctx: RunContext) -> None:
        """Refuse a bad output path before anything upstream (a long training) runs."""
        p = self.params
        self._target = output_target(ctx, p.path, "path", p.overwrite, (".gif",))

    def run(self, ctx: RunContext, image: torch.Tensor) -> dict[str, Any]:
        p = self.params
        if self._target is None:
            self._target = output_target(ctx, p.path, "path", p.overwrite, (".gif",))
        frames = image_to_uint8(torch.cat([f for _, f in frames_of(flatten_alpha(image), ctx)]))
        dither = Image.Dither.FLOYDSTEINBERG if p.dither else Image.Dither.NONE
        for frame in frames:
            self._frames.append(Image.fromarray(frame, "RGB").quantize(
                colors=p.colors, method=Image.Quantize.MEDIANCUT, dither=dither))
        return {"path": str(self._target)}

    def finish(self, ctx: RunContext) -> None:
        if self._target is None or not self._frames:
            return
        p = self.params
        self._pending = PendingFile(self._target, record=True)
        extra: dict[str, Any] = {"loop": 0} if p.loop == 0 else ({"loop": p.loop - 1} if p.loop > 1 else {})
        first, *rest = self._frames
        first.save(self._pending.tmp, format="GIF", save_all=True, append_images=rest,
                   duration=round(1000 / p.fps), **extra)
        self._frames = []
        self._pending.commit()
        self._pending = None

    def abort(self) -> None:
        self._frames = []
        if self._pending is not None:
            self._pending.discard()
            self._pending = None
