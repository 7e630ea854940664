"""Wires never pass under nodes they do not connect: real editor windows, real scenes, real drags."""

from __future__ import annotations

from pathlib import Path

import pytest
from gui_windows import editor_window
from PyQt6.QtCore import QEvent, QPoint, QPointF, Qt
from PyQt6.QtGui import QColor, QImage, QMouseEvent
from PyQt6.QtWidgets import QApplication

from nodeflow.gui.orthogonal_route import route
from nodeflow.gui.wire_routing import crosses, node_rect, wires_under_nodes
from nodeflow.registry import default_registry

pytestmark = pytest.mark.gui

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def window(qtbot, tmp_path):
    with editor_window(qtbot, tmp_path / "wires.json") as w:
        w.resize(1200, 800)
        w.show()
        qtbot.waitExposed(w)
        yield w


def wire(g, src, dst, output="image", input_="image"):
    g.try_connect(src.outputs()[output], dst.inputs()[input_])
    pipes = [p for p in dst.inputs()[input_].view.connected_pipes if p.output_port.node is src.view]
    assert len(pipes) == 1
    return pipes[0]


def assert_clear(g) -> None:
    assert wires_under_nodes(g.scene()) == []


def assert_port_to_port(pipe) -> None:
    """The routed wire still starts and ends on its two ports."""
    path = pipe.path()
    ends = {path.pointAtPercent(0).toPoint(), path.pointAtPercent(1).toPoint()}
    centres = {port.sceneBoundingRect().center().toPoint() for port in (pipe.input_port, pipe.output_port)}
    assert all(min((e - c).manhattanLength() for c in centres) <= 2 for e in ends), (ends, centres)


def test_a_node_between_the_outputs_lead_and_the_channel_is_gone_around(window):
    # The wire a -> b is blocked by a column of nodes (`wall`); the old router ran out of the
    # output and straight up (or down) to a channel above (or below) the whole column, through
    # `up` (or `low`), which stand right of the output, above and below the wire.
    g = window.graph
    a = g.add_node_of_type("Const", pos=(0, 0))
    b = g.add_node_of_type("ImageIn", pos=(1200, 0))
    pipe = wire(g, a, b)
    wall = [g.add_node_of_type("Offset", pos=(650, y)) for y in (-420, -240, -60, 120, 300)]
    lead_y = pipe.path().pointAtPercent(0).y()
    out_right = node_rect(a.view).right()
    up = g.add_node_of_type("Const", pos=(out_right + 30, 0))
    up.set_pos(out_right + 30, lead_y - 30 - node_rect(up.view).height())
    low = g.add_node_of_type("Const", pos=(out_right + 30, lead_y + 30))
    g.reroute_wires()
    for blocker in (*wall, low, up):
        assert not crosses(pipe.path(), node_rect(blocker.view)), blocker.name()
    assert_port_to_port(pipe)
    assert_clear(g)


def test_a_backward_link_goes_around_the_nodes_between_and_its_own(window):
    g = window.graph
    a = g.add_node_of_type("Const", pos=(800, 0))  # the output, right of the input
    b = g.add_node_of_type("ImageIn", pos=(0, 0))
    between = g.add_node_of_type("Offset", pos=(400, 0))
    pipe = wire(g, a, b)
    g.reroute_wires()
    path = pipe.path()
    assert not crosses(path, node_rect(between.view))
    # nor through its own nodes' bodies: it leaves a to the right and enters b from the left
    for own in (a, b):
        body = own.view.sceneBoundingRect().adjusted(4, 0, -4, 0)
        assert not crosses(path, body), own.name()
    assert_port_to_port(pipe)
    assert_clear(g)


def test_a_link_down_a_column_of_stacked_nodes_does_not_run_through_them(window):
    g = window.graph
    column = [g.add_node_of_type("Offset", pos=(0, 0))]
    for _ in range(4):
        below = node_rect(column[-1].view).bottom() + 30
        column.append(g.add_node_of_type("Offset", pos=(0, below)))
    down = wire(g, column[0], column[-1])
    up = wire(g, column[-1], column[1])
    g.reroute_wires()
    for pipe in (down, up):
        assert_port_to_port(pipe)
        for node in column:
            if node.view not in (pipe.input_port.node, pipe.output_port.node):
                assert not crosses(pipe.path(), node_rect(node.view)), node.name()
    assert_clear(g)


def drag(viewer, item, by: QPointF, steps: int = 6, on_the_way=None) -> None:
    """Drag ``item`` with the mouse, as a user does: press on its title, move, release."""
    viewport = viewer.viewport()
    grab = item.sceneBoundingRect().topLeft() + QPointF(20, 8)
    start = viewer.mapFromScene(grab)
    end = viewer.mapFromScene(grab + by)

    def send(kind, at: QPoint, buttons) -> None:
        point = QPointF(at)
        event = QMouseEvent(kind, point, viewport.mapToGlobal(point), Qt.MouseButton.LeftButton, buttons,
                            Qt.KeyboardModifier.NoModifier)
        QApplication.sendEvent(viewport, event)

    send(QEvent.Type.MouseButtonPress, start, Qt.MouseButton.LeftButton)
    for k in range(1, steps + 1):
        at = start + (end - start) * k / steps
        send(QEvent.Type.MouseMove, at, Qt.MouseButton.LeftButton)
        if on_the_way is not None:
            on_the_way()
    send(QEvent.Type.MouseButtonRelease, end, Qt.MouseButton.NoButton)


def test_dragging_a_node_reroutes_the_wires_it_lands_on_while_it_moves(window):
    g = window.graph
    viewer = g.viewer()
    a = g.add_node_of_type("Const", pos=(0, 0))
    b = g.add_node_of_type("ImageIn", pos=(900, 0))
    pipe = wire(g, a, b)
    straight = pipe.path()
    mover = g.add_node_of_type("Offset", pos=(420, 400))
    g.clear_selection()
    g.fit_to_selection()  # all of it in view, where the mouse can reach it
    assert not crosses(straight, node_rect(mover.view))
    seen: list[bool] = []
    drag(viewer, mover.view, QPointF(0, -400), on_the_way=lambda: seen.append(
        crosses(pipe.path(), node_rect(mover.view))))
    assert abs(mover.view.pos().y()) < 30, mover.view.pos()  # the drag really moved it onto the wire
    assert crosses(straight, node_rect(mover.view))
    assert not any(seen)  # never under the node, not even during the drag
    assert not crosses(pipe.path(), node_rect(mover.view))
    assert_port_to_port(pipe)
    # dragged away again: the plain curve comes back
    drag(viewer, mover.view, QPointF(0, 400))
    assert pipe.path() == straight


def test_moving_an_endpoint_reroutes_its_wire(window):
    g = window.graph
    a = g.add_node_of_type("Const", pos=(0, 0))
    b = g.add_node_of_type("ImageIn", pos=(900, 300))
    pipe = wire(g, a, b)
    wall = g.add_node_of_type("Offset", pos=(420, 0))
    g.reroute_wires()
    b.set_pos(900, 0)  # now the wall is right between the ports
    assert not crosses(pipe.path(), node_rect(wall.view))
    assert_port_to_port(pipe)


@pytest.mark.parametrize("name", ["future_film", "past_film"])
def test_the_shipped_graphs_have_no_wire_under_a_node(qtbot, name):
    with editor_window(qtbot, ROOT / "graphs" / f"{name}.json", registry=default_registry()) as w:
        w.resize(1400, 900)
        w.show()
        qtbot.waitExposed(w)
        scene = w.graph.scene()
        pipes = [p for p in scene.items() if getattr(p, "_nf_routed", False)]
        assert len(pipes) >= 15  # the graph's wires are there and routed
        assert_clear(w.graph)


def test_no_route_when_the_port_is_enclosed_and_the_shortest_one_otherwise():
    box = (40.0, -20.0, 60.0, 20.0)
    assert route((0.0, 0.0), (100.0, 0.0), []) == [(0.0, 0.0), (100.0, 0.0)]
    over = route((0.0, 0.0), (100.0, 0.0), [box])
    assert over is not None and len(over) == 6 and all(y in (0.0, -20.0, 20.0) for _, y in over)
    ring = [(-50.0, -50.0, 50.0, -10.0), (-50.0, 10.0, 50.0, 50.0), (-50.0, -50.0, -10.0, 50.0),
            (10.0, -50.0, 50.0, 50.0)]
    assert route((0.0, 0.0), (100.0, 0.0), ring) is None


def test_an_enclosed_port_keeps_the_plain_curve(window):
    # a node right on top of the output's lead: no route can leave the port without crossing it
    g = window.graph
    a = g.add_node_of_type("Const", pos=(0, 0))
    b = g.add_node_of_type("ImageIn", pos=(900, 0))
    pipe = wire(g, a, b)
    straight = pipe.path()
    lead = straight.pointAtPercent(0)
    cover = g.add_node_of_type("Offset", pos=(lead.x() + 2, lead.y() - 40))
    g.reroute_wires()
    assert pipe.path() == straight  # NodeGraphQt's curve, not a half-drawn or missing wire
    assert crosses(pipe.path(), node_rect(cover.view))


def test_a_node_added_onto_a_wire_or_growing_over_it_is_gone_around(window, qtbot):
    g = window.graph
    a = g.add_node_of_type("Const", pos=(0, 0))
    b = g.add_node_of_type("ImageIn", pos=(900, 0))
    pipe = wire(g, a, b)
    straight = pipe.path()
    wire_y = straight.pointAtPercent(0.5).y()
    dropped = g.add_node_of_type("Offset", pos=(420, wire_y - 30))  # as from the Add menu: no move
    qtbot.waitUntil(lambda: not crosses(pipe.path(), node_rect(dropped.view)))
    g.delete_node(dropped)
    qtbot.waitUntil(lambda: pipe.path() == straight)
    # a node just above the wire grows a thumbnail after a run: its body now hangs over the wire
    above = g.add_node_of_type("Offset", pos=(420, 0))
    above.set_pos(420, wire_y - 20 - node_rect(above.view).height())
    qtbot.wait(10)
    assert pipe.path() == straight
    thumb = QImage(64, 64, QImage.Format.Format_RGB32)
    thumb.fill(QColor(200, 100, 50))
    above.refresh_body(thumb=thumb)
    assert crosses(straight, node_rect(above.view))
    qtbot.waitUntil(lambda: not crosses(pipe.path(), node_rect(above.view)))
