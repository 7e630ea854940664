"""Mattes: cut the subject out of its background and clean the matte."""

from __future__ import annotations

from nodeflow.node import Node

from .cutout import CutOut
from .refine import RefineMatte

NODES: tuple[type[Node], ...] = (CutOut, RefineMatte)

__all__ = ["NODES", "CutOut", "RefineMatte"]
