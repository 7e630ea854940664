"""Model handles: trained models as values on sockets.

A handle is what flows from a training node into the nodes that apply the model (e.g. from a
"train" or "load" node into a "harmonize" node): training, loading and importing are
interchangeable upstream nodes. The engine
only needs a few things from a handle: its ``kind`` (the socket type name), a way to save it
to and load it from a folder of weights-only files (for the disk cache), a device move, and its
size in memory (so the session's memory budget bounds model weights too).

Every concrete subclass is registered by name (``module:QualName``) as it is defined; the disk
cache only ever loads an entry through a registered class, so a damaged or hostile cache
manifest cannot make nodeflow import a module of its choosing.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

HANDLE_CLASSES: dict[str, type[ModelHandle]] = {}
"""``module:QualName`` -> every concrete handle class defined in this process."""


def handle_name(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def registered_handle(name: str) -> type[ModelHandle] | None:
    """The handle class registered under ``name``, or None (nothing is imported)."""
    return HANDLE_CLASSES.get(name)


class ModelHandle(ABC):
    kind: ClassVar[str]
    """Socket type name, registered by the handle's node family with :func:`nodeflow.types.model_socket`."""

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

    def nbytes(self) -> int:
        """Bytes of the tensors this handle keeps alive: every parameter and buffer of its modules.

        The default walks the handle's attributes (modules, tensors, and lists/tuples/dicts of
        them), counting each tensor storage once; a handle holding memory elsewhere overrides it.
        """
        seen: set[tuple[int, int]] = set()
        total = 0
        for t in _tensors(vars(self)):
            storage = t.untyped_storage()
            ident = (storage.data_ptr(), storage.nbytes())
            if ident not in seen:
                seen.add(ident)
                total += storage.nbytes()
        return total


def _tensors(value: Any, depth: int = 0) -> Iterator[torch.Tensor]:
    """Tensors reachable from ``value``: module parameters and buffers, tensors, and containers."""
    if depth > 4:
        return
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, nn.Module):
        yield from value.parameters()
        yield from value.buffers()
    elif isinstance(value, dict):
        for v in value.values():
            yield from _tensors(v, depth + 1)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _tensors(v, depth + 1)
