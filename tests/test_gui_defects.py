"""Editor defects of issue 14, each driven through the real widgets (offscreen Qt).

Drops use real ``QDropEvent``s sent to the canvas; they run in a child process, because the
bug they guard against aborts the whole process (exit 134) instead of raising.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import engine_nodes
import pytest
from engine_nodes import make_registry
from gui_windows import editor_window
from pydantic import Field, model_validator
from PyQt6.QtCore import Qt
from PyQt6.QtTest import QTest

from nodeflow.graph import GraphSpec
from nodeflow.gui.app import build_window  # installs the Qt shim NodeGraphQt needs: import it first
from nodeflow.gui.canvas import BackdropNode
from nodeflow.gui.field_editors import FloatEditor, IntEditor
from nodeflow.gui.palette import PROBLEM_BORDER
from nodeflow.node import Input, Node, Output
from nodeflow.params import NodeParams
from nodeflow.registry import Registry
from nodeflow.types import IMAGE

pytestmark = pytest.mark.gui

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT_MS = 15000

DROP_SCRIPT = textwrap.dedent('''
    import sys
    from pathlib import Path
    from PyQt6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
    from PyQt6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
    from PyQt6.QtWidgets import QApplication
    from nodeflow.gui.app import build_window

    folder = Path(sys.argv[1])
    assert QApplication.instance() is None
    window = build_window(folder / "graph.json")  # no QApplication yet: build_window makes one
    window.resize(1200, 800)
    window.show()
    QApplication.processEvents()
    viewer = window.graph.viewer()

    def drop(mime, at):
        """Enter, move and drop through the window, as the platform delivers a real drag."""
        where = viewer.viewport().mapTo(window, QPoint(*at))
        args = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
        for event in (QDragEnterEvent(where, *args), QDragMoveEvent(where, *args), QDropEvent(QPointF(where), *args)):
            QApplication.sendEvent(window.windowHandle(), event)
        QApplication.processEvents()

    tree = window.library.tree
    blur = tree.findItems("Blur", Qt.MatchFlag.MatchExactly | Qt.MatchFlag.MatchRecursive)[0]
    drop(tree.mimeData([blur]), (200, 150))
    files = QMimeData()
    files.setUrls([QUrl.fromLocalFile(str(folder / "photo.png")), QUrl.fromLocalFile(str(folder / "clip.mp4")),
                   QUrl.fromLocalFile(str(folder / "notes.txt"))])
    drop(files, (120, 260))
    text = QMimeData()
    text.setText("just some text")
    drop(text, (100, 100))
    spec = window.current_spec()
    for nid, node in spec.nodes.items():
        print(nid, node.type, node.params.get("path", ""))
    print("modified", window.is_modified())
''')


def test_build_window_without_app_and_real_drops_do_not_crash(tmp_path):
    GraphSpec().save(tmp_path / "graph.json")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-c", DROP_SCRIPT, str(tmp_path)], capture_output=True, text=True,
                          timeout=120, env=env, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    assert "blur Blur " in lines  # the dragged node type, added where it was dropped
    assert "load_image LoadImage photo.png" in lines  # path relative to the graph's folder
    assert "load_video LoadVideo clip.mp4" in lines
    assert not any("notes" in line for line in lines)  # not an image or video: no loader
    assert lines[-1] == "modified True"


@pytest.fixture
def window(qtbot):
    with editor_window(qtbot) as w:
        yield w


def test_undo_and_redo_are_in_the_edit_menu_and_on_ctrl_z(window, qtbot):
    texts = [a.text() for a in window.edit_menu.actions()]
    assert any(t.startswith("&Undo") for t in texts) and any(t.startswith("&Redo") for t in texts)
    window.show()
    qtbot.waitExposed(window)
    window.add_node("Const")
    viewer = window.graph.viewer()
    viewer.setFocus()
    qtbot.waitUntil(viewer.hasFocus)
    QTest.keyClick(viewer, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert window.graph.node_by_id("const") is None
    QTest.keyClick(viewer, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert window.graph.node_by_id("const") is not None
    window.undo_action.trigger()  # the menu entry
    assert window.graph.node_by_id("const") is None
    window.redo_action.trigger()
    assert window.graph.node_by_id("const") is not None


class Ranged(Node):
    """A node with bounded, optional and cross-checked params."""

    category = "test"
    inputs = (Input("image", IMAGE),)
    outputs = (Output("image", IMAGE),)

    class Params(NodeParams):
        k: int = Field(5, ge=1, le=9, description="a bounded int")
        lo: float = Field(0.0, ge=0, le=1)
        hi: float = Field(1.0, ge=0, le=1)
        limit: int | None = Field(None, ge=0, description="optional: unset means automatic")

        @model_validator(mode="after")
        def _ordered(self) -> Ranged.Params:
            if self.hi <= self.lo:
                raise ValueError("hi must be greater than lo")
            return self

    def run(self, ctx, image):
        return {"image": image}


def _ranged_window(qtbot, tmp_path, params):
    registry = Registry()
    registry.register(Ranged)
    path = tmp_path / "g.json"
    GraphSpec.from_data({"format": "nodeflow/1", "nodes": {"r": {"type": "Ranged", "params": params}}}).save(path)
    w = build_window(path, registry=registry)
    qtbot.addWidget(w)
    w.show()
    node = w.graph.node_by_id("r")
    node.set_selected(True)
    qtbot.waitUntil(lambda: w.params.node is node)
    return w


def _type_into(spin, text):
    spin.setFocus()
    spin.selectAll()
    QTest.keyClicks(spin, text)
    QTest.keyClick(spin, Qt.Key.Key_Return)


def test_out_of_range_file_value_is_shown_as_it_is_and_the_limit_can_be_typed(qtbot, tmp_path):
    w = _ranged_window(qtbot, tmp_path, {"k": 12})
    panel = w.params
    k = panel.editors["k"]
    assert isinstance(k, IntEditor) and k.spin.value() == 12  # not clamped to 9
    assert k.range_label.text() == "1 … 9"
    assert not panel.errors["k"].isHidden() and "less than or equal to 9" in panel.errors["k"].text()
    _type_into(k.spin, "9")
    assert w.current_spec().nodes["r"].params == {"k": 9}
    assert panel.errors["k"].isHidden()
    assert (k.spin.minimum(), k.spin.maximum()) == (1, 9)  # the real range is back


def test_cross_field_error_and_optional_number(qtbot, tmp_path):
    w = _ranged_window(qtbot, tmp_path, {"lo": 0.5, "hi": 0.25})
    panel = w.params
    assert not panel.node_error.isHidden() and "hi must be greater than lo" in panel.node_error.text()
    assert panel.editors["lo"].range_label.text() == "0 … 1"
    _type_into(panel.editors["hi"].spin, "0.75")
    assert panel.node_error.isHidden()
    limit = panel.editors["limit"]
    assert isinstance(limit, IntEditor) and limit.set_box is not None and limit.range_label.text() == "≥ 0"
    assert not limit.set_box.isChecked() and not limit.spin.isEnabled()  # unset: automatic
    QTest.keyClick(limit.set_box, Qt.Key.Key_Space)
    _type_into(limit.spin, "7")
    assert w.current_spec().nodes["r"].params["limit"] == 7
    QTest.keyClick(limit.set_box, Qt.Key.Key_Space)
    assert "limit" not in w.current_spec().nodes["r"].params
    assert isinstance(panel.editors["lo"], FloatEditor)


def test_a_dropped_graph_file_is_opened(window, tmp_path):
    from PyQt6.QtCore import QPointF

    other = tmp_path / "other.json"
    GraphSpec.from_data({"format": "nodeflow/1", "nodes": {"c": {"type": "Const"}}}).save(other)
    window.graph.files_dropped.emit([str(other)], QPointF(0, 0))
    assert window.path == other and set(window.current_spec().nodes) == {"c"}


def test_levels_points_out_of_order_are_shown_in_the_panel(qtbot, tmp_path):
    from nodeflow.registry import default_registry

    path = tmp_path / "levels.json"
    GraphSpec.from_data({"format": "nodeflow/1", "nodes": {
        "lv": {"type": "Levels", "params": {"in_black": 0.6, "in_white": 0.4}}}}).save(path)
    w = build_window(path, registry=default_registry())
    qtbot.addWidget(w)
    node = w.graph.node_by_id("lv")
    node.set_selected(True)
    qtbot.waitUntil(lambda: w.params.node is node)
    assert "in_white must be greater than in_black" in w.params.node_error.text()
    assert not w.params.node_error.isHidden()


def test_backdrop_from_tab_search_is_saved_and_marks_modified(window, qtbot, tmp_path):
    window.path = tmp_path / "g.json"
    window.save(window.path)
    assert not window.is_modified()
    window.graph.viewer().search_triggered.emit(BackdropNode.type_, (10.0, 20.0))
    assert window.is_modified() and window.windowTitle().startswith("g.json*")
    frame = next(n for n in window.graph.all_nodes() if isinstance(n, BackdropNode))
    frame.set_selected(True)
    panel = window.params
    qtbot.waitUntil(lambda: panel.node is frame)
    panel.note_edit.setText("the colour steps")  # the frame's text, edited in the panel
    panel.note_edit.editingFinished.emit()
    panel.id_edit.setText("colour steps")  # its title: free text, not an id
    panel.id_edit.editingFinished.emit()
    window.save()
    saved = json.loads(window.path.read_text())["ui"]["@backdrops"]
    assert saved == [{"title": "colour steps", "text": "the colour steps", "pos": [10, 20],
                      "size": [round(frame.size()[0]), round(frame.size()[1])],
                      "color": "#{:02x}{:02x}{:02x}".format(*frame.color()[:3])}]
    other = build_window(window.path, registry=make_registry())
    qtbot.addWidget(other)
    again = [n for n in other.graph.all_nodes() if isinstance(n, BackdropNode)]
    assert [(n.name(), n.text(), n.pos()) for n in again] == [("colour steps", "the colour steps", [10.0, 20.0])]
    assert not other.is_modified()


SMALL = {
    "c": {"type": "Const", "params": {"size": 16, "value": 0.25}},
    "o": {"type": "Offset", "params": {"offset": 0.5}, "inputs": {"image": {"node": "c", "output": "image"}}},
    "f": {"type": "Frames", "params": {"count": 6, "size": 8}},
    "s": {"type": "CountSink", "inputs": {"image": {"node": "f", "output": "image"}}},
}


@pytest.fixture
def small(qtbot, tmp_path):
    engine_nodes.reset()
    path = tmp_path / "small.json"
    GraphSpec.from_data({"format": "nodeflow/1", "nodes": SMALL,
                         "outputs": {"result": {"node": "o", "output": "image"}}}).save(path)
    with editor_window(qtbot, path) as w:
        yield w
    w.runner.cancel()
    w.runner.wait()


def run(window, qtbot, start=None) -> str:
    with qtbot.waitSignal(window.runner.done, timeout=TIMEOUT_MS) as done:
        assert (start or window.run_graph)()
    return done.args[0]


def test_an_unfinished_unconnected_node_does_not_stop_the_run(small, qtbot):
    unfinished = small.add_node("ImageIn")  # required input not connected; selected, so viewed
    qtbot.waitUntil(lambda: small.preview.node_id == "image_in")
    assert run(small, qtbot) == "ok"
    assert engine_nodes.CALLS["o"] == 1 and engine_nodes.CountSink.received
    assert any("not run: image_in" in t for t in small.log.texts("warning"))
    unfinished.set_selected(False)
    qtbot.waitUntil(lambda: small.preview.node_id is None)
    assert run(small, qtbot) == "ok"


def test_a_graph_without_sinks_says_what_to_do(window):
    window.add_node("Const").set_selected(False)
    window.params.show_node(None)
    window.preview.show_node(None)
    assert not window.run_graph()
    assert any("nothing to run" in t for t in window.log.texts("warning"))


def test_opening_another_graph_resets_run_state(small, qtbot, tmp_path):
    small.frames_edit.setText("0:2")
    assert run(small, qtbot) == "ok"
    assert small.progress.run_bar.format() == "ok"
    other = tmp_path / "other.json"
    GraphSpec.from_data({"format": "nodeflow/1", "nodes": {"c": SMALL["c"]}}).save(other)
    assert small.load(other)
    assert small.progress.run_bar.format() == "idle" and small.frames_edit.text() == ""
    assert small.preview.store == {} and not small.preview.slider.isEnabled()


def test_problem_border_clears_once_fixed(small, qtbot):
    node = small.add_node("ImageIn")
    small.validate()
    assert tuple(node.view.border_color) == PROBLEM_BORDER
    source = small.graph.node_by_id("c")
    small.graph.try_connect(source.outputs()["image"], node.inputs()["image"])
    qtbot.waitUntil(lambda: tuple(node.view.border_color) == node.nf_border, timeout=3000)
    node.inputs()["image"].disconnect_from(source.outputs()["image"])  # broken again: marked again
    qtbot.waitUntil(lambda: tuple(node.view.border_color) == PROBLEM_BORDER, timeout=3000)


def test_frames_out_of_the_clip_are_reported_as_typed(small, qtbot):
    small.frames_edit.setText("20:30")
    assert run(small, qtbot) == "failed"
    errors = "\n".join(small.log.texts("error"))
    assert "frames 20:30: the sources provide frames 0..5" in errors
