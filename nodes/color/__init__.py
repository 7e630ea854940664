"""Colour: grey, colour spaces, levels, blur and colour matching (the harmonisation baseline)."""

from __future__ import annotations

from nodeflow.node import Node

from .blur import Blur
from .color_match import ColorMatch
from .convert import ColorConvert
from .grayscale import Grayscale
from .levels import Levels

NODES: tuple[type[Node], ...] = (Grayscale, ColorConvert, Levels, Blur, ColorMatch)

__all__ = ["NODES", "Blur", "ColorConvert", "ColorMatch", "Grayscale", "Levels"]
