"""What every exporter shares: output-path checks, temp-then-rename files, frames of a batch.

The temp-then-rename files themselves live in :mod:`nodeflow.atomic` (the one home of atomic
writes); they are re-exported here for the exporters.
"""

from __future__ import annotations

from pathlib import Path

import torch

from nodeflow.atomic import FILE_MODE, FOLDER_TEMP_PREFIX, PendingFile, PendingFolder
from nodeflow.context import RunContext
from nodeflow.errors import NodeError
from nodeflow.path_guard import guard_for
from nodeflow.written import foreign_file, foreign_problem

__all__ = ["FILE_MODE", "FOLDER_TEMP_PREFIX", "PendingFile", "PendingFolder", "check_writable", "flatten_alpha",
           "frames_of", "output_target"]


def output_target(ctx: RunContext, value: str, field: str, overwrite: bool,
                  suffixes: tuple[str, ...] | None = None) -> Path:
    """Resolve an output path and refuse what must not be written (see :func:`check_writable`)."""
    path = ctx.output_path(value)
    if suffixes is not None and path.suffix.lower() not in suffixes:
        raise NodeError(f"unsupported file type {path.suffix or '(none)'!r} for {path.name}", field=field,
                        hint=f"use one of {', '.join(suffixes)}")
    check_writable(ctx, path, field, overwrite)
    return path


def check_writable(ctx: RunContext, path: Path, field: str, overwrite: bool) -> None:
    """An input of the graph is never written (nor a file among its inputs added); an existing
    file only with ``overwrite``, and only one nodeflow wrote (:mod:`nodeflow.written`)."""
    why = guard_for(ctx.input_files).clash(path, pattern=False)
    if why:
        raise NodeError(f"refusing to write {path}: {why}", field=field,
                        hint="choose another output path; inputs are never overwritten")
    if path.exists() and not overwrite:
        raise NodeError(f"{path} already exists", field=field,
                        hint="set overwrite to true to replace it, or choose another path")
    if foreign_file(path):
        message, hint = foreign_problem(path)
        raise NodeError(message, field=field, hint=hint)
    if path.is_dir():
        raise NodeError(f"{path} is a folder", field=field, hint="give a file name")


def frames_of(image: torch.Tensor, ctx: RunContext) -> list[tuple[int, torch.Tensor]]:
    """Pair each ``(1, C, H, W)`` frame with its number: the run frame for a clip, the batch
    index for a static batch. A still (batch of 1) in a clip repeats for every frame."""
    if ctx.frames is None:
        return [(i, image[i:i + 1]) for i in range(image.shape[0])]
    if image.shape[0] == len(ctx.frames):
        return [(f, image[i:i + 1]) for i, f in enumerate(ctx.frames)]
    if image.shape[0] == 1:
        return [(f, image) for f in ctx.frames]
    raise NodeError(f"got {image.shape[0]} images for {len(ctx.frames)} frames", field="image",
                    hint="connect one clip or one still")


def flatten_alpha(image: torch.Tensor) -> torch.Tensor:
    """RGBA -> RGB over black (premultiplied colour), for formats without alpha; RGB unchanged."""
    if image.shape[1] == 4:
        return image[:, :3] * image[:, 3:4]
    return image
