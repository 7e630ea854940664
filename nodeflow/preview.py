"""Small PNG previews of Image and Mask outputs, for the editor and ``nodeflow run --preview DIR``.

A preview never replaces an input of the graph (a file named ``<node>.<output>.png`` among
the inputs, or any file of a folder input): :func:`preview_clashes` lists such names before the
run, and the writer skips them regardless.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from PIL import Image

from nodeflow.atomic import atomic_path
from nodeflow.events import Event, NodeOutputs
from nodeflow.image_files import tensor_to_pil
from nodeflow.path_guard import guard_for
from nodeflow.written import foreign_file

PREVIEW_TYPES = ("Image", "Mask")


def preview_image(value: Any, max_size: int = 256) -> Image.Image | None:
    """First frame of an Image ``(B, 3|4, H, W)`` or Mask ``(B, 1, H, W)`` tensor, at most ``max_size`` px."""
    if not isinstance(value, torch.Tensor) or value.ndim != 4 or value.shape[1] not in (1, 3, 4):
        return None
    frame = value[:1].detach().float()
    h, w = frame.shape[-2:]
    scale = max_size / max(h, w)
    if scale < 1:
        size = (max(1, round(h * scale)), max(1, round(w * scale)))
        frame = F.interpolate(frame, size=size, mode="bilinear", align_corners=False, antialias=True)
    if frame.shape[1] == 1:
        frame = frame.expand(-1, 3, -1, -1)
    return tensor_to_pil(frame.clamp(0, 1).cpu())


def preview_path(folder: Path, node_id: str, output: str) -> Path:
    return folder / f"{node_id}.{output}.png"


def preview_clashes(plan: Any, folder: str | Path) -> list[str]:
    """Why previews of ``plan``'s Image/Mask outputs in ``folder`` would touch its inputs (or a file
    nodeflow did not write)."""
    guard = guard_for(plan.input_files)
    found = []
    for pn in plan.nodes.values():
        for out in pn.cls.outputs:
            if out.type.name in PREVIEW_TYPES:
                path = preview_path(Path(folder), pn.id, out.name)
                why = guard.clash(path, pattern=False) or _foreign(path)
                if why:
                    found.append(f"{path}: {why}")
    return found


def _foreign(path: Path) -> str | None:
    """Why a preview must not replace the file at ``path``: one nodeflow did not write."""
    if foreign_file(path):
        return "it exists and nodeflow did not write it"
    return None


class PreviewWriter:
    """Event listener writing ``DIR/<node>.<output>.png`` for the first batch each node produces.

    ``inputs`` (the run's input files) and files nodeflow did not write are never written over.
    """

    def __init__(self, folder: str | Path, max_size: int = 256, inputs: frozenset[Path] = frozenset()):
        self.folder = Path(folder)
        self.max_size = max_size
        self.inputs = inputs
        self._done: set[tuple[str, str]] = set()
        self.written: list[Path] = []
        self.skipped: list[Path] = []

    def __call__(self, event: Event) -> None:
        if not isinstance(event, NodeOutputs):
            return
        for name, value in event.outputs.items():
            if (event.node_id, name) in self._done:
                continue
            img = preview_image(value, self.max_size)
            if img is None:
                continue
            self._done.add((event.node_id, name))
            path = preview_path(self.folder, event.node_id, name)
            if guard_for(self.inputs).clash(path, pattern=False) or _foreign(path):
                self.skipped.append(path)
                continue
            with atomic_path(path, record=True) as tmp:
                img.save(tmp, format="PNG")
            self.written.append(path)
