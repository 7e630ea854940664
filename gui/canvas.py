"""The node graph scene: NodeGraphQt's graph with nodeflow's rules.

- Connections only between compatible socket types (:func:`nodeflow.types.conversion`); a
  refused one leaves the scene unchanged and emits :attr:`EditorGraph.connection_refused`.
- Node names are the graph's node ids: new nodes get ``snake_case`` ids from their type, and a
  rename (or a paste) that would give an invalid or duplicate id is corrected at once.
"""

from __future__ import annotations

import re
from typing import Any

from NodeGraphQt import NodeGraph, Port
from NodeGraphQt.constants import PortTypeEnum
from PyQt6.QtCore import pyqtSignal

from nodeflow.graph import NODE_ID
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

    def __init__(self, palette: Palette, parent: Any = None):
        super().__init__(parent)
        self.palette = palette
        palette.register(self)
        self._names: dict[str, str] = {}
        """NodeGraphQt node id -> the node's last known name (graph node id)."""
        self.ever_ids: set[str] = set()
        """Every node id this scene has had: graph outputs / ui entries of deleted ones are dropped."""
        self._install_connection_check()
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
        if name is None:
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
        name = node.name()
        fixed = self._valid_id(name, node)
        if fixed != name:  # e.g. a paste named "blur 1"
            node.set_property("name", fixed, push_undo=False)
            name = fixed
        self._names[node.id] = name
        self.ever_ids.add(name)

    def _on_property_changed(self, node: Any, prop: str, value: Any) -> None:
        if prop != "name":
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
