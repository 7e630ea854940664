"""Pix2Pix: paired image-to-image translation and colorization (L -> ab), reference-compatible."""

from . import sockets  # noqa: F401  (registers the socket type before the nodes use it)
from .handle import Pix2PixHandle
from .nodes import Colorize, LoadPix2Pix, TrainPix2Pix, Translate

NODES = (TrainPix2Pix, LoadPix2Pix, Colorize, Translate)

__all__ = ["NODES", "Colorize", "LoadPix2Pix", "Pix2PixHandle", "TrainPix2Pix", "Translate"]
