"""Open a graph in a real editor window, optionally run part of it, and save a screenshot.

``python -m nodeflow.gui.screenshot GRAPH OUT.png [--run-to NODE] [--frames 0:4] [--view NODE]
[--frame N] [--mode alpha] [--menu TEXT] [--size 1600x1000] [--canvas X,Y,W,H]``. Used by the Xvfb test and by
``scripts/screenshots.sh`` (the README's pictures); the window is grabbed from the screen when the
platform allows it (Xvfb), else rendered.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from PyQt6.QtCore import QEventLoop, QPoint, QRectF, QTimer
from PyQt6.QtGui import QColor, QPainter, QPixmap
from PyQt6.QtWidgets import QApplication

from nodeflow.gui.app import build_window, ensure_app
from nodeflow.gui.preview_view import MODES
from nodeflow.gui.window import EditorWindow

SETTLE_MS = 400


def wait(ms: int) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def run_and_wait(window: EditorWindow, start: bool, timeout_ms: int = 600_000) -> str:
    """Wait for the run ``start`` began; returns its status."""
    if not start:
        return "not started"
    status: list[str] = []
    loop = QEventLoop()
    window.runner.done.connect(lambda s: (status.append(s), loop.quit()))
    QTimer.singleShot(timeout_ms, loop.quit)
    loop.exec()
    return status[0] if status else "timeout"


def select(window: EditorWindow, node_id: str) -> None:
    for node in window.graph.selected_nodes():
        node.set_selected(False)
    node = window.graph.node_by_id(node_id)
    if node is None:
        raise SystemExit(f"no node {node_id!r} in the graph")
    node.set_selected(True)
    wait(50)


def grab(window: EditorWindow) -> QPixmap:
    screen = window.screen()
    if QApplication.platformName() == "xcb" and screen is not None:
        geo = window.frameGeometry()
        shot = screen.grabWindow(0, geo.x(), geo.y(), geo.width(), geo.height())
        if not shot.isNull():
            return shot
    return window.grab()


def canvas_part(window: EditorWindow, rect: str) -> QPixmap:
    """The canvas within ``"x,y,w,h"`` (scene coordinates) at 1:1: nodes and wires up close."""
    x, y, w, h = (float(v) for v in rect.split(","))
    pixmap = QPixmap(round(w), round(h))
    pixmap.fill(QColor(35, 35, 35))
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    window.graph.scene().render(painter, QRectF(0, 0, w, h), QRectF(x, y, w, h))
    painter.end()
    return pixmap


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nodeflow.gui.screenshot")
    parser.add_argument("graph")
    parser.add_argument("out")
    parser.add_argument("--run-to", help="run what leads to this node first")
    parser.add_argument("--frames", default="", help="frames box for that run (e.g. 0:4)")
    parser.add_argument("--view", help="node to show in the viewer (default: the --run-to node)")
    parser.add_argument("--frame", type=int, help="frame to scrub to")
    parser.add_argument("--mode", choices=["rgb", "alpha", "mask"], default="rgb")
    parser.add_argument("--menu", help="open the Add menu and type this into its search")
    parser.add_argument("--size", default="1600x1000")
    parser.add_argument("--canvas", metavar="X,Y,W,H",
                        help="save only this part of the canvas (scene coordinates, drawn 1:1), not the window")
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    app = ensure_app()
    window = build_window(args.graph)
    window.ask_before_discard = False  # never block on a dialog
    w, h = (int(v) for v in args.size.split("x"))
    window.resize(w, h)
    window.move(0, 0)
    window.show()
    wait(SETTLE_MS)
    if args.run_to:
        window.frames_edit.setText(args.frames)
        select(window, args.run_to)
        status = run_and_wait(window, window.run_to_here())
        print(f"run to {args.run_to}: {status}")
        if status != "ok":
            print("\n".join(window.log.texts("error")), file=sys.stderr)
            return 1
    view = args.view or args.run_to
    if view:
        select(window, view)
        window.preview.mode_box.setCurrentText({"rgb": MODES[0], "alpha": MODES[1], "mask": MODES[2]}[args.mode])
    if args.frame is not None:
        scrubbed = window.preview.slider.value() != args.frame
        window.preview.slider.setValue(args.frame)
        if scrubbed and window.preview.shown_array() is None:
            run_and_wait(window, True)
    if args.menu is not None:
        viewer = window.graph.viewer()
        at = viewer.viewport().mapToGlobal(QPoint(viewer.viewport().width() // 3, viewer.viewport().height() // 4))
        menu = window.open_add_menu(at)
        menu.search.setText(args.menu)
    wait(SETTLE_MS)
    pixmap = grab(window) if args.canvas is None else canvas_part(window, args.canvas)
    out = Path(args.out)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp{out.suffix}")
    if not pixmap.save(str(tmp)):
        tmp.unlink(missing_ok=True)
        print(f"cannot write {args.out}", file=sys.stderr)
        return 1
    os.replace(tmp, out)  # atomic: an interrupted run never leaves half a PNG
    print(f"wrote {args.out} ({pixmap.width()}×{pixmap.height()}, platform {app.platformName()})")
    window.close()
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip the interpreter's teardown: it destroys Qt's and NodeGraphQt's objects in no fixed order,
    # which now and then segfaults after the picture is safely written (a one-shot tool: nothing
    # else is left to clean up).
    os._exit(code)
