"""GraphSpec <-> scene: load a graph into an :class:`EditorGraph` and build the spec back.

The scene holds nodes, params (as properties), connections, positions and colours; a
:class:`SceneState` keeps what it cannot show (graph outputs, other ``ui`` data, edges to
unknown sockets) so that loading a file and saving it unedited gives the same bytes.
Positions are stored as ``ui[<id>]["pos"] = [x, y]``, colours as ``ui[<id>]["color"] = "#rrggbb"``;
both are written only for nodes that were placed or recoloured in the editor. A node's note is
``ui[<id>]["note"]``; frames (NodeGraphQt Backdrops) are the list ``ui["@backdrops"]`` of
``{"title", "text", "pos", "size", "color"}`` ("@" cannot start a node id, so no clash).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from NodeGraphQt import BackdropNode

from nodeflow.graph import FORMAT, EdgeRef, GraphSpec, NodeSpec
from nodeflow.gui.canvas import EditorGraph
from nodeflow.gui.palette import NOTE_PROP, EditorNode

COLUMN_WIDTH, ROW_HEIGHT = 240, 140
BACKDROPS = "@backdrops"


@dataclass
class SceneState:
    """File-level data the scene does not hold itself."""

    format: str = FORMAT
    outputs: dict[str, EdgeRef] = field(default_factory=dict)
    ui: dict[str, Any] = field(default_factory=dict)

    def rename(self, old: str, new: str, graph: EditorGraph) -> None:
        """Follow a node rename in graph outputs, ``ui`` and edges the scene cannot show."""
        self.outputs = {k: EdgeRef(node=new, output=e.output) if e.node == old else e
                        for k, e in self.outputs.items()}
        if old in self.ui and new not in self.ui:
            self.ui[new] = self.ui.pop(old)
        for node in graph.editor_nodes():
            node.nf_extra_inputs = {k: EdgeRef(node=new, output=e.output) if e.node == old else e
                                    for k, e in node.nf_extra_inputs.items()}


def _to_rgb(value: Any) -> tuple[int, int, int] | None:
    """A ``ui`` colour ("#rrggbb" or [r, g, b] in 0-255) as an RGB tuple."""
    if isinstance(value, str) and len(value.lstrip("#")) >= 6:
        h = value.lstrip("#")
        try:
            return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)
        except ValueError:
            return None
    if isinstance(value, list) and len(value) >= 3 and all(isinstance(v, int | float) for v in value[:3]):
        return int(value[0]), int(value[1]), int(value[2])
    return None


def _ui_pos(entry: Any) -> tuple[float, float] | None:
    pos = entry.get("pos") if isinstance(entry, dict) else None
    if isinstance(pos, list) and len(pos) == 2 and all(isinstance(v, int | float) for v in pos):
        return float(pos[0]), float(pos[1])
    return None


def auto_positions(spec: GraphSpec) -> dict[str, tuple[float, float]]:
    """Columns by depth (longest path from a source) for nodes without a ``ui`` position."""
    depth: dict[str, int] = {}

    def node_depth(nid: str, seen: frozenset[str] = frozenset()) -> int:
        if nid in depth:
            return depth[nid]
        node = spec.nodes.get(nid)
        if node is None or nid in seen:
            return -1
        d = 1 + max((node_depth(e.node, seen | {nid}) for e in node.inputs.values()), default=-1)
        depth[nid] = d
        return d

    rows: dict[int, int] = {}
    out: dict[str, tuple[float, float]] = {}
    for nid in spec.nodes:
        col = node_depth(nid)
        row = rows.get(col, 0)
        rows[col] = row + 1
        out[nid] = (float(col * COLUMN_WIDTH), float(row * ROW_HEIGHT))
    return out


def load_spec(graph: EditorGraph, spec: GraphSpec) -> SceneState:
    """Replace the scene's content with ``spec``; returns what the scene cannot hold."""
    graph.clear_session()
    graph.clear_undo_stack()
    graph.ever_ids.clear()
    layout = auto_positions(spec)
    nodes: dict[str, EditorNode] = {}
    for nid, nspec in spec.nodes.items():
        entry = spec.ui.get(nid)
        pos = _ui_pos(entry) or layout[nid]
        node = graph.add_node_of_type(nspec.type, pos=pos, name=nid, push_undo=False)
        node.set_selected(False)
        node.nf_raw_params = copy.deepcopy(nspec.params)
        known = set(node.param_names())
        for name, value in nspec.params.items():
            if name in known:
                node.set_param(name, copy.deepcopy(value), push_undo=False)
                node.nf_initial[name] = copy.deepcopy(value)
        rgb = _to_rgb(entry.get("color")) if isinstance(entry, dict) else None
        if rgb is not None:
            node.set_color(*rgb)
        note = entry.get("note") if isinstance(entry, dict) else None
        if isinstance(note, str):
            node.set_property(NOTE_PROP, note, push_undo=False)
        node.nf_initial_ui = {"pos": list(node.pos()), "color": tuple(node.color()), "note": node.note()}
        nodes[nid] = node

    # Placeholders for missing types get the ports the file uses.
    for nid, nspec in spec.nodes.items():
        node = nodes[nid]
        if node.node_cls is None:
            for name in nspec.inputs:
                node.add_input(name)
        for edge in nspec.inputs.values():
            src = nodes.get(edge.node)
            if src is not None and src.node_cls is None and edge.output not in src.outputs():
                src.add_output(edge.output)
    for edge in spec.outputs.values():
        src = nodes.get(edge.node)
        if src is not None and src.node_cls is None and edge.output not in src.outputs():
            src.add_output(edge.output)
    for node in nodes.values():
        if node.node_cls is None:
            node.view.draw_node()
        node.refresh_body()
    load_backdrops(graph, spec.ui.get(BACKDROPS))

    for nid, nspec in spec.nodes.items():
        node = nodes[nid]
        for name, edge in nspec.inputs.items():
            in_port = node.inputs().get(name)
            src = nodes.get(edge.node)
            out_port = src.outputs().get(edge.output) if src is not None else None
            if in_port is None or out_port is None:
                node.nf_extra_inputs[name] = edge  # kept for saving; validation reports it
            else:  # as written, even a type mismatch: validation names it
                out_port.connect_to(in_port, push_undo=False, emit_signal=False)
    graph.reroute_wires()
    graph.clear_undo_stack()
    return SceneState(format=spec.format, outputs=dict(spec.outputs), ui=copy.deepcopy(spec.ui))


def _backdrop_data(item: Any) -> dict[str, Any] | None:
    """One ``@backdrops`` entry in the form it is saved in (None if it is not one)."""
    if not isinstance(item, dict):
        return None
    pos = _ui_pos({"pos": item.get("pos")}) or (0.0, 0.0)
    size = _ui_pos({"pos": item.get("size")}) or (300.0, 200.0)
    rgb = _to_rgb(item.get("color"))
    data: dict[str, Any] = {"title": str(item.get("title", "Frame")), "pos": [round(pos[0]), round(pos[1])],
                            "size": [round(size[0]), round(size[1])]}
    if item.get("text"):
        data["text"] = str(item["text"])
    if rgb is not None:
        data["color"] = "#{:02x}{:02x}{:02x}".format(*rgb)
    return data


def load_backdrops(graph: EditorGraph, items: Any) -> list[BackdropNode]:
    """Frames from ``ui["@backdrops"]`` (entries that are not frames are skipped)."""
    made = []
    for item in items if isinstance(items, list) else []:
        data = _backdrop_data(item)
        if data is None:
            continue
        node = graph.create_node(BackdropNode.type_, name=data["title"], pos=data["pos"], selected=False,
                                 push_undo=False)
        node.set_property("width", float(data["size"][0]), push_undo=False)
        node.set_property("height", float(data["size"][1]), push_undo=False)
        node.set_property("backdrop_text", data.get("text", ""), push_undo=False)
        rgb = _to_rgb(data.get("color"))
        if rgb is not None:
            node.set_color(*rgb)
        made.append(node)
    return made


def backdrops_data(graph: EditorGraph) -> list[dict[str, Any]]:
    """The scene's frames as ``ui["@backdrops"]`` entries, in creation order."""
    out = []
    for node in graph.all_nodes():
        if isinstance(node, BackdropNode):
            w, h = node.size()
            x, y = node.pos()
            out.append(_backdrop_data({"title": node.name(), "text": node.text(), "pos": [x, y], "size": [w, h],
                                       "color": list(node.color()[:3])}))
    return out


def _node_ui(node: EditorNode, entry: Any) -> Any:
    """The node's ``ui`` entry: as loaded, plus position/colour when changed in the editor."""
    if entry is not None and not isinstance(entry, dict):
        return entry
    entry = dict(entry or {})
    pos = list(node.pos())
    if pos != node.nf_initial_ui.get("pos"):
        entry["pos"] = [round(pos[0]), round(pos[1])]
    color = tuple(node.color())
    if color != node.nf_initial_ui.get("color"):
        entry["color"] = "#{:02x}{:02x}{:02x}".format(*color[:3])
    note = node.note()
    if note != node.nf_initial_ui.get("note", ""):
        if note:
            entry["note"] = note
        else:
            entry.pop("note", None)
    return entry or None


def node_inputs(node: EditorNode) -> dict[str, EdgeRef]:
    """Connected inputs (scene connections win over edges kept from the file)."""
    inputs = dict(node.nf_extra_inputs)
    for name, port in node.inputs().items():
        connected = port.connected_ports()
        if connected:
            src = connected[0]
            inputs[name] = EdgeRef(node=src.node().name(), output=src.name())
    return inputs


def scene_to_spec(graph: EditorGraph, state: SceneState) -> GraphSpec:
    """The scene as a GraphSpec (``GraphSpec.dumps`` gives the canonical file)."""
    nodes = graph.editor_nodes()
    ids = {n.name() for n in nodes}
    gone = graph.ever_ids - ids
    spec_nodes: dict[str, NodeSpec] = {}
    ui = {k: copy.deepcopy(v) for k, v in state.ui.items() if k not in gone}
    for node in nodes:
        nid = node.name()
        spec_nodes[nid] = NodeSpec(type=node.type_name, params=copy.deepcopy(node.current_params()),
                                   inputs=node_inputs(node))
        entry = _node_ui(node, ui.get(nid))
        if entry is None:
            ui.pop(nid, None)
        else:
            ui[nid] = entry
    frames = backdrops_data(graph)
    loaded = state.ui.get(BACKDROPS)
    if loaded is not None and isinstance(loaded, list) and frames == [_backdrop_data(b) for b in loaded]:
        ui[BACKDROPS] = copy.deepcopy(loaded)  # unchanged: exactly as the file had it
    elif frames:
        ui[BACKDROPS] = frames
    else:
        ui.pop(BACKDROPS, None)
    outputs = {k: e for k, e in state.outputs.items() if e.node not in gone}
    return GraphSpec(format=state.format, nodes=spec_nodes, outputs=outputs, ui=ui)
