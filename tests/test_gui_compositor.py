"""What a compositor user reaches for: viewer + timeline, Run to here, Add menu, wires (offscreen Qt)."""

from __future__ import annotations

import engine_nodes
import numpy as np
import pytest
from engine_nodes import CALLS
from gui_windows import editor_window
from PyQt6.QtCore import QPoint, QPointF, Qt
from PyQt6.QtGui import QContextMenuEvent
from PyQt6.QtTest import QTest
from PyQt6.QtWidgets import QApplication

from nodeflow.events import NodeProgress
from nodeflow.graph import GraphSpec
from nodeflow.gui.canvas import LivePipeItem, PipeItem
from nodeflow.gui.palette import RUNNING_BORDER, SOCKET_COLORS
from nodeflow.gui.preview_view import MODES, checkerboard, compose
from nodeflow.gui.wire_routing import crosses

pytestmark = pytest.mark.gui

TIMEOUT_MS = 15000

NODES = {
    "c": {"type": "Const", "params": {"size": 16, "value": 0.25}},
    "o": {"type": "Offset", "params": {"offset": 0.5}, "inputs": {"image": {"node": "c", "output": "image"}}},
    "f": {"type": "Frames", "params": {"count": 6, "size": 8}},
    "fo": {"type": "Offset", "params": {"offset": 0.1},
           "inputs": {"image": {"node": "f", "output": "image"}, "amount": {"node": "c", "output": "value"}}},
    "s": {"type": "CountSink", "inputs": {"image": {"node": "fo", "output": "image"}}},
}


@pytest.fixture
def window(qtbot, tmp_path):
    engine_nodes.reset()
    path = tmp_path / "clip.json"
    GraphSpec.from_data({"format": "nodeflow/1", "nodes": NODES,
                         "outputs": {"result": {"node": "o", "output": "image"}},
                         "ui": {"c": {"note": "a grey square"}}}).save(path)
    with editor_window(qtbot, path) as w:
        w.resize(1200, 800)
        w.show()
        qtbot.waitExposed(w)
        yield w


def run(window, qtbot, start) -> str:
    with qtbot.waitSignal(window.runner.done, timeout=TIMEOUT_MS) as done:
        assert start()
    return done.args[0]


def select(window, qtbot, node_id):
    for n in window.graph.selected_nodes():
        n.set_selected(False)
    window.graph.node_by_id(node_id).set_selected(True)
    qtbot.waitUntil(lambda: window.preview.node_id == node_id)


def test_frame_slider_scrubs_and_runs_only_what_the_frame_needs(window, qtbot):
    window.frames_edit.setText("0:2")
    select(window, qtbot, "fo")
    assert run(window, qtbot, window.run_graph) == "ok"
    viewer = window.preview
    assert viewer.slider.isEnabled() and viewer.slider.maximum() == 5  # the whole clip, 6 frames
    assert "fo.image" in viewer.caption.text() and "frame 0" in viewer.caption.text()
    assert viewer.strip.computed == {0, 1} and viewer.strip.count == 6  # the timeline shows what is there
    first = viewer.shown_array().copy()
    sink_batches = list(engine_nodes.CountSink.received)
    calls = dict(CALLS)
    # scrub with the keyboard to frame 4: that frame is computed for the viewed node only
    viewer.slider.setFocus()
    with qtbot.waitSignal(window.runner.done, timeout=TIMEOUT_MS):
        for _ in range(4):
            QTest.keyClick(viewer.slider, Qt.Key.Key_Right)
    qtbot.waitUntil(lambda: "frame 4" in viewer.caption.text() and not window.runner.running)
    assert CALLS["fo"] > calls["fo"] and CALLS["c"] == calls["c"]  # static input reused from the cache
    assert engine_nodes.CountSink.received == sink_batches  # sinks do not run while scrubbing
    assert not np.array_equal(viewer.shown_array(), first)  # Frames gives each frame its own grey
    assert viewer.strip.computed == {0, 1, 4}
    # back to a frame already computed: shown at once, nothing runs
    calls = dict(CALLS)
    viewer.slider.setValue(1)
    assert "frame 1" in viewer.caption.text() and not window.runner.running
    QTest.qWait(200)
    assert calls == CALLS


def test_play_steps_through_the_clip(window, qtbot):
    window.frames_edit.setText("0:2")
    select(window, qtbot, "fo")
    assert run(window, qtbot, window.run_graph) == "ok"  # frames 0 and 1; the others on the way
    viewer = window.preview
    QTest.mouseClick(viewer.play_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: viewer.slider.value() >= 4 and viewer.shown_array() is not None, timeout=10000)
    assert set(viewer.store["fo"]["image"]) >= {0, 1, 2, 3, 4}  # computed while playing
    QTest.mouseClick(viewer.play_button, Qt.MouseButton.LeftButton)
    stopped = viewer.slider.value()
    QTest.qWait(300)
    assert viewer.slider.value() == stopped and f"frame {stopped}" in viewer.caption.text()


def test_viewer_zoom_and_alpha_on_a_checkerboard(window, qtbot):
    select(window, qtbot, "o")
    assert run(window, qtbot, window.run_graph) == "ok"
    viewer = window.preview
    shown = viewer.pixmap()
    assert shown is not None and shown.width() == 16
    viewer.zoom_box.setCurrentText("400%")
    assert viewer.picture.pixmap().width() == 64
    viewer.zoom_box.setCurrentText("fit")
    # an RGBA pixel half transparent shows the checkerboard through it; a mask as white over it
    rgba = np.zeros((16, 16, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[..., 3] = 128
    over = compose(rgba, MODES[1])
    board = checkerboard(16, 16)[..., 0]
    expect_green = np.round(board * (1 - 128 / 255) * 255)
    assert np.abs(over[..., 1].astype(float) - expect_green).max() <= 1
    assert compose(rgba, MODES[2])[0, 0].tolist() == [128, 128, 128]
    assert compose(rgba, MODES[0])[0, 0].tolist() == [255, 0, 0]
    mask = np.zeros((16, 16, 1), np.uint8)
    assert compose(mask, MODES[1])[0, 0, 0] == round(board[0, 0] * 255)


def test_viewer_shows_any_image_of_a_batch_and_any_output(window, qtbot):
    viewer = window.preview
    batch = np.stack([np.full((4, 6, 3), v, np.uint8) for v in (10, 120, 240)])
    mask = np.full((1, 4, 6, 1), 200, np.uint8)
    viewer.add_outputs("c", {"image": batch, "mask": mask}, None)
    select(window, qtbot, "c")
    assert viewer.index_box.isEnabled() and viewer.index_box.maximum() == 2
    viewer.index_box.setValue(2)
    assert viewer.shown_array()[0, 0].tolist() == [240, 240, 240] and "image 3 of 3" in viewer.caption.text()
    viewer.output_box.setCurrentIndex(1)
    viewer.output_box.activated.emit(1)
    assert "c.mask" in viewer.caption.text() and viewer.shown_array()[0, 0].tolist() == [200, 200, 200]


def test_run_to_here_computes_only_what_leads_to_the_selection(window, qtbot):
    select(window, qtbot, "o")
    assert run(window, qtbot, window.run_to_here) == "ok"
    assert CALLS["c"] == 1 and CALLS["o"] == 1
    assert "f" not in CALLS and engine_nodes.CountSink.received == []
    assert window.preview.pixmap() is not None


def test_node_being_computed_is_highlighted(window, qtbot):
    slow = window.add_node("Slow")
    slow.set_param("steps", 20)
    slow.set_param("sleep", 0.01)
    seen = []

    def on_event(event):
        if isinstance(event, NodeProgress) and event.node_id == "slow" and not seen:
            seen.append(tuple(slow.view.border_color))

    window.runner.event.connect(on_event)
    assert run(window, qtbot, window.run_graph) == "ok"
    assert seen == [RUNNING_BORDER]
    assert tuple(slow.view.border_color) == slow.nf_border


def test_right_click_and_shift_a_open_the_add_menu_with_search(window, qtbot):
    viewer = window.graph.viewer()
    vp = viewer.viewport()
    at = QPoint(60, 80)
    QApplication.sendEvent(vp, QContextMenuEvent(QContextMenuEvent.Reason.Mouse, at, vp.mapToGlobal(at)))
    menu = window.add_menu
    qtbot.waitUntil(menu.isVisible)
    assert {"test"} <= set(menu.category_menus)
    QTest.keyClicks(menu.search, "offset")
    assert menu.hits() == ["Offset"]
    QTest.keyClick(menu.search, Qt.Key.Key_Return)
    node = window.graph.node_by_id("offset")
    assert node is not None
    expected = viewer.mapToScene(at)
    assert abs(node.pos()[0] - expected.x()) < 1 and abs(node.pos()[1] - expected.y()) < 60
    # Shift+A over the canvas; the search also looks in docs
    viewer.setFocus()
    qtbot.waitUntil(viewer.hasFocus)
    QTest.keyClick(viewer, Qt.Key.Key_A, Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(menu.isVisible)
    doc_word = (engine_nodes.CountSink.__doc__ or "").split()[0].lower()
    QTest.keyClicks(menu.search, doc_word)
    assert "CountSink" in menu.hits()
    menu.close()


def test_right_click_on_a_node_offers_run_to_here(window, qtbot):
    viewer = window.graph.viewer()
    vp = viewer.viewport()
    node = window.graph.node_by_id("o")
    at = viewer.mapFromScene(node.view.sceneBoundingRect().center())
    QApplication.sendEvent(vp, QContextMenuEvent(QContextMenuEvent.Reason.Mouse, at, vp.mapToGlobal(at)))
    menu = window.node_menu
    qtbot.waitUntil(menu.isVisible)
    assert window.selected_node() is node and not window.add_menu.isVisible()
    assert [a.text() for a in menu.actions()] == ["Run to &Here", "Add &Frame", "&Delete"]
    with qtbot.waitSignal(window.runner.done, timeout=TIMEOUT_MS):
        menu.actions()[0].trigger()
    assert CALLS["o"] == 1 and "f" not in CALLS


def _free_point(viewer, near):
    """A viewport point near ``near`` with nothing under it (empty canvas)."""
    for dy in range(40, 400, 20):
        for dx in (0, 40, 80, -40):
            p = near + QPoint(dx, dy)
            if viewer.viewport().rect().contains(p) and not viewer.scene().items(
                    viewer.mapToScene(p).toPoint().toPointF()):
                return p
    raise AssertionError("no empty canvas near the port")


def _port_point(viewer, port):
    return viewer.mapFromScene(port.view.sceneBoundingRect().center())


def test_wire_dropped_on_empty_canvas_offers_compatible_nodes_and_connects(window, qtbot):
    g = window.graph
    const = g.node_by_id("c")
    viewer = g.viewer()
    vp = viewer.viewport()
    start = _port_point(viewer, const.outputs()["image"])
    end = _free_point(viewer, start)
    QTest.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    for k in range(1, 9):
        QTest.mouseMove(vp, start + (end - start) * (k / 8))
    # while dragging: ports that fit are outlined, the others dimmed
    fits = g.node_by_id("o").inputs()["image"].view
    text_free = g.node_by_id("f").outputs()["index"].view  # an output: a wire from an output cannot end there
    assert fits.opacity() == 1.0 and tuple(fits.border_color)[:3] == (255, 255, 255)
    assert text_free.opacity() < 0.5
    QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, end)
    assert text_free.opacity() == 1.0  # restored
    menu = window.add_menu
    qtbot.waitUntil(menu.isVisible)
    offered = {a.text() for sub in menu.category_menus.values() for a in sub.actions()}
    assert "Offset" in offered and "ImageIn" in offered and "MaskIn" in offered
    assert "ReadText" not in offered and "Const" not in offered  # no input an Image fits
    QTest.keyClicks(menu.search, "imagein")
    QTest.keyClick(menu.search, Qt.Key.Key_Return)
    added = g.node_by_id("image_in")
    assert added is not None
    assert window.current_spec().nodes["image_in"].inputs["image"].node == "c"
    window.undo_action.trigger()  # adding and connecting is one step
    assert g.node_by_id("image_in") is None


def test_wires_take_their_socket_colour(window):
    g = window.graph
    pipes = [i for i in g.scene().items() if isinstance(i, PipeItem) and not isinstance(i, LivePipeItem)]
    assert pipes
    for pipe in pipes:
        name = "Float" if pipe.output_port.name == "value" else "Image"
        assert tuple(pipe.color)[:3] == SOCKET_COLORS[name]
    new = window.add_node("MaskIn")
    g.try_connect(g.node_by_id("c").outputs()["value"], new.inputs()["mask"])
    pipe = new.inputs()["mask"].view.connected_pipes[0]
    assert tuple(pipe.color)[:3] == SOCKET_COLORS["Float"]


def test_notes_and_node_bodies(window, qtbot):
    const = window.graph.node_by_id("c")
    assert const.body.note == "a grey square"  # from the file's ui section
    assert "size: 16" in const.body.lines and "value: 0.25" in const.body.lines
    select(window, qtbot, "c")
    panel = window.params
    assert panel.note_edit.text() == "a grey square"
    panel.note_edit.setText("the light grey")
    panel.note_edit.editingFinished.emit()
    assert window.current_spec().ui["c"]["note"] == "the light grey" and window.is_modified()
    assert const.body.note == "the light grey"
    window.graph.undo_stack().undo()
    assert window.current_spec().ui["c"]["note"] == "a grey square"
    panel.editors["size"].spin.setValue(12)
    assert "size: 12" in const.body.lines
    assert const.body.thumb is None
    assert run(window, qtbot, window.run_graph) == "ok"
    qtbot.waitUntil(lambda: const.body.thumb is not None)
    assert const.body.thumb.width() > 0 and const.body.boundingRect().height() > const.body.thumb.height()


def test_fit_to_view_on_open_shows_every_node(window):
    viewer = window.graph.viewer()
    visible = viewer.mapToScene(viewer.viewport().rect()).boundingRect()
    for node in window.graph.all_nodes():
        assert visible.contains(node.view.sceneBoundingRect()), node.name()
    assert isinstance(viewer.mapToScene(QPoint(0, 0)), QPointF)


def test_wires_go_around_nodes_in_their_way(window, qtbot):
    g = window.graph
    a = g.add_node_of_type("Const", pos=(0, 2000))  # away from the graph's own nodes
    b = g.add_node_of_type("ImageIn", pos=(900, 2000))
    g.try_connect(a.outputs()["image"], b.inputs()["image"])
    pipe = b.inputs()["image"].view.connected_pipes[0]
    straight = pipe.path()
    blocker = g.add_node_of_type("Offset", pos=(420, 1990))  # right across the wire
    in_the_way = blocker.view.sceneBoundingRect()
    assert crosses(straight, in_the_way)
    viewer = g.viewer()
    viewer.moved_nodes.emit({blocker.view: (420, 2200)})  # what the viewer says after a drag
    routed = pipe.path()
    assert not crosses(routed, in_the_way)
    ends = {routed.pointAtPercent(0).toPoint(), routed.pointAtPercent(1).toPoint()}
    assert ends == {straight.pointAtPercent(0).toPoint(), straight.pointAtPercent(1).toPoint()}
    # out of the way again: the plain curve comes back
    blocker.set_pos(420, 2600)
    g.reroute_wires()
    assert pipe.path() == straight
