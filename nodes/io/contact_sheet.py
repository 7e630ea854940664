"""ContactSheet: a labelled grid of frames, or of several inputs side by side."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont
from pydantic import Field

from nodeflow.context import RunContext
from nodeflow.node import Input, Node, Output
from nodeflow.params import Color, NodeParams, OutputPath
from nodeflow.types import IMAGE, PATH

from ..composite.tensor_ops import resize
from .frames import image_to_uint8
from .sink_files import PendingFile, frames_of, output_target

MAX_INPUTS = 6
SHEET_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


@dataclass
class Cell:
    input: int
    """0-based input index."""
    frame: int
    """run frame (clip) or batch index (stills)."""
    pixels: np.ndarray
    """``(h, w, 3)`` uint8 thumbnail."""


def over_color(image: torch.Tensor, color: tuple[float, ...]) -> torch.Tensor:
    """RGBA over a flat colour -> RGB; RGB unchanged."""
    if image.shape[1] != 4:
        return image
    c = torch.tensor(color[:3], dtype=image.dtype, device=image.device).view(1, 3, 1, 1)
    a = image[:, 3:4]
    return image[:, :3] * a + c * (1 - a)


def label_text(template: str, cell: Cell, n: int) -> str:
    """Fill ``{frame}``, ``{n}`` (1-based within its input) and ``{i}`` (0-based) in a label."""
    try:
        return template.format(frame=cell.frame, n=n + 1, i=n)
    except (KeyError, IndexError, ValueError):
        return template


class ContactSheet(Node):
    """Lay frames out in a grid with labels and write it as one image.

    Every connected input contributes its frames in order (a clip: every ``every``-th run
    frame, at most ``max_frames``; a still or batch: its images). With several inputs each
    gets a row by default, so the same frames line up in columns (original / colorized /
    composite). ``labels`` holds one template per input: ``{frame}`` is the frame number,
    ``{n}`` counts from 1 within the input, e.g. ``"scale = {n}"`` for a batch of 8 scales.
    Thumbnails are made on the device as batches arrive; the sheet is written when the run
    completes.
    """

    category = "output"
    sink = True
    inputs = (
        Input("image_1", IMAGE, "(B, C, H, W) first row / the frames to lay out"),
        *(Input(f"image_{i}", IMAGE, f"optional input {i}", optional=True) for i in range(2, MAX_INPUTS + 1)),
    )
    outputs = (Output("path", PATH, "the written sheet"),)

    class Params(NodeParams):
        path: OutputPath = Field(description="sheet image (.png, .jpg, .webp), relative to the output folder")
        columns: int = Field(0, ge=0, le=64, description="0 = one row per input (or a square grid for one input)")
        labels: list[str] = Field(default_factory=list, description="one label template per input")
        cell_width: int = Field(256, ge=16, le=4096, description="thumbnail width in px")
        every: int = Field(1, ge=1, description="take every n-th frame of a clip")
        max_frames: int = Field(48, ge=1, le=1024, description="at most this many frames per input")
        padding: int = Field(8, ge=0, le=256, description="px between and around cells")
        font_size: int = Field(14, ge=6, le=128, description="label text height in px")
        background: Color = Field((0.12, 0.12, 0.12), description="sheet colour")
        text_color: Color = Field((1.0, 1.0, 1.0), description="label colour")
        overwrite: bool = Field(False, description="replace an existing file nodeflow wrote (never a user's)")

    def __init__(self, params: NodeParams):
        super().__init__(params)
        self._target: Path | None = None
        self._cells: list[Cell] = []
        self._seen_stills: set[tuple[int, int]] = set()
        self._pending: PendingFile | None = None

    def check(self, ctx: RunContext) -> None:
        """Refuse a bad output path before anything upstream (a long training) runs."""
        p = self.params
        self._target = output_target(ctx, p.path, "path", p.overwrite, SHEET_SUFFIXES)

    def run(self, ctx: RunContext, **images: torch.Tensor | None) -> dict[str, Any]:
        p = self.params
        if self._target is None:
            self._target = output_target(ctx, p.path, "path", p.overwrite, SHEET_SUFFIXES)
        for k in range(MAX_INPUTS):
            image = images.get(f"image_{k + 1}")
            if image is None:
                continue
            if ctx.frames is not None and image.shape[0] == 1 and len(ctx.frames) > 1:
                # a still next to a clip: take it once, not once per frame
                key = (k, image.data_ptr())
                if key in self._seen_stills:
                    continue
                self._seen_stills.add(key)
                pairs = [(ctx.frames[0], image)]
            else:
                pairs = frames_of(image, ctx)
            taken = sum(c.input == k for c in self._cells)
            keep = [(f, im) for f, im in pairs if ctx.frames is None or f % p.every == 0]
            keep = keep[:max(0, p.max_frames - taken)]
            if not keep:
                continue
            batch = torch.cat([im for _, im in keep])
            h, w = batch.shape[-2:]
            thumbs = resize(over_color(batch, p.background), (max(1, round(h * p.cell_width / w)), p.cell_width))
            for (f, _), pixels in zip(keep, image_to_uint8(thumbs), strict=True):
                self._cells.append(Cell(k, f, pixels))
        return {"path": str(self._target)}

    def render(self) -> Image.Image:
        p = self.params
        cells = self._cells
        inputs = sorted({c.input for c in cells})
        per_input = [[c for c in cells if c.input == k] for k in inputs]
        if p.columns:
            cols = p.columns
        elif len(inputs) > 1:
            cols = max(len(group) for group in per_input)
        else:
            cols = math.ceil(math.sqrt(len(cells)))
        # each input starts a new row when it is laid out in rows of its own
        rows: list[list[tuple[Cell, int]]] = []
        for group in per_input:
            for start in range(0, len(group), cols):
                rows.append([(c, start + j) for j, c in enumerate(group[start:start + cols])])
        font = ImageFont.load_default(size=p.font_size)
        label_h = p.font_size + 6 if p.labels else 0
        cell_h = max(c.pixels.shape[0] for c in cells)
        pad = p.padding
        width = pad + cols * (p.cell_width + pad)
        height = pad + len(rows) * (cell_h + label_h + pad)
        bg = tuple(round(v * 255) for v in p.background[:3])
        sheet = Image.new("RGB", (width, height), bg)
        draw = ImageDraw.Draw(sheet)
        fg = tuple(round(v * 255) for v in p.text_color[:3])
        for r, row in enumerate(rows):
            y = pad + r * (cell_h + label_h + pad)
            for j, (cell, n) in enumerate(row):
                x = pad + j * (p.cell_width + pad)
                sheet.paste(Image.fromarray(cell.pixels, "RGB"), (x, y + label_h))
                if cell.input < len(p.labels) and p.labels[cell.input]:
                    draw.text((x, y + 1), label_text(p.labels[cell.input], cell, n), fill=fg, font=font)
        return sheet

    def finish(self, ctx: RunContext) -> None:
        if self._target is None or not self._cells:
            return
        sheet = self.render()
        self._pending = PendingFile(self._target, record=True)
        fmt = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}[self._target.suffix.lower()]
        sheet.save(self._pending.tmp, format=fmt)
        self._pending.commit()
        self._pending = None
        self._cells = []

    def abort(self) -> None:
        self._cells = []
        if self._pending is not None:
            self._pending.discard()
            self._pending = None
