"""The one registry of node types: built-ins and plugins, both through entry points.

Node packages advertise themselves in the ``nodeflow.nodes`` entry-point group. An entry point
may name a :class:`~nodeflow.node.Node` subclass, an iterable of them, or a callable that takes
the registry and registers its nodes. A plugin that fails to load is reported and skipped.
"""

from __future__ import annotations

import difflib
import importlib.metadata
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from nodeflow.node import Node

log = logging.getLogger("nodeflow.registry")

ENTRY_POINT_GROUP = "nodeflow.nodes"


@dataclass(frozen=True)
class PluginFailure:
    name: str
    error: str


class Registry:
    def __init__(self) -> None:
        self._types: dict[str, type[Node]] = {}
        self.failures: list[PluginFailure] = []

    def register(self, node_cls: type[Node]) -> type[Node]:
        """Add a node type (usable as a class decorator). Re-registering the same class is a no-op."""
        if not (isinstance(node_cls, type) and issubclass(node_cls, Node)):
            raise TypeError(f"{node_cls!r} is not a Node subclass")
        name = node_cls.type_name
        existing = self._types.get(name)
        if existing is not None and existing is not node_cls:
            raise ValueError(
                f"node type {name!r} is registered twice: {existing.__module__} and {node_cls.__module__}"
            )
        self._types[name] = node_cls
        return node_cls

    def get(self, name: str) -> type[Node]:
        try:
            return self._types[name]
        except KeyError:
            raise KeyError(f"unknown node type {name!r}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._types

    def __iter__(self):
        return iter(sorted(self._types))

    def __len__(self) -> int:
        return len(self._types)

    def closest(self, name: str, n: int = 3) -> list[str]:
        """Names close to ``name``, for 'did you mean' hints (case-insensitive)."""
        lower = {k.lower(): k for k in self._types}
        hits = difflib.get_close_matches(name.lower(), list(lower), n=n, cutoff=0.5)
        return [lower[h] for h in hits]

    # -- plugins -------------------------------------------------------------------------------
    def load_entry_points(self, entry_points: Iterable[Any] | None = None) -> None:
        """Load every entry point of the ``nodeflow.nodes`` group; failures are recorded, not raised."""
        if entry_points is None:
            entry_points = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
        for ep in sorted(entry_points, key=lambda e: e.name):
            try:
                self._register_object(ep.load())
            except Exception as exc:  # a broken plugin must never take the engine down
                self.record_failure(ep.name, exc)

    def record_failure(self, name: str, exc: BaseException) -> None:
        """Note a node package that could not be loaded; it is skipped, never fatal."""
        failure = PluginFailure(name, f"{type(exc).__name__}: {exc}")
        self.failures.append(failure)
        log.warning("skipped node package %r: %s", name, failure.error)

    def _register_object(self, obj: Any) -> None:
        if isinstance(obj, type) and issubclass(obj, Node):
            self.register(obj)
        elif callable(obj):
            obj(self)
        elif isinstance(obj, Iterable):
            for item in obj:
                self.register(item)
        else:
            raise TypeError(f"entry point gives {type(obj).__name__}, not a Node, list or callable")


_default: Registry | None = None


def default_registry() -> Registry:
    """The registry with every installed node package, built on first use."""
    global _default
    if _default is None:
        registry = Registry()
        registry.load_entry_points()
        _default = registry
    return _default
