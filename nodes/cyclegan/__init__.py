"""CycleGAN: unpaired image-to-image translation (photo <-> painting), reference-compatible."""

from .handle import CycleGANHandle
from .nodes import LoadCycleGAN, Stylize, TrainCycleGAN

NODES = (TrainCycleGAN, LoadCycleGAN, Stylize)

__all__ = ["NODES", "CycleGANHandle", "LoadCycleGAN", "Stylize", "TrainCycleGAN"]
