"""Editor runs: worker thread + signals, incremental re-runs, previews, cancel, errors (offscreen Qt)."""

from __future__ import annotations

import engine_nodes
import pytest
from engine_nodes import CALLS, make_registry
from gui_windows import editor_window
from PyQt6.QtCore import QTimer
from PyQt6.QtWidgets import QApplication

from nodeflow.events import FramesDone, NodeProgress, NodeStarted, RunFinished, RunStarted
from nodeflow.graph import GraphSpec
from nodeflow.gui import app as gui_app
from nodeflow.gui.app import build_window
from nodeflow.gui.palette import PROBLEM_BORDER
from nodeflow.gui.runner import Runner

pytestmark = pytest.mark.gui

TIMEOUT_MS = 15000


def spec_of(nodes: dict, outputs: dict | None = None) -> GraphSpec:
    return GraphSpec.from_data({"format": "nodeflow/1", "nodes": nodes, "outputs": outputs or {}})


SMALL = {
    "c": {"type": "Const", "params": {"size": 16, "value": 0.25}},
    "o": {"type": "Offset", "params": {"offset": 0.5}, "inputs": {"image": {"node": "c", "output": "image"}}},
    "f": {"type": "Frames", "params": {"count": 6, "size": 8}},
    "s": {"type": "CountSink", "inputs": {"image": {"node": "f", "output": "image"}}},
}


@pytest.fixture(autouse=True)
def _reset_counters():
    engine_nodes.reset()


@pytest.fixture
def window(qtbot, tmp_path):
    path = tmp_path / "small.json"
    spec_of(SMALL, {"result": {"node": "o", "output": "image"}}).save(path)
    with editor_window(qtbot, path) as w:
        yield w


def run(window, qtbot) -> str:
    with qtbot.waitSignal(window.runner.done, timeout=TIMEOUT_MS) as done:
        assert window.run_graph()
    return done.args[0]


def test_runner_thread_emits_progress_and_results(qtbot, tmp_path):
    runner = Runner(make_registry())
    events, previews = [], []
    runner.event.connect(events.append)
    runner.preview.connect(lambda nid, out, frame, img: previews.append((nid, out, frame, img.width())))
    spec = spec_of(SMALL, {"result": {"node": "o", "output": "image"}})
    with qtbot.waitSignals([runner.succeeded, runner.done], timeout=TIMEOUT_MS) as blockers:
        assert runner.start(spec, base_dir=tmp_path, batch_size=2)
        assert not runner.start(spec, base_dir=tmp_path)  # one run at a time
    results = blockers.all_signals_and_args[0].args[0]
    assert results["result"].shape == (1, 3, 16, 16)
    assert tuple(blockers.all_signals_and_args[1].args) == ("ok",)
    kinds = [type(e) for e in events]
    assert kinds[0] is RunStarted and kinds[-1] is RunFinished
    assert [e.done for e in events if isinstance(e, FramesDone)] == [2, 4, 6]
    assert {e.node_id for e in events if isinstance(e, NodeStarted)} == {"c", "o", "f", "s"}
    assert {(nid, out) for nid, out, _, _ in previews} == {("c", "image"), ("o", "image"), ("f", "image")}
    assert (tmp_path / "count.txt").read_text() == "6"  # sink output relative to the graph folder
    runner.wait()


def test_run_in_window_then_rerun_only_what_changed(window, qtbot):
    assert run(window, qtbot) == "ok"
    assert CALLS["c"] == 1 and CALLS["o"] == 1
    assert any("ran    o (Offset): no cached result" in t for t in window.log.texts())
    assert window.progress.run_bar.format() == "ok"
    # preview of the selected node
    node = window.graph.node_by_id("o")
    node.set_selected(True)
    qtbot.waitUntil(lambda: window.preview.node_id == "o")
    assert window.preview.pixmap() is not None and "o.image" in window.preview.caption.text()
    # change one param: only that node (and the sink) run again
    window.params.editors["offset"].spin.setValue(0.25)
    assert run(window, qtbot) == "ok"
    assert CALLS["c"] == 1 and CALLS["o"] == 2
    texts = window.log.texts()
    assert any("ran    o (Offset): params changed (offset)" in t for t in texts)
    assert any("reused c (Const): cached (memory)" in t for t in texts)


def test_frames_field_limits_the_run(window, qtbot):
    window.frames_edit.setText("0:2")
    assert run(window, qtbot) == "ok"
    assert engine_nodes.CountSink.received == [(0, 1)]
    window.frames_edit.setText("nonsense")
    assert not window.run_graph()
    assert any("START:STOP" in t for t in window.log.texts("error"))


def test_cancel_stops_a_running_graph(window, qtbot):
    slow = window.add_node("Slow")
    slow.set_param("steps", 200)
    slow.set_param("sleep", 0.02)
    seen = []

    def on_event(event):
        if isinstance(event, NodeProgress) and not seen:
            seen.append(event)
            window.cancel_action.trigger()

    window.runner.event.connect(on_event)
    assert window.cancel_action.isEnabled() is False
    assert run(window, qtbot) == "cancelled"
    assert seen and CALLS["slow"] == 1
    assert "cancelled" in window.log.texts("warning")
    assert window.run_action.isEnabled() and not window.cancel_action.isEnabled()
    assert window.progress.run_bar.format() == "cancelled"


def test_invalid_graph_run_lists_problems_without_crashing(qtbot, tmp_path):
    path = tmp_path / "bad.json"
    spec_of({
        "t": {"type": "ReadText", "params": {"path": "missing.txt"}},
        "i": {"type": "ImageIn"},
        "x": {"type": "Nope"},
    }, {"a": {"node": "t", "output": "text"}, "b": {"node": "i", "output": "image"},
        "c": {"node": "x", "output": "out"}}).save(path)
    w = build_window(path, registry=make_registry())
    qtbot.addWidget(w)
    with qtbot.waitSignal(w.runner.failed, timeout=TIMEOUT_MS) as failed:
        assert w.run_graph()
    message, problems, node_ids = failed.args
    assert message == "graph has 3 problems" and node_ids == ["i", "t", "x"]
    text = "\n".join(str(p) for p in problems)
    assert "missing required input 'image'" in text and "unknown node type 'Nope'" in text
    assert "file not found" in text
    w.runner.wait()
    qtbot.waitUntil(lambda: w.run_action.isEnabled())
    assert any("missing required input 'image'" in t for t in w.log.texts("error"))


def test_failing_node_is_reported_as_node_id_and_type(window, qtbot):
    window.add_node("Boom")
    assert run(window, qtbot) == "failed"
    errors = window.log.texts("error")
    assert any(t.startswith("node boom (Boom): ZeroDivisionError") for t in errors)
    assert window.statusBar().currentMessage().startswith("node boom (Boom)")
    boom = window.graph.node_by_id("boom")
    assert tuple(boom.view.border_color) == PROBLEM_BORDER  # the node at fault is marked
    # the editor keeps working: fix the graph and run again
    window.graph.delete_nodes([window.graph.node_by_id("boom")])
    assert run(window, qtbot) == "ok"


def test_main_opens_the_editor_and_returns_when_closed(qtbot, tmp_path, monkeypatch):
    monkeypatch.setattr("nodeflow.gui.window.default_registry", make_registry)

    def close_all():
        for widget in QApplication.topLevelWidgets():
            widget.close()

    QTimer.singleShot(300, close_all)
    assert gui_app.main([str(tmp_path / "new.json")]) == 0
