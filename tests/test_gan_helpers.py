"""Shared helpers for the pix2pix/CycleGAN tests: synthetic datasets and a tensor frame source.

(No tests here; the name only keeps it inside this family's test files.)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from pydantic import Field

from nodeflow.checkpoint import load_safetensors, save_safetensors
from nodeflow.node import Node, Output
from nodeflow.nodes.cyclegan import NODES as CYCLEGAN_NODES
from nodeflow.nodes.pix2pix import NODES as PIX2PIX_NODES
from nodeflow.params import InputPath, NodeParams
from nodeflow.registry import Registry
from nodeflow.types import IMAGE

DARK_BLUE = torch.tensor([0.10, 0.15, 0.50])
BRIGHT_YELLOW = torch.tensor([1.00, 0.85, 0.20])


def smooth_field(n: int, size: int, gen: torch.Generator, cells: int = 5) -> torch.Tensor:
    """``(n, 1, size, size)`` smooth random fields in [0, 1]."""
    t = torch.rand(n, 1, cells, cells, generator=gen)
    return F.interpolate(t, size=(size, size), mode="bicubic", align_corners=False).clamp(0, 1)


def two_tone(n: int, size: int, seed: int, dark=DARK_BLUE, bright=BRIGHT_YELLOW) -> torch.Tensor:
    """``(n, 3, size, size)``: dark blue where the field is low, bright yellow where high.

    Colour is a function of lightness, so a colorization network can learn it from L alone.
    """
    t = smooth_field(n, size, torch.Generator().manual_seed(seed))
    return (1 - t) * dark.view(1, 3, 1, 1) + t * bright.view(1, 3, 1, 1)


def write_images(folder: Path, images: torch.Tensor, prefix: str = "") -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, im in enumerate(images):
        path = folder / f"{prefix}{i:03d}.png"
        Image.fromarray((im.permute(1, 2, 0).clamp(0, 1).numpy() * 255).round().astype(np.uint8)).save(path)
        paths.append(path)
    return paths


def write_frames(path: Path, frames: torch.Tensor) -> Path:
    save_safetensors(path, {"frames": frames})
    return path


class TensorFrames(Node):
    """Test frame source: frames stored in a safetensors file (key ``frames``, (N, C, H, W))."""

    category = "test"
    frame_source = True
    outputs = (Output("image", IMAGE),)

    class Params(NodeParams):
        path: InputPath = Field(description="safetensors file")

    def _frames(self, ctx) -> torch.Tensor:
        return load_safetensors(ctx.input_path(self.params.path))["frames"]

    def frame_count(self, ctx) -> int:
        return int(self._frames(ctx).shape[0])

    def run(self, ctx) -> dict:
        return {"image": self._frames(ctx)[list(ctx.frames)].to(ctx.device)}


def registry() -> Registry:
    r = Registry()
    for cls in (*PIX2PIX_NODES, *CYCLEGAN_NODES, TensorFrames):
        r.register(cls)
    return r
