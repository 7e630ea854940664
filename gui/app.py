"""Entry points: ``main(argv)`` (``nodeflow edit [GRAPH]``) and ``build_window`` (tests, embedding)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from PyQt6.QtWidgets import QApplication

from nodeflow.gui.window import EditorWindow
from nodeflow.registry import Registry
from nodeflow.session import Session

_APP: QApplication | None = None
"""The QApplication made here: kept referenced, else Python frees it and Qt aborts (exit 134)."""


def ensure_app() -> QApplication:
    """The running QApplication, created (and kept alive) when there is none."""
    global _APP
    app = QApplication.instance()
    if app is None:
        app = QApplication(sys.argv[:1])
        app.setApplicationName("nodeflow editor")
        _APP = app
    return app  # type: ignore[return-value]


def build_window(graph_path: str | Path | None = None, *, registry: Registry | None = None,
                 session: Session | None = None, output_dir: str | Path | None = None) -> EditorWindow:
    """An editor window (not shown), with ``graph_path`` opened when given."""
    ensure_app()
    window = EditorWindow(registry=registry, session=session, output_dir=output_dir)
    if graph_path is not None:
        path = Path(graph_path)
        if path.exists():
            window.load(path)
        else:  # a new graph that will be saved there
            window.path = path
            window.log.write(f"new graph; Save writes {path}")
    return window


def main(argv: Sequence[str] | None = None) -> int:
    """Open the editor (on GRAPH when given) and run until it is closed."""
    parser = argparse.ArgumentParser(prog="nodeflow edit", description="Open the node editor.")
    parser.add_argument("graph", nargs="?", help="graph file to open (created on save if missing)")
    parser.add_argument("--output-dir", help="folder that relative output paths resolve against "
                                             "(default: the graph file's folder)")
    parser.add_argument("--cache-dir", help="disk cache folder (default $NODEFLOW_CACHE_DIR or the user cache)")
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    app = ensure_app()
    session = Session(cache_dir=args.cache_dir) if args.cache_dir else None
    window = build_window(args.graph, session=session, output_dir=args.output_dir)
    window.show()
    return int(app.exec())


if __name__ == "__main__":
    raise SystemExit(main())
