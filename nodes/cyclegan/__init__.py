"""CycleGAN: unpaired image-to-image translation (photo <-> painting), reference-compatible."""

from . import sockets  # noqa: F401  (registers the socket type before the nodes use it)
from .handle import CycleGANHandle
from .nodes import LoadCycleGAN, Stylize, TrainCycleGAN

NODES = (TrainCycleGAN, LoadCycleGAN, Stylize)

__all__ = ["NODES", "CycleGANHandle", "LoadCycleGAN", "Stylize", "TrainCycleGAN"]
