"""Wires that go around nodes instead of under them.

NodeGraphQt draws every wire as one curve from port to port, straight through whatever nodes lie
between. :func:`route_pipe` keeps that curve when it is clear; otherwise it finds a horizontal
channel (just above or below the nodes in the way, the one closest to the two ports) and draws
out of the output, along the channel, and into the input.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from NodeGraphQt.qgraphics.node_abstract import AbstractNodeItem
from NodeGraphQt.qgraphics.node_backdrop import BackdropNodeItem
from PyQt6.QtCore import QPointF, QRectF
from PyQt6.QtGui import QPainterPath, QPainterPathStroker

MARGIN = 12.0
LEAD = 40.0
"""How far a routed wire runs straight out of / into its ports before it turns."""


def port_centre(port: Any) -> QPointF:
    rect = port.boundingRect()
    pos = port.scenePos()
    return QPointF(pos.x() + rect.width() / 2, pos.y() + rect.height() / 2)


def node_rects(scene: Any, skip: set[Any]) -> list[QRectF]:
    """Scene rects of the nodes (with what hangs under them), except ``skip``; frames do not count."""
    rects = []
    for item in scene.items():
        if isinstance(item, AbstractNodeItem) and not isinstance(item, BackdropNodeItem) and item not in skip:
            rect = item.sceneBoundingRect().united(item.mapRectToScene(item.childrenBoundingRect()))
            rects.append(rect.adjusted(-MARGIN, -MARGIN, MARGIN, MARGIN))
    return rects


def crosses(path: QPainterPath, rect: QRectF) -> bool:
    """Whether the wire's line (not the area it encloses) passes through ``rect``."""
    stroker = QPainterPathStroker()
    stroker.setWidth(2)
    return stroker.createStroke(path).intersects(rect)


def channel_y(rects: list[QRectF], x1: float, x2: float, y_out: float, y_in: float) -> float | None:
    """A y for a horizontal run from ``x1`` to ``x2`` that no rect crosses, closest to both ports."""
    blockers = [r for r in rects if r.right() > x1 and r.left() < x2]
    candidates = {y_out, y_in, (y_out + y_in) / 2}
    for r in blockers:
        candidates.update((r.top() - 1, r.bottom() + 1))
    free = [y for y in candidates if not any(r.top() < y < r.bottom() for r in blockers)]
    if not free:
        return None
    return min(free, key=lambda y: abs(y - y_out) + abs(y - y_in))


def routed_path(p_out: QPointF, p_in: QPointF, y: float) -> QPainterPath:
    """Out of the output, along the channel at ``y``, into the input (smooth bends)."""
    xa, xb = p_out.x() + 2 * LEAD, p_in.x() - 2 * LEAD
    path = QPainterPath(p_out)
    path.cubicTo(QPointF(p_out.x() + LEAD, p_out.y()), QPointF(xa - LEAD, y), QPointF(xa, y))
    path.lineTo(QPointF(xb, y))
    path.cubicTo(QPointF(xb + LEAD, y), QPointF(p_in.x() - LEAD, p_in.y()), p_in)
    return path


def route_pipe(pipe: Any, draw: Callable[..., None], start_port: Any, end_port: Any = None,
               cursor_pos: Any = None) -> None:
    """``pipe.draw_path`` replacement: NodeGraphQt's curve, rerouted when a node is in its way."""
    draw(start_port, end_port, cursor_pos)
    out_port, in_port = pipe.output_port, pipe.input_port
    scene = pipe.scene()
    if cursor_pos is not None or out_port is None or in_port is None or scene is None or not pipe.isVisible():
        return
    p_out, p_in = port_centre(out_port), port_centre(in_port)
    if p_in.x() - p_out.x() < 4 * LEAD + 10:
        return  # a backward or very short wire: left as NodeGraphQt draws it
    rects = node_rects(scene, {out_port.node, in_port.node})
    if not any(crosses(pipe.path(), r) for r in rects):
        return
    y = channel_y(rects, p_out.x() + LEAD, p_in.x() - LEAD, p_out.y(), p_in.y())
    if y is None:
        return
    path = routed_path(p_out, p_in, y)
    pipe.setPath(path if start_port is out_port else path.toReversed())
    pipe._draw_direction_pointer()


def install(pipe: Any) -> None:
    """Route this wire from now on (NodeGraphQt redraws it through ``draw_path`` on every move)."""
    if getattr(pipe, "_nf_routed", False):
        return
    original = pipe.draw_path
    pipe.draw_path = lambda start_port, end_port=None, cursor_pos=None: route_pipe(
        pipe, original, start_port, end_port, cursor_pos)
    pipe._nf_routed = True
