"""The editor tests' one way to open a window and close it again (a run still going is cancelled)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from engine_nodes import make_registry

from nodeflow.gui.app import build_window  # installs the Qt shim NodeGraphQt needs: import it first
from nodeflow.gui.window import EditorWindow
from nodeflow.registry import Registry


@contextmanager
def editor_window(qtbot, path: Path | None = None, registry: Registry | None = None) -> Iterator[EditorWindow]:
    w = build_window(path, registry=registry if registry is not None else make_registry())
    qtbot.addWidget(w)
    try:
        yield w
    finally:
        w.runner.cancel()
        w.runner.wait()
