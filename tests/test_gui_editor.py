"""Editor: Qt shim, palette from a registry, load/save round trip, connections, params (offscreen Qt)."""

from __future__ import annotations

import json

import pytest
from engine_nodes import make_registry
from gui_windows import editor_window
from PyQt6.QtCore import QPoint, Qt, QTimer
from PyQt6.QtGui import QColor
from PyQt6.QtTest import QTest

from nodeflow.graph import GraphSpec
from nodeflow.gui.app import build_window
from nodeflow.gui.canvas import EditorGraph
from nodeflow.gui.field_editors import (
    BoolEditor,
    ChoiceEditor,
    ColorEditor,
    FloatEditor,
    IntEditor,
    JsonEditor,
    PathEditor,
    TextEditor,
    make_editor,
)
from nodeflow.gui.palette import PROBLEM_BORDER, SOCKET_COLORS, Palette, param_prop
from nodeflow.gui.scene_io import load_spec, scene_to_spec
from nodeflow.node import Input, Node, Output
from nodeflow.params import Color, InputPath, NodeParams, OutputPath
from nodeflow.registry import Registry
from nodeflow.types import IMAGE, MASK, STRING

pytestmark = pytest.mark.gui

GRAPH = {
    "format": "nodeflow/1",
    "nodes": {
        "c": {"type": "Const", "params": {"size": 8, "value": 0.25}},
        "o": {"type": "Offset", "params": {"offset": 0.1, "mode": "add"},
              "inputs": {"amount": {"node": "c", "output": "value"}, "image": {"node": "c", "output": "image"}}},
        "m": {"type": "MaskIn", "inputs": {"mask": {"node": "o", "output": "image"}}},
        "text": {"type": "ReadText", "params": {"path": "notes.txt"}},
        "gone": {"type": "NoSuchType", "params": {"q": [1, 2]}, "inputs": {"a": {"node": "c", "output": "image"}}},
        "i": {"type": "ImageIn", "inputs": {"image": {"node": "gone", "output": "out"},
                                            "bogus": {"node": "nowhere", "output": "x"}}},
    },
    "outputs": {"result": {"node": "o", "output": "image"}},
    "ui": {"c": {"pos": [0, 0], "note": "a note"}, "o": {"pos": [240.5, 10], "color": "#336699"},
           "view": {"zoom": 1.5}},
}


@pytest.fixture
def window(qtbot):
    with editor_window(qtbot) as w:
        yield w


@pytest.fixture
def graph_file(tmp_path):
    path = tmp_path / "graph.json"
    path.write_text(GraphSpec.from_data(GRAPH).dumps(), encoding="utf-8")
    return path


def test_shim_gives_qt5_names_under_pyqt6():
    import Qt
    from PyQt6 import QtCore, QtWidgets

    assert Qt.__binding__ == "PyQt6"
    assert QtCore.Qt.AlignLeft is QtCore.Qt.AlignmentFlag.AlignLeft
    assert QtWidgets.QGraphicsItem.DeviceCoordinateCache is \
        QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache
    assert QtWidgets.QMenu.__dict__["exec_"] is QtWidgets.QMenu.__dict__["exec"]


def test_palette_has_one_class_per_type_with_ports_and_params(qtbot):
    registry = make_registry()
    palette = Palette.from_registry(registry)
    assert set(palette.classes) == set(registry)
    assert palette.categories() == {"test": sorted(registry)}
    graph = EditorGraph(palette)
    assert palette.classes["Offset"].type_ == "nodeflow.test.Offset"
    assert "nodeflow.test.Offset" in graph.registered_nodes()
    node = graph.add_node_of_type("Offset")
    assert node.name() == "offset"
    assert list(node.inputs()) == ["image", "amount"] and list(node.outputs()) == ["image"]
    assert tuple(node.inputs()["image"].color) == SOCKET_COLORS["Image"]
    assert tuple(node.inputs()["amount"].color) == SOCKET_COLORS["Float"]
    assert node.get_property(param_prop("offset")) == 0.0
    assert node.get_property(param_prop("mode")) == "add"
    assert graph.add_node_of_type("Offset").name() == "offset_2"


def test_field_editors_follow_the_params_model(qtbot):
    class Demo(Node):
        class Params(NodeParams):
            flag: bool = False
            mode: str = "a"
            size: int = 3
            sigma: float = 1.0
            src: InputPath = "in.png"
            dst: OutputPath = "out.png"
            tint: Color = (1.0, 0.0, 0.0, 1.0)
            rect: tuple[int, int] | None = None

    from typing import Literal

    from pydantic import Field, create_model

    Ranged = create_model("Ranged", __base__=NodeParams, k=(int, Field(5, ge=1, le=9)),
                          x=(float, Field(0.5, gt=0, le=2)), pick=(Literal["a", "b"], "a"))
    fields = Demo.Params.model_fields
    kinds = {name: type(make_editor(info, _role(Demo.Params, name), lambda: None)) for name, info in fields.items()}
    assert kinds == {"flag": BoolEditor, "mode": TextEditor, "size": IntEditor, "sigma": FloatEditor,
                     "src": PathEditor, "dst": PathEditor, "tint": ColorEditor, "rect": JsonEditor}
    k = make_editor(Ranged.model_fields["k"], None, lambda: None)
    assert (k.spin.minimum(), k.spin.maximum()) == (1, 9)
    x = make_editor(Ranged.model_fields["x"], None, lambda: None)
    assert 0 < x.spin.minimum() < 0.01 and x.spin.maximum() == 2
    pick = make_editor(Ranged.model_fields["pick"], None, lambda: None)
    assert isinstance(pick, ChoiceEditor) and pick.combo.count() == 2


def _role(model, name):
    from nodeflow.params import field_role

    return field_role(model, name)


def test_load_then_save_gives_identical_bytes(window, graph_file, tmp_path):
    original = graph_file.read_bytes()
    assert window.load(graph_file)
    assert not window.is_modified()
    out = tmp_path / "saved.json"
    assert window.save(out)
    assert out.read_bytes() == original
    # placeholder for the unknown type, its edges and params kept; outputs and ui kept
    gone = window.graph.node_by_id("gone")
    assert gone.node_cls is None and "a" in gone.inputs() and "out" in gone.outputs()
    assert window.graph.node_by_id("o").color()[:3] == (0x33, 0x66, 0x99)


def test_edits_are_written_to_the_spec(window, graph_file):
    window.load(graph_file)
    node = window.graph.node_by_id("c")
    node.set_pos(100, 50)
    window.graph.delete_nodes([window.graph.node_by_id("m")])
    added = window.add_node("Const")
    spec = window.current_spec()
    assert spec.ui["c"] == {"note": "a note", "pos": [100, 50]}
    assert "m" not in spec.nodes and "m" not in spec.ui
    assert list(spec.nodes)[-1] == added.name() == "const" and set(spec.ui["const"]) == {"pos"}
    added.set_color(10, 20, 30)
    assert window.current_spec().ui["const"]["color"] == "#0a141e"
    assert window.is_modified() and window.windowTitle().startswith("graph.json*")


def test_rename_follows_into_outputs_and_ui(window, graph_file):
    window.load(graph_file)
    window.graph.node_by_id("o").set_name("offset node")  # not a valid id: corrected
    spec = window.current_spec()
    assert "offset_node" in spec.nodes and "o" not in spec.nodes
    assert spec.outputs["result"].node == "offset_node"
    assert spec.nodes["m"].inputs["mask"].node == "offset_node"
    assert spec.ui["offset_node"]["pos"] == [240.5, 10] and "o" not in spec.ui
    window.graph.undo_stack().undo()
    assert window.current_spec().outputs["result"].node == "o"


def test_incompatible_connection_is_refused_with_both_types(window, qtbot):
    g = window.graph
    text, image_in, const, mask_in = (window.add_node(t) for t in ("ReadText", "ImageIn", "Const", "MaskIn"))
    with qtbot.waitSignal(g.connection_refused) as refused:
        assert not g.try_connect(text.outputs()["text"], image_in.inputs()["image"])
    assert "String" in refused.args[0] and "Image" in refused.args[0]
    assert window.statusBar().currentMessage() == refused.args[0]
    assert not image_in.inputs()["image"].connected_ports()
    # the viewer's drag-and-drop check refuses it too
    viewer = g.viewer()
    assert viewer._validate_reject_connection(text.outputs()["text"].view, image_in.inputs()["image"].view)
    assert viewer._validate_reject_connection(image_in.inputs()["image"].view, text.outputs()["text"].view)
    # implicit conversions connect (Float -> Mask)
    assert g.try_connect(const.outputs()["value"], mask_in.inputs()["mask"])
    assert not viewer._validate_reject_connection(const.outputs()["image"].view, mask_in.inputs()["mask"].view)
    assert window.current_spec().nodes[mask_in.name()].inputs["mask"].node == const.name()


def test_editing_a_param_in_the_panel_changes_the_spec(window, graph_file, qtbot):
    window.load(graph_file)
    node = window.graph.node_by_id("o")
    node.set_selected(True)
    qtbot.waitUntil(lambda: window.params.node is node)
    panel = window.params
    panel.editors["offset"].spin.setValue(0.5)
    assert window.current_spec().nodes["o"].params == {"mode": "add", "offset": 0.5}
    panel.editors["mode"].line.setText("sub")
    panel.editors["mode"].line.editingFinished.emit()
    assert window.current_spec().nodes["o"].params["mode"] == "sub"
    window.graph.undo_stack().undo()
    assert window.current_spec().nodes["o"].params["mode"] == "add"
    assert panel.editors["mode"].value() == "add"  # the panel follows undo
    # an invalid value is shown under its field at once
    panel.editors["mode"].line.setText("mul")
    panel.editors["mode"].line.editingFinished.emit()
    assert not panel.errors["mode"].isHidden() and "pattern" in panel.errors["mode"].text()


def test_new_node_params_default_values_are_left_out(window):
    node = window.add_node("Const")
    panel = window.params
    assert panel.node is node
    panel.editors["size"].spin.setValue(16)
    assert window.current_spec().nodes["const"].params == {"size": 16}
    panel.editors["size"].spin.setValue(4)  # the default again
    assert window.current_spec().nodes["const"].params == {}


def test_colour_and_path_params(qtbot, tmp_path):
    class Paint(Node):
        category = "test"
        inputs = (Input("image", IMAGE),)
        outputs = (Output("mask", MASK), Output("label", STRING))

        class Params(NodeParams):
            tint: Color = (0.0, 0.0, 0.0)
            source: InputPath = "a.png"

    registry = Registry()
    registry.register(Paint)
    w = build_window(registry=registry)
    qtbot.addWidget(w)
    w.path = tmp_path / "g.json"
    node = w.add_node("Paint")
    w.params.editors["tint"].set_color(QColor(255, 0, 0))
    assert w.current_spec().nodes["paint"].params["tint"] == "#ff0000"
    assert w.params.editors["source"].base_dir() == tmp_path
    assert node.node_cls is Paint


def test_unreadable_file_is_reported_not_raised(window, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    assert not window.load(bad)
    assert any("not valid JSON" in t for t in window.log.texts("error"))
    newer = tmp_path / "newer.json"
    newer.write_text(json.dumps({"format": "nodeflow/9", "nodes": {}}), encoding="utf-8")
    assert not window.load(newer)
    assert any("newer than this nodeflow" in t for t in window.log.texts("error"))


def test_invalid_graph_loads_and_lists_its_problems(window, graph_file):
    assert window.load(graph_file)
    errors = "\n".join(window.log.texts("error"))
    assert "unknown node type 'NoSuchType'" in errors
    assert "unknown input 'bogus'" in errors and "file not found" in errors
    problems = window.validate()
    assert any(p.node == "gone" and p.field == "type" for p in problems)


def test_scene_io_without_a_window(qtbot):
    palette = Palette.from_registry(make_registry())
    graph = EditorGraph(palette)
    spec = GraphSpec.from_data(GRAPH)
    state = load_spec(graph, spec)
    assert scene_to_spec(graph, state).dumps() == spec.dumps()


def test_library_adds_nodes_by_activation_and_drag_and_drop(window):
    tree = window.library.tree
    test_category = tree.topLevelItem(0)
    item = next(test_category.child(i) for i in range(test_category.childCount())
                if test_category.child(i).text(0) == "Offset")
    tree.itemActivated.emit(item, 0)
    assert window.graph.node_by_id("offset") is not None
    mime = tree.mimeData([item])
    window.graph._on_node_data_dropped(mime, QPoint(300, 200))  # what the viewer does on a drop
    dropped = window.graph.node_by_id("offset_2")
    assert dropped is not None and dropped.pos() == [300.0, 200.0]
    window.library.filter.setText("const")
    assert item.isHidden() and not test_category.isHidden()


def test_validation_problems_mark_their_nodes(window):
    node = window.add_node("ImageIn")  # its required input is not connected
    problems = window.validate()
    assert [p.node for p in problems] == ["image_in"]
    assert tuple(node.view.border_color) == PROBLEM_BORDER
    source = window.add_node("Const")
    window.graph.try_connect(source.outputs()["image"], node.inputs()["image"])
    assert window.validate() == []
    assert tuple(node.view.border_color) == node.nf_border


def _drag(viewer, from_port, to_port) -> None:
    """Drag a pipe with the mouse from one port to another, as a user does."""
    start = viewer.mapFromScene(from_port.view.sceneBoundingRect().center())
    end = viewer.mapFromScene(to_port.view.sceneBoundingRect().center())
    vp = viewer.viewport()
    QTest.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    for k in range(1, 9):
        QTest.mouseMove(vp, start + (end - start) * (k / 8))
    QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, end)


def test_dragging_a_pipe_connects_only_compatible_sockets(window, qtbot):
    window.show()
    g = window.graph
    text = g.add_node_of_type("ReadText", pos=(0, 0))
    image_in = g.add_node_of_type("ImageIn", pos=(300, 0))
    const = g.add_node_of_type("Const", pos=(0, 200))
    g.center_on([text, image_in, const])
    qtbot.wait(10)
    with qtbot.waitSignal(g.connection_refused):
        _drag(g.viewer(), text.outputs()["text"], image_in.inputs()["image"])
    assert not image_in.inputs()["image"].connected_ports()
    assert "String" in window.statusBar().currentMessage()
    _drag(g.viewer(), const.outputs()["image"], image_in.inputs()["image"])
    assert window.current_spec().nodes["image_in"].inputs["image"].node == "const"


def test_copy_paste_and_undo_keep_ids_valid(window):
    g = window.graph
    const = window.add_node("Const")
    const.set_param("size", 9)
    offset = window.add_node("Offset")
    g.try_connect(const.outputs()["image"], offset.inputs()["image"])
    for node in g.all_nodes():
        node.set_selected(True)
    g.copy_nodes()
    g.paste_nodes()
    spec = window.current_spec()
    assert set(spec.nodes) == {"const", "offset", "const_1", "offset_1"}
    assert spec.nodes["const_1"].params == {"size": 9}
    assert spec.nodes["offset_1"].inputs["image"].node == "const_1"
    g.delete_nodes([g.node_by_id("const")])
    assert "image" not in window.current_spec().nodes["offset"].inputs
    g.undo_stack().undo()
    assert window.current_spec().nodes["offset"].inputs["image"].node == "const"


def test_tab_opens_the_node_search_and_a_pick_adds_a_node(window, qtbot):
    window.show()
    viewer = window.graph.viewer()
    viewer.setFocus()
    qtbot.waitUntil(viewer.hasFocus)
    seen = []

    def look_then_close():  # the search is a popup menu with its own event loop
        seen.append(viewer._search_widget.isVisible())
        viewer._search_widget._close()

    QTimer.singleShot(200, look_then_close)
    QTest.keyClick(viewer, Qt.Key.Key_Tab)
    qtbot.waitUntil(lambda: bool(seen))
    assert seen == [True]
    viewer.search_triggered.emit(window.palette.classes["Const"].type_, (40.0, 60.0))
    node = window.graph.node_by_id("const")
    assert node is not None and node.pos() == [40.0, 60.0]
