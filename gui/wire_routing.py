"""Wires that go around nodes instead of under them.

NodeGraphQt draws every wire as one curve from port to port, straight through whatever nodes lie
between. :func:`route_pipe` keeps that curve when it is clear of every other node (and of its own two
nodes' bodies); otherwise it draws the shortest orthogonal route with few bends
(:mod:`nodeflow.gui.orthogonal_route`) around every node inflated by :data:`MARGIN`, its own two
included, with rounded corners: straight out of the output to the right, around, and into the
input from the left. Backward links (input left of output) and nodes stacked in a column are
routed the same way. It assumes the editor's left-to-right layout (inputs on the left of a node,
outputs on the right).

When no such route exists (a port boxed in by nodes closer than the clearance on every side), it
tries again with a clearance of :data:`TIGHT` px, and if a port is still enclosed it keeps
NodeGraphQt's curve: a wire under a node beats a missing wire.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from itertools import pairwise
from typing import Any

from NodeGraphQt.qgraphics.node_abstract import AbstractNodeItem
from NodeGraphQt.qgraphics.node_backdrop import BackdropNodeItem
from NodeGraphQt.qgraphics.pipe import LivePipeItem, PipeItem
from PyQt6.QtCore import QPointF, QRectF
from PyQt6.QtGui import QPainterPath, QPainterPathStroker

from nodeflow.gui.orthogonal_route import Box, Point, polyline_hits, route, segment_hits, simplify

MARGIN = 12.0
"""Clearance a routed wire keeps from every node."""
TIGHT = 3.0
"""The clearance of the second try, when nodes stand too close for :data:`MARGIN`."""
LEAD = 40.0
"""How far a routed wire runs straight out of / into its ports before it may turn (less if a node is nearer)."""
RADIUS = 2 * MARGIN
"""Corner radius of a routed wire. A rounded corner cuts into the inner side of its turn by at
most a quarter of the radius along the diagonal, so up to ``3 * clearance`` it cannot reach the
node the route turns around."""
PLAIN_SLACK = 4.0
"""The plain curve counts as clear when it passes at least this far from other nodes."""


def port_centre(port: Any) -> QPointF:
    rect = port.boundingRect()
    pos = port.scenePos()
    return QPointF(pos.x() + rect.width() / 2, pos.y() + rect.height() / 2)


def node_rect(item: Any) -> QRectF:
    """A node's scene rect with what hangs off it (ports, thumbnail, note)."""
    return item.sceneBoundingRect().united(item.mapRectToScene(item.childrenBoundingRect()))


def node_items(scene: Any) -> list[Any]:
    """The scene's visible nodes; frames (backdrops) do not count: wires may cross them.

    A scene whose graph lists its node items (``scene.nf_node_views()``, set by the canvas) is
    not scanned: walking every item of the scene (ports, labels, wires) was most of a drag step.
    """
    listed = getattr(scene, "nf_node_views", None)
    items = listed() if listed is not None else scene.items()
    return [item for item in items if isinstance(item, AbstractNodeItem) and not isinstance(item, BackdropNodeItem)
            and item.isVisible() and item.scene() is scene]


def node_rects(scene: Any, skip: set[Any], margin: float = MARGIN) -> list[QRectF]:
    """Scene rects of the nodes except ``skip``, inflated by ``margin``."""
    return [node_rect(item).adjusted(-margin, -margin, margin, margin)
            for item in node_items(scene) if item not in skip]


def crosses(path: QPainterPath, rect: QRectF) -> bool:
    """Whether the wire's line (not the area it encloses) passes through ``rect``."""
    if not path.boundingRect().adjusted(-2, -2, 2, 2).intersects(rect):
        return False
    stroker = QPainterPathStroker()
    stroker.setWidth(2)
    return stroker.createStroke(path).intersects(rect)


def _box(rect: QRectF, margin: float) -> Box:
    return (rect.left() - margin, rect.top() - margin, rect.right() + margin, rect.bottom() + margin)


def own_bodies(out_rect: QRectF, in_rect: QRectF, p_out: QPointF, p_in: QPointF) -> list[QRectF]:
    """The wire's own two nodes without the strip at its ports (where any wire starts and ends)."""
    out_body = QRectF(out_rect.left(), out_rect.top(), p_out.x() - 3 - out_rect.left(), out_rect.height())
    in_body = QRectF(QPointF(p_in.x() + 3, in_rect.top()), in_rect.bottomRight())
    return [r for r in (out_body, in_body) if r.width() > 0]


def plain_is_clear(path: QPainterPath, others: Iterable[QRectF], bodies: Iterable[QRectF]) -> bool:
    """Whether NodeGraphQt's curve passes :data:`PLAIN_SLACK` clear of other nodes and off its own."""
    slack = PLAIN_SLACK
    return not any(crosses(path, r.adjusted(-slack, -slack, slack, slack)) for r in others) and \
        not any(crosses(path, r) for r in bodies)


def _lead(port: Point, own: Box, others: Sequence[Box], sign: int) -> Point | None:
    """The point a wire turns at after leaving ``port`` straight (``sign`` +1: to the right, -1: left).

    :data:`LEAD` away if that run meets no other node, else just outside the port's own node; None
    when even that point lies in another node (the port is enclosed).
    """
    edge = own[2] if sign > 0 else own[0]
    far = (port[0] + sign * LEAD, port[1])
    if sign * (far[0] - edge) > 0 and not any(segment_hits(port, far, b) for b in others):
        return far
    near = (edge, port[1])
    if any(segment_hits(port, near, b) or (b[0] < near[0] < b[2] and b[1] < near[1] < b[3]) for b in others):
        return None
    return near


def route_points(p_out: Point, p_in: Point, out_rect: QRectF, in_rect: QRectF,
                 others: Sequence[QRectF], clearance: float) -> list[Point] | None:
    """Port-to-port waypoints around every node at ``clearance``, or None if a port is enclosed.

    Only the nodes near the two ports are searched around at first; nodes the route then runs into
    are added and it is searched again, so a big graph costs about what its neighbourhood does.
    """
    own = [_box(out_rect, clearance), _box(in_rect, clearance)]
    boxes = [_box(r, clearance) for r in others]
    start = _lead(p_out, own[0], boxes, +1)
    goal = _lead(p_in, own[1], boxes, -1)
    if start is None or goal is None:
        return None
    left, right = min(start[0], goal[0]), max(start[0], goal[0])
    top, bottom = min(start[1], goal[1]), max(start[1], goal[1])
    near = [b for b in boxes if b[0] < right and b[2] > left and b[1] < bottom and b[3] > top]
    rest = [b for b in boxes if b not in near]
    while True:
        points = route(start, goal, own + near)
        if points is None:
            return None
        hit = polyline_hits(points, rest)
        if not hit:
            return simplify([p_out, *points, p_in])
        near += hit
        rest = [b for b in rest if b not in hit]


def rounded_path(points: Sequence[Point], radius: float) -> QPainterPath:
    """The polyline through ``points`` with its corners rounded (each radius at most half its legs)."""
    path = QPainterPath(QPointF(*points[0]))
    for k in range(1, len(points) - 1):
        (ax, ay), (cx, cy), (bx, by) = points[k - 1], points[k], points[k + 1]
        leg_in, leg_out = abs(cx - ax) + abs(cy - ay), abs(bx - cx) + abs(by - cy)
        r = min(radius, leg_in / 2, leg_out / 2)
        ux, uy = (cx - ax) / leg_in, (cy - ay) / leg_in
        vx, vy = (bx - cx) / leg_out, (by - cy) / leg_out
        path.lineTo(QPointF(cx - ux * r, cy - uy * r))
        path.quadTo(QPointF(cx, cy), QPointF(cx + vx * r, cy + vy * r))
    path.lineTo(QPointF(*points[-1]))
    return path


def routed_path(p_out: QPointF, p_in: QPointF, out_item: Any, in_item: Any,
                others: Sequence[QRectF]) -> tuple[QPainterPath, list[Point]] | None:
    """The routed wire from ``p_out`` to ``p_in`` (output to input) and its waypoints, or None if a
    port is enclosed."""
    out_rect, in_rect = node_rect(out_item), node_rect(in_item)
    a, b = (p_out.x(), p_out.y()), (p_in.x(), p_in.y())
    for clearance in (MARGIN, TIGHT):
        points = route_points(a, b, out_rect, in_rect, others, clearance)
        if points is not None:
            return rounded_path(points, min(RADIUS, 2 * clearance)), points
    return None


def point_arrow(pipe: Any, points: Sequence[Point], forward: bool) -> None:
    """Put the wire's direction arrow mid-way along its longest straight run (NodeGraphQt puts it
    at half the length, which on a routed wire may be a corner, where it stands askew)."""
    a, b = max(pairwise(points), key=lambda ab: abs(ab[1][0] - ab[0][0]) + abs(ab[1][1] - ab[0][1]))
    if not forward:
        a, b = b, a
    pipe._dir_pointer.setPos(QPointF((a[0] + b[0]) / 2, (a[1] + b[1]) / 2))
    pipe._dir_pointer.setRotation(math.degrees(math.atan2(b[1] - a[1], b[0] - a[0])) - 90)


def route_pipe(pipe: Any, draw: Callable[..., None], start_port: Any, end_port: Any = None,
               cursor_pos: Any = None) -> None:
    """``pipe.draw_path`` replacement: NodeGraphQt's curve, rerouted when a node is in its way."""
    draw(start_port, end_port, cursor_pos)
    out_port, in_port = pipe.output_port, pipe.input_port
    scene = pipe.scene()
    if cursor_pos is not None or out_port is None or in_port is None or scene is None or not pipe.isVisible():
        return
    out_item, in_item = out_port.node, in_port.node
    if out_item is in_item:
        return  # a node wired to itself: NodeGraphQt's loop around it
    p_out, p_in = port_centre(out_port), port_centre(in_port)
    others = [node_rect(item) for item in node_items(scene) if item is not out_item and item is not in_item]
    bodies = own_bodies(node_rect(out_item), node_rect(in_item), p_out, p_in)
    if plain_is_clear(pipe.path(), others, bodies):
        return
    routed = routed_path(p_out, p_in, out_item, in_item, others)
    if routed is None:
        return
    path, points = routed
    forward = start_port is out_port
    pipe.setPath(path if forward else path.toReversed())
    pipe._draw_direction_pointer()
    point_arrow(pipe, points, forward)


def install(pipe: Any) -> None:
    """Route this wire from now on (NodeGraphQt redraws it through ``draw_path`` on every move)."""
    if getattr(pipe, "_nf_routed", False):
        return
    original = pipe.draw_path
    pipe.draw_path = lambda start_port, end_port=None, cursor_pos=None: route_pipe(
        pipe, original, start_port, end_port, cursor_pos)
    pipe._nf_routed = True


def wires_under_nodes(scene: Any) -> list[tuple[str, str]]:
    """``(wire, node)`` for every wire that passes under a node it does not connect (the rule the router keeps).

    A wire is named ``out_node.port -> in_node.port``; wires being dragged do not count.
    """
    found = []
    items = node_items(scene)
    for pipe in scene.items():
        if not isinstance(pipe, PipeItem) or isinstance(pipe, LivePipeItem) or not pipe.isVisible():
            continue
        out_port, in_port = pipe.output_port, pipe.input_port
        if out_port is None or in_port is None:
            continue
        name = f"{out_port.node.name}.{out_port.name} -> {in_port.node.name}.{in_port.name}"
        for item in items:
            if item is not out_port.node and item is not in_port.node and crosses(pipe.path(), node_rect(item)):
                found.append((name, item.name))
    return found


def connected_pipes(scene: Any) -> list[Any]:
    """The scene's wires between two ports (not the one being dragged out)."""
    return [item for item in scene.items() if isinstance(item, PipeItem) and not isinstance(item, LivePipeItem)
            and item.input_port is not None and item.output_port is not None]


def reroute(scene: Any, under: Iterable[Any] | None = None) -> None:
    """Redraw every wire, or (``under``: node items being dragged) only those now passing under them.

    The wires of a dragged node are redrawn by NodeGraphQt itself as its ports move; the others
    only need a new route once the node lands on them, which keeps a drag cheap.
    """
    rects = None if under is None else [node_rect(item) for item in under]
    for pipe in connected_pipes(scene):
        if rects is not None and not any(crosses(pipe.path(), r) for r in rects):
            continue
        pipe.draw_path(pipe.input_port, pipe.output_port)
