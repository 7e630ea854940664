"""Model handles: trained models as values on sockets.

A handle is what flows from ``TrainSinGAN`` into ``Harmonize`` (or from ``LoadPix2Pix`` into
``Colorize``): training, loading and importing are interchangeable upstream nodes. The engine
only needs three things from a handle: its ``kind`` (the socket type name), a way to save it
to and load it from a folder of weights-only files (for the disk cache), and a device move.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar

import torch


class ModelHandle(ABC):
    kind: ClassVar[str]
    """Socket type name: 'Pix2Pix', 'CycleGAN', 'SinGAN', or a plugin's own."""

    @abstractmethod
    def save(self, folder: Path) -> None:
        """Write the model to ``folder`` (exists, empty) using weights-only formats."""

    @classmethod
    @abstractmethod
    def load(cls, folder: Path, device: torch.device | str = "cpu") -> ModelHandle:
        """Read what :meth:`save` wrote, without unpickling arbitrary objects."""

    @abstractmethod
    def to(self, device: torch.device | str) -> ModelHandle:
        """This model on ``device`` (may return self)."""
