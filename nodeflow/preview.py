"""Small PNG previews of Image and Mask outputs, for the editor and ``nodeflow run --preview DIR``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from PIL import Image

from nodeflow.atomic import atomic_path
from nodeflow.events import Event, NodeOutputs
from nodeflow.image_files import tensor_to_pil


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


class PreviewWriter:
    """Event listener writing ``DIR/<node>.<output>.png`` for the first batch each node produces."""

    def __init__(self, folder: str | Path, max_size: int = 256):
        self.folder = Path(folder)
        self.max_size = max_size
        self._done: set[tuple[str, str]] = set()
        self.written: list[Path] = []

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
            self.folder.mkdir(parents=True, exist_ok=True)
            path = self.folder / f"{event.node_id}.{name}.png"
            with atomic_path(path) as tmp:
                img.save(tmp, format="PNG")
            self.written.append(path)
