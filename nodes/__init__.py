"""nodeflow's built-in node library, installed as ``nodeflow.nodes``.

Each family is a sub-package whose ``NODES`` tuple lists its node classes. The families are
registered through the ``nodeflow.nodes`` entry point ``builtin`` like any plugin; a family
that fails to import (a missing optional dependency) is reported and skipped.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nodeflow.registry import Registry

FAMILIES = ("io", "matte", "composite", "color", "pix2pix", "cyclegan", "singan")


def register_all(registry: Registry) -> None:
    for family in FAMILIES:
        name = f"{__name__}.{family}"
        try:
            module = importlib.import_module(name)
            for node_cls in module.NODES:
                registry.register(node_cls)
        except Exception as exc:
            registry.record_failure(name, exc)
