"""The node graph scene: NodeGraphQt's graph with nodeflow's rules.

- Connections only between compatible socket types (:func:`nodeflow.types.conversion`); a
  refused one leaves the scene unchanged and emits :attr:`EditorGraph.connection_refused`.
- Node names are the graph's node ids: new nodes get ``snake_case`` ids from their type, and a
  rename (or a paste) that would give an invalid or duplicate id is corrected at once.
- Wires take the colour of their output's socket type; while a wire is dragged, the ports it may
  connect to are outlined and the others dimmed; a wire dropped on empty canvas emits
  :attr:`EditorGraph.link_dropped` (the window offers the compatible node types there).
- Wires never pass under a node they do not connect (:mod:`nodeflow.gui.wire_routing`): rerouted
  while a node is dragged, and all of them after a drop, an add, a delete or a node body growing.
- Files dropped on the canvas emit :attr:`EditorGraph.files_dropped` (the window adds loaders).
"""

from __future__ import annotations

import re
from typing import Any

from NodeGraphQt import BackdropNode, NodeGraph, Port
from NodeGraphQt.constants import PortTypeEnum
from NodeGraphQt.qgraphics.pipe import LivePipeItem, PipeItem  # noqa: F401  (the tests take them from here)
from NodeGraphQt.qgraphics.port import PortItem
from PyQt6.QtCore import QMimeData, QPoint, QPointF, QTimer, pyqtSignal

from nodeflow.graph import NODE_ID
from nodeflow.gui import wire_routing
from nodeflow.gui.palette import EditorNode, Palette
from nodeflow.types import conversion

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_BAD_ID_CHARS = re.compile(r"[^A-Za-z0-9_\-]+")


def id_base(type_name: str) -> str:
    """``LoadImage`` -> ``load_image``: the id stem of a new node."""
    base = _BAD_ID_CHARS.sub("_", _CAMEL.sub("_", type_name)).strip("_").lower()
    return base if base and NODE_ID.match(base) else f"n_{base}"


def connection_problem(out_node: Any, out_name: str, in_node: Any, in_name: str) -> str | None:
    """Why ``out_node.out_name -> in_node.in_name`` may not be connected, or None if it may."""
    if not (isinstance(out_node, EditorNode) and isinstance(in_node, EditorNode)):
        return None
    src = out_node.socket_type(out_name, is_input=False)
    dst = in_node.socket_type(in_name, is_input=True)
    if src is None or dst is None or conversion(src, dst) is not None:
        return None
    return (f"cannot connect {out_node.name()}.{out_name} ({src.name}) to {in_node.name()}.{in_name} "
            f"({dst.name}): no conversion from {src.name} to {dst.name}")


class EditorGraph(NodeGraph):
    """A NodeGraphQt graph holding nodeflow nodes."""

    connection_refused = pyqtSignal(str)
    """An incompatible connection was refused; the message names both socket types."""
    node_renamed = pyqtSignal(object, str, str)
    """(node, old id, new id) after a rename (including undo/redo of one)."""
    link_dropped = pyqtSignal(object, QPointF)
    """(the Port the wire was dragged from, scene position): a wire released on empty canvas."""
    files_dropped = pyqtSignal(list, QPointF)
    """(local file paths, scene position) dropped on the canvas."""

    def __init__(self, palette: Palette, parent: Any = None):
        super().__init__(parent)
        self.palette = palette
        palette.register(self)
        self._names: dict[str, str] = {}
        """NodeGraphQt node id -> the node's last known name (graph node id)."""
        self.ever_ids: set[str] = set()
        """Every node id this scene has had: graph outputs / ui entries of deleted ones are dropped."""
        self._install_connection_check()
        self._install_wire_styling()
        self._dimmed: list[tuple[PortItem, float, tuple]] = []
        self.node_created.connect(self._on_node_created)
        self.property_changed.connect(self._on_property_changed)

    # -- nodes ---------------------------------------------------------------------------------
    def editor_nodes(self) -> list[EditorNode]:
        """nodeflow nodes in save order (the file's order, then new nodes as created)."""
        return sorted((n for n in self.all_nodes() if isinstance(n, EditorNode)), key=lambda n: n.nf_seq)

    def node_by_id(self, node_id: str) -> EditorNode | None:
        node = self.get_node_by_name(node_id)
        return node if isinstance(node, EditorNode) else None

    def fresh_id(self, type_name: str) -> str:
        """An unused id for a new node of ``type_name``: ``blur``, ``blur_2``, ..."""
        return self._unique(id_base(type_name))

    def _unique(self, base: str, node: Any = None) -> str:
        taken = {n.name() for n in self.all_nodes() if n is not node}
        if base not in taken:
            return base
        stem = re.sub(r"_\d+$", "", base) or base
        i = 2
        while f"{stem}_{i}" in taken:
            i += 1
        return f"{stem}_{i}"

    def create_node(self, node_type: str, name: str | None = None, selected: bool = True,
                    color: Any = None, text_color: Any = None, pos: Any = None, push_undo: bool = True):
        """NodeGraphQt's create_node, naming new nodes with a fresh id (drops, tab search, menus)."""
        if name is None and node_type == BackdropNode.type_:
            name = self._unique("frame")
        elif name is None:
            node_class = self._node_factory.nodes.get(node_type)
            name = self.fresh_id(getattr(node_class, "type_name", "") or node_type.rsplit(".", 1)[-1])
        return super().create_node(node_type, name=name, selected=selected, color=color,
                                   text_color=text_color, pos=pos, push_undo=push_undo)

    def add_node_of_type(self, type_name: str, pos: tuple[float, float] | None = None,
                         name: str | None = None, push_undo: bool = True) -> EditorNode:
        """Create a node of a nodeflow type (placeholder if the registry lacks it)."""
        node = self.create_node(self.palette.node_type(self, type_name), name=name, pos=pos,
                                push_undo=push_undo)
        return node

    def _deserialize(self, data: Any, relative_pos: bool = False, pos: Any = None,
                     adjust_graph_style: bool = True) -> list:
        """Pasted/imported nodes get valid ids too (NodeGraphQt names them "blur 1")."""
        nodes = super()._deserialize(data, relative_pos=relative_pos, pos=pos,
                                     adjust_graph_style=adjust_graph_style)
        for node in nodes or []:
            self._on_node_created(node)
        return nodes

    def _valid_id(self, name: str, node: Any) -> str:
        fixed = _BAD_ID_CHARS.sub("_", name.strip()).strip("_") or "node"
        if not NODE_ID.match(fixed):
            fixed = f"n_{fixed}"
        return self._unique(fixed, node)

    def _on_node_created(self, node: Any) -> None:
        if not isinstance(node, EditorNode):
            return  # frames (backdrops) keep their title as typed
        node.refresh_body()
        name = node.name()
        fixed = self._valid_id(name, node)
        if fixed != name:  # e.g. a paste named "blur 1"
            node.set_property("name", fixed, push_undo=False)
            name = fixed
        self._names[node.id] = name
        self.ever_ids.add(name)

    def _on_property_changed(self, node: Any, prop: str, value: Any) -> None:
        if isinstance(node, EditorNode) and prop != "name":
            node.refresh_body()
        if prop != "name" or not isinstance(node, EditorNode):
            return
        fixed = self._valid_id(str(value), node)
        if fixed != value:
            node.set_property("name", fixed, push_undo=False)  # comes back here with the fixed id
            return
        old = self._names.get(node.id)
        self._names[node.id] = fixed
        self.ever_ids.add(fixed)
        if old is not None and old != fixed:
            self.node_renamed.emit(node, old, fixed)

    # -- connections ---------------------------------------------------------------------------
    def try_connect(self, out_port: Port, in_port: Port, push_undo: bool = True) -> bool:
        """Connect an output to an input if their socket types are compatible."""
        problem = connection_problem(out_port.node(), out_port.name(), in_port.node(), in_port.name())
        if problem:
            self.connection_refused.emit(problem)
            return False
        out_port.connect_to(in_port, push_undo=push_undo)
        return True

    def connect_first_fit(self, port: Port, node: EditorNode) -> bool:
        """Connect ``port`` to the first socket of ``node`` it fits (unconnected inputs first)."""
        is_out = port.type_() == "out"
        ports = list(node.inputs().values()) if is_out else list(node.outputs().values())
        if is_out:
            ports.sort(key=lambda p: bool(p.connected_ports()))
        for other in ports:
            pair = (port, other) if is_out else (other, port)
            if self.compatible(pair[0].view, pair[1].view):
                return self.try_connect(*pair)
        return False

    def _install_connection_check(self) -> None:
        """Refuse incompatible pipes drawn in the viewer (the drag snaps back, nothing is pushed)."""
        viewer = self.viewer()
        base_check = viewer._validate_reject_connection

        def reject(from_port: Any, to_port: Any) -> bool:
            if base_check(from_port, to_port):
                return True
            if from_port.port_type == to_port.port_type:
                return False  # NodeGraphQt refuses these itself
            out_view, in_view = ((from_port, to_port) if from_port.port_type == PortTypeEnum.OUT.value
                                 else (to_port, from_port))
            problem = connection_problem(self.get_node_by_id(out_view.node.id), out_view.name,
                                         self.get_node_by_id(in_view.node.id), in_view.name)
            if problem:
                self.connection_refused.emit(problem)
                return True
            return False

        viewer._validate_reject_connection = reject

    # -- drops ---------------------------------------------------------------------------------
    def _on_node_data_dropped(self, mimedata: QMimeData, pos: QPoint) -> None:
        """Node types from the library are created by NodeGraphQt; local files become loaders."""
        paths = [u.toLocalFile() for u in mimedata.urls() if u.isLocalFile()] if mimedata.hasUrls() else []
        if paths:
            self.files_dropped.emit(paths, QPointF(pos))
            return
        super()._on_node_data_dropped(mimedata, pos)

    # -- wires ---------------------------------------------------------------------------------
    def _node_of(self, port_view: PortItem) -> Any:
        return self.get_node_by_id(port_view.node.id)

    def compatible(self, from_view: PortItem, to_view: PortItem) -> bool:
        """Whether a wire from ``from_view`` may end on ``to_view`` (either direction)."""
        if from_view.port_type == to_view.port_type or from_view.node is to_view.node:
            return False
        out_view, in_view = ((from_view, to_view) if from_view.port_type == PortTypeEnum.OUT.value
                             else (to_view, from_view))
        return connection_problem(self._node_of(out_view), out_view.name,
                                  self._node_of(in_view), in_view.name) is None

    def reroute_wires(self, *_args: Any) -> None:
        """Redraw every wire (after a move, a wire may now be in another node's way)."""
        self._reroute_timer.stop()
        wire_routing.reroute(self.scene())

    def schedule_reroute(self, *_args: Any) -> None:
        """Reroute every wire once control returns to the event loop (many changes, one pass)."""
        self._reroute_timer.start()

    def _reroute_while_dragging(self) -> None:
        """Wires that the dragged nodes now cover go around them at once, not only after the drop."""
        viewer = self.viewer()
        if viewer.LMB_state and viewer._node_positions:
            wire_routing.reroute(self.scene(), under=list(viewer._node_positions))

    def _install_wire_styling(self) -> None:
        viewer = self.viewer()
        establish = viewer.establish_connection
        start_live = viewer.start_live_connection
        end_live = viewer.end_live_connection
        apply_live = viewer.apply_live_connection

        def establish_connection(start_port: Any, end_port: Any) -> None:
            establish(start_port, end_port)
            out_port = start_port if start_port.port_type == PortTypeEnum.OUT.value else end_port
            for pipe in out_port.connected_pipes:
                pipe.color = (*tuple(out_port.color)[:3], 255)
                if not pipe.highlighted():
                    pipe.reset()
                if not getattr(pipe, "_nf_routed", False):
                    wire_routing.install(pipe)
                    pipe.draw_path(pipe.input_port, pipe.output_port)

        def start_live_connection(selected_port: Any) -> None:
            start_live(selected_port)
            if selected_port is not None:
                self._show_compatible(selected_port)

        def end_live_connection() -> None:
            self._restore_ports()
            end_live()

        def apply_live_connection(event: Any) -> None:
            start = viewer._start_port
            on_port = any(isinstance(i, PortItem) for i in viewer.scene().items(event.scenePos()))
            dropped_free = (viewer._LIVE_PIPE.isVisible() and start is not None and not on_port
                            and viewer._detached_port is None)
            apply_live(event)
            if dropped_free:
                port = self._port_of(start)
                if port is not None:
                    self.link_dropped.emit(port, QPointF(event.scenePos()))

        viewer.establish_connection = establish_connection
        viewer.moved_nodes.connect(self.reroute_wires)
        self._reroute_timer = QTimer(self)  # a child: it goes with the graph, never fires after it
        self._reroute_timer.setSingleShot(True)
        self._reroute_timer.setInterval(0)
        self._reroute_timer.timeout.connect(self.reroute_wires)
        self.scene().nf_node_views = lambda: [node.view for node in self.all_nodes()]
        self.node_created.connect(self.schedule_reroute)
        self.nodes_deleted.connect(self.schedule_reroute)
        mouse_move = viewer.mouseMoveEvent

        def mouse_move_event(event: Any) -> None:
            mouse_move(event)
            self._reroute_while_dragging()

        viewer.mouseMoveEvent = mouse_move_event
        viewer.start_live_connection = start_live_connection
        viewer.end_live_connection = end_live_connection
        viewer.apply_live_connection = apply_live_connection

    def _port_of(self, view: PortItem) -> Port | None:
        node = self._node_of(view)
        if node is None:
            return None
        ports = node.outputs() if view.port_type == PortTypeEnum.OUT.value else node.inputs()
        return ports.get(view.name)

    def _show_compatible(self, start: PortItem) -> None:
        """Outline the ports a wire from ``start`` may end on; dim the others."""
        self._restore_ports()
        for item in self.scene().items():
            if not isinstance(item, PortItem) or item is start:
                continue
            ok = self.compatible(start, item)
            self._dimmed.append((item, item.opacity(), tuple(item.border_color)))
            if ok:
                item.border_color = (255, 255, 255, 255)
            else:
                item.setOpacity(0.25)
            item.update()

    def _restore_ports(self) -> None:
        for item, opacity, border in self._dimmed:
            item.setOpacity(opacity)
            item.border_color = border
            item.update()
        self._dimmed.clear()
