"""Compositing: place a foreground over a background, blend, and size images for models."""

from __future__ import annotations

from nodeflow.node import Node

from .alpha_over import AlphaOver
from .crop import Crop
from .mix import Mix
from .pad import Pad
from .resize import Resize
from .set_alpha import SetAlpha

NODES: tuple[type[Node], ...] = (AlphaOver, Mix, Resize, Crop, Pad, SetAlpha)

__all__ = ["NODES", "AlphaOver", "Crop", "Mix", "Pad", "Resize", "SetAlpha"]
