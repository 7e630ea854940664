"""The node palette: one NodeGraphQt node class per registered nodeflow node type.

Each class carries its nodeflow class (``node_cls``), gets one port per socket (coloured by
socket type) and one hidden NodeGraphQt property per param (``param:<name>``) holding the
param's JSON value, so edits go through NodeGraphQt's undo stack and copy/paste. The params
panel (:mod:`nodeflow.gui.params_form`) edits those properties.
"""

from __future__ import annotations

import enum
import hashlib
import itertools
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from NodeGraphQt import BaseNode, NodeGraph

from nodeflow.graph import EdgeRef
from nodeflow.gui.node_body import KEY_PARAMS, NodeBody, short
from nodeflow.node import Node
from nodeflow.param_info import ParamInfo, param_infos
from nodeflow.registry import Registry
from nodeflow.types import SocketType

IDENTIFIER = "nodeflow"
PARAM_PREFIX = "param:"

SOCKET_COLORS: dict[str, tuple[int, int, int]] = {
    "Image": (199, 199, 41),
    "Mask": (170, 170, 170),
    "Float": (120, 150, 220),
    "Int": (60, 170, 120),
    "Bool": (220, 110, 170),
    "String": (90, 200, 220),
    "Color": (235, 140, 50),
    "Path": (160, 110, 230),
    "Pix2Pix": (210, 80, 80),
    "CycleGAN": (210, 80, 130),
    "SinGAN": (210, 120, 80),
}
MISSING_COLOR = (110, 30, 30)
PROBLEM_BORDER = (230, 60, 60, 255)
RUNNING_BORDER = (255, 170, 40, 255)
PROXY_WIDTH = 36
"""Below this on-screen width (px) NodeGraphQt draws a node without its texts."""
NOTE_PROP = "ui:note"
"""NodeGraphQt property holding the node's note (saved as ``ui[<id>]["note"]``)."""

_seq = itertools.count()


def _hashed_color(text: str, lo: int, hi: int) -> tuple[int, int, int]:
    digest = hashlib.blake2b(text.encode(), digest_size=3).digest()
    return tuple(lo + b * (hi - lo) // 255 for b in digest)  # type: ignore[return-value]


def socket_color(socket: SocketType) -> tuple[int, int, int]:
    """Port colour of a socket type (stable for types this editor does not know)."""
    return SOCKET_COLORS.get(socket.name) or _hashed_color(socket.name, 80, 230)


def category_color(category: str) -> tuple[int, int, int]:
    """A dark, stable node body colour per category."""
    return _hashed_color(category, 25, 60)


def param_prop(name: str) -> str:
    """Name of the NodeGraphQt property holding param ``name``."""
    return PARAM_PREFIX + name


def to_json(value: Any) -> Any:
    """A param value as it appears in a graph file (tuples as lists, enums by value)."""
    if isinstance(value, tuple | list):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, enum.Enum):
        return to_json(value.value)
    if isinstance(value, Path):
        return str(value)
    return value


def param_default(info: ParamInfo) -> Any:
    """The JSON default of a param, or None for a required param."""
    return None if info.required else to_json(info.default)


def params_of(cls: type[Node]) -> dict[str, ParamInfo]:
    """A node type's params by name, in declaration order (one description: nodeflow.param_info)."""
    return {p.name: p for p in param_infos(cls.Params)}


class EditorNode(BaseNode):
    """Base of the palette's node classes: sockets as ports, params as hidden properties."""

    __identifier__ = IDENTIFIER
    NODE_NAME = "node"
    node_cls: ClassVar[type[Node] | None] = None
    """The nodeflow node class; None for a type missing from the registry."""
    type_name: ClassVar[str] = ""

    def __init__(self) -> None:
        super().__init__()
        self.nf_seq = next(_seq)
        """Creation order: new nodes are saved after the file's nodes, in this order."""
        self.nf_raw_params: dict[str, Any] = {}
        """Params as loaded from the file, written back verbatim when left unchanged."""
        self.nf_initial: dict[str, Any] = {}
        """Property values at load/creation time, to tell edited params from untouched ones."""
        self.nf_extra_inputs: dict[str, EdgeRef] = {}
        """Edges from the file that the scene cannot show (unknown input or source)."""
        self.nf_initial_ui: dict[str, Any] = {}
        self.nf_border = tuple(self.view.border_color)
        self.nf_problem = False
        self.nf_running = False
        self.create_property(NOTE_PROP, "")
        self.view._proxy_mode_threshold = PROXY_WIDTH  # keep titles drawn when zoomed out further
        self.body = NodeBody(self.view)
        cls = self.node_cls
        if cls is None:
            self.set_color(*MISSING_COLOR)
            self.nf_initial_ui = {"color": tuple(self.color())}
            return
        for sock in cls.inputs:
            port = self.add_input(sock.name, color=socket_color(sock.type))
            port.view.setToolTip(f"{sock.name}: {sock.type.name}{' (optional)' if not sock.required else ''}"
                                 f"{' — ' + sock.doc if sock.doc else ''}")
        for out in cls.outputs:
            port = self.add_output(out.name, color=socket_color(out.type))
            port.view.setToolTip(f"{out.name}: {out.type.name}{' — ' + out.doc if out.doc else ''}")
        for name, info in params_of(cls).items():
            value = param_default(info)
            self.create_property(param_prop(name), value)
            self.nf_initial[name] = value
        self.set_color(*category_color(cls.category))
        self.nf_initial_ui = {"color": tuple(self.color())}
        self.view.setToolTip(f"{cls.type_name} ({cls.category})\n{cls.summary()}")

    # -- sockets and params ---------------------------------------------------------------------
    def socket_type(self, port_name: str, is_input: bool) -> SocketType | None:
        """The socket type behind a port, None when unknown (missing node type)."""
        cls = self.node_cls
        if cls is None:
            return None
        sock = cls.input(port_name) if is_input else cls.output(port_name)
        return sock.type if sock is not None else None

    def param_names(self) -> list[str]:
        return list(params_of(self.node_cls)) if self.node_cls is not None else []

    def param_value(self, name: str) -> Any:
        return self.get_property(param_prop(name))

    def set_param(self, name: str, value: Any, push_undo: bool = True) -> None:
        """Set a param's JSON value (undoable)."""
        self.set_property(param_prop(name), value, push_undo=push_undo)

    def mark_problem(self, on: bool) -> None:
        """A red border while the node has a problem (view only: not saved, not undoable)."""
        self.nf_problem = on
        self._show_border()

    def mark_running(self, on: bool) -> None:
        """An orange border while the node is being computed."""
        self.nf_running = on
        self._show_border()

    def _show_border(self) -> None:
        self.view.border_color = (RUNNING_BORDER if self.nf_running else PROBLEM_BORDER if self.nf_problem
                                  else self.nf_border)
        self.view.update()

    def note(self) -> str:
        return str(self.get_property(NOTE_PROP) or "")

    def key_lines(self) -> list[str]:
        """``name: value`` of the first few params that have a value (shown on the node)."""
        lines = []
        for name in self.param_names():
            value = self.param_value(name)
            if value is None or value == "" or (isinstance(value, dict | list) and len(str(value)) > 24):
                continue
            lines.append(f"{name}: {short(value)}")
            if len(lines) == KEY_PARAMS:
                break
        return lines

    def refresh_body(self, thumb: Any = False) -> None:
        """Redraw key params and note (and the thumbnail when given; None removes it)."""
        self.body.set_content(self.key_lines(), self.note(), thumb)
        schedule = getattr(self.graph, "schedule_reroute", None)
        if schedule is not None:  # the node may have grown under a wire
            schedule()

    def current_params(self) -> dict[str, Any]:
        """The params this node is saved with: the file's, overlaid with what was edited."""
        params = dict(self.nf_raw_params)
        for name in self.param_names():
            value = self.param_value(name)
            if name in self.nf_initial and value == self.nf_initial[name]:
                continue  # untouched: keep what the file said (or leave it unset)
            info = params_of(self.node_cls)[name]  # type: ignore[arg-type]
            if value is None or (not info.required and value == param_default(info)):
                params.pop(name, None)  # back to the default: leave it out
            else:
                params[name] = value
        return params


def make_node_class(cls: type[Node]) -> type[EditorNode]:
    """The NodeGraphQt class for one nodeflow node type (category as identifier)."""
    return type(cls.type_name, (EditorNode,), {
        "__identifier__": f"{IDENTIFIER}.{cls.category}",
        "NODE_NAME": cls.type_name,
        "node_cls": cls,
        "type_name": cls.type_name,
        "__doc__": cls.summary(),
    })


def make_missing_class(type_name: str) -> type[EditorNode]:
    """A placeholder for a type the registry lacks: the node loads, keeps its data, and is saved."""
    return type(type_name, (EditorNode,), {
        "__identifier__": f"{IDENTIFIER}.missing",
        "NODE_NAME": type_name,
        "node_cls": None,
        "type_name": type_name,
    })


@dataclass
class Palette:
    """Node classes for every type in a registry, grouped by category."""

    registry: Registry
    classes: dict[str, type[EditorNode]] = field(default_factory=dict)
    missing: dict[str, type[EditorNode]] = field(default_factory=dict)

    @classmethod
    def from_registry(cls, registry: Registry) -> Palette:
        palette = cls(registry)
        for name in registry:
            palette.classes[name] = make_node_class(registry.get(name))
        return palette

    def categories(self) -> dict[str, list[str]]:
        """Category -> sorted type names."""
        out: dict[str, list[str]] = defaultdict(list)
        for name, node_class in sorted(self.classes.items()):
            out[node_class.node_cls.category].append(name)  # type: ignore[union-attr]
        return dict(sorted(out.items()))

    def __iter__(self) -> Iterator[type[EditorNode]]:
        return iter(self.classes.values())

    def register(self, graph: NodeGraph) -> None:
        """Register every node class with a NodeGraphQt graph (tab search, drag and drop)."""
        graph.register_nodes(list(self.classes.values()))

    def node_type(self, graph: NodeGraph, type_name: str) -> str:
        """The NodeGraphQt type key for ``type_name``, registering a placeholder if it is unknown."""
        if type_name in self.classes:
            return self.classes[type_name].type_
        if type_name not in self.missing:
            self.missing[type_name] = make_missing_class(type_name)
        node_class = self.missing[type_name]
        if node_class.type_ not in graph.registered_nodes():
            graph.register_node(node_class)
        return node_class.type_
