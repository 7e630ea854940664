"""SinGAN: train on one scene image, then harmonize pasted objects into it (and sample, animate,
super-resolve, paint-to-image, edit). See ``docs/singan.md``."""

from __future__ import annotations

from . import sockets  # noqa: F401  (registers the socket type before the nodes use it)
from .handle import SinGANModel
from .nodes import (
    NODES,
    Harmonize,
    LoadSinGAN,
    SinGANAnimate,
    SinGANEdit,
    SinGANPaint,
    SinGANSample,
    SinGANSuperResolution,
    TrainSinGAN,
)

__all__ = ["NODES", "Harmonize", "LoadSinGAN", "SinGANAnimate", "SinGANEdit", "SinGANModel", "SinGANPaint",
           "SinGANSample", "SinGANSuperResolution", "TrainSinGAN"]
