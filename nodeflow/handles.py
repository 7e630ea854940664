"""Model handles: trained models as values on sockets.

A handle is what flows from ``TrainSinGAN`` into ``Harmonize`` (or from ``LoadPix2Pix`` into
``Colorize``): training, loading and importing are interchangeable upstream nodes. The engine
only needs three things from a handle: its ``kind`` (the socket type name), a way to save it
to and load it from a folder of weights-only files (for the disk cache), and a device move.

Every concrete subclass is registered by name (``module:QualName``) as it is defined; the disk
cache only ever loads an entry through a registered class, so a damaged or hostile cache
manifest cannot make nodeflow import a module of its choosing.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar

import torch

HANDLE_CLASSES: dict[str, type[ModelHandle]] = {}
"""``module:QualName`` -> every concrete handle class defined in this process."""


def handle_name(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def registered_handle(name: str) -> type[ModelHandle] | None:
    """The handle class registered under ``name``, or None (nothing is imported)."""
    return HANDLE_CLASSES.get(name)


class ModelHandle(ABC):
    kind: ClassVar[str]
    """Socket type name: 'Pix2Pix', 'CycleGAN', 'SinGAN', or a plugin's own."""

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if not inspect.isabstract(cls):
            HANDLE_CLASSES[handle_name(cls)] = cls

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
