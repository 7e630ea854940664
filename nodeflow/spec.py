"""The one graph format (``nodeflow/1`` JSON): GraphSpec and its parts, load and canonical save.

Plain data with no engine behind it, so validation, planning and the session import it without
importing the :class:`nodeflow.graph.Graph` builder (which sits on top of the session).

File layout, written with a fixed key order so that files diff well::

    {
      "format": "nodeflow/1",
      "nodes": {
        "scene": {"type": "LoadImage", "params": {"path": "scene.png"}},
        "soft":  {"type": "Blur", "params": {"sigma": 2.0},
                  "inputs": {"image": {"node": "scene", "output": "image"}}}
      },
      "outputs": {"result": {"node": "soft", "output": "image"}},
      "ui": {"scene": {"pos": [0, 0]}}
    }

Nodes keep the order they were written in; params, inputs and ``ui`` keys are sorted.
The engine ignores ``ui`` (editor positions, colours, notes) but keeps it on a round trip.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from nodeflow.atomic import write_text_atomic
from nodeflow.errors import GraphValidationError, Problem

FORMAT_NAME = "nodeflow"
FORMAT_VERSION = 1
FORMAT = f"{FORMAT_NAME}/{FORMAT_VERSION}"
NODE_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")


class EdgeRef(BaseModel):
    """Where an input comes from: an output socket of another node."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    node: str
    output: str

    def __str__(self) -> str:
        return f"{self.node}.{self.output}"


class NodeSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: str
    params: dict[str, Any] = Field(default_factory=dict)
    inputs: dict[str, EdgeRef] = Field(default_factory=dict)


class GraphSpec(BaseModel):
    """A graph as plain data: what the file holds, nothing resolved yet."""

    model_config = ConfigDict(extra="forbid")
    format: str = FORMAT
    nodes: dict[str, NodeSpec] = Field(default_factory=dict)
    outputs: dict[str, EdgeRef] = Field(default_factory=dict)
    ui: dict[str, Any] = Field(default_factory=dict)

    # -- (de)serialisation ---------------------------------------------------------------------
    @classmethod
    def from_data(cls, data: Any) -> GraphSpec:
        """Parse loaded JSON, raising :class:`GraphValidationError` with every structural problem."""
        if not isinstance(data, dict):
            raise GraphValidationError([Problem("a graph file must hold a JSON object", field="(file)")])
        problems = _check_format(data.get("format"))
        if problems:
            raise GraphValidationError(problems)
        try:
            spec = cls.model_validate(data)
        except ValidationError as exc:
            raise GraphValidationError([_structural_problem(e) for e in exc.errors()]) from None
        bad_ids = [nid for nid in spec.nodes if not NODE_ID.match(nid)]
        if bad_ids:
            raise GraphValidationError([
                Problem(f"invalid node id {nid!r}", node=nid,
                        hint="ids start with a letter or '_' and hold letters, digits, '_' or '-'")
                for nid in bad_ids
            ])
        return spec

    @classmethod
    def loads(cls, text: str, source: str = "<string>") -> GraphSpec:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise GraphValidationError([
                Problem(f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", field=source)
            ]) from None
        return cls.from_data(data)

    @classmethod
    def load(cls, path: str | Path) -> GraphSpec:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise GraphValidationError([Problem(f"cannot read graph file: {exc.strerror}", field=str(path))]) from None
        return cls.loads(text, source=str(path))

    def to_data(self) -> dict[str, Any]:
        """Plain data in the canonical key order."""
        nodes: dict[str, Any] = {}
        for nid, node in self.nodes.items():
            entry: dict[str, Any] = {"type": node.type}
            if node.params:
                entry["params"] = {k: node.params[k] for k in sorted(node.params)}
            if node.inputs:
                entry["inputs"] = {k: _edge_data(node.inputs[k]) for k in sorted(node.inputs)}
            nodes[nid] = entry
        data: dict[str, Any] = {"format": self.format, "nodes": nodes}
        if self.outputs:
            data["outputs"] = {k: _edge_data(self.outputs[k]) for k in sorted(self.outputs)}
        if self.ui:
            data["ui"] = _sorted_deep(self.ui)
        return data

    def dumps(self) -> str:
        return _format_json(self.to_data()) + "\n"

    def save(self, path: str | Path) -> None:
        """Write atomically: a crash never leaves a half-written graph file."""
        write_text_atomic(path, self.dumps())


def _edge_data(edge: EdgeRef) -> dict[str, str]:
    return {"node": edge.node, "output": edge.output}


def _sorted_deep(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _sorted_deep(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted_deep(v) for v in value]
    return value


def _format_json(value: Any, indent: int = 0) -> str:
    """Indented JSON where small flat containers (edges, positions, colours) stay on one line."""
    compact = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    is_container = isinstance(value, dict | list)
    flat = is_container and not any(isinstance(v, dict | list) for v in
                                    (value.values() if isinstance(value, dict) else value))
    if not is_container or (flat and len(compact) + indent <= 96) or not value:
        return compact
    pad = " " * (indent + 2)
    if isinstance(value, dict):
        items = [f"{pad}{json.dumps(k, ensure_ascii=False)}: {_format_json(v, indent + 2)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"
    items = [pad + _format_json(v, indent + 2) for v in value]
    return "[\n" + ",\n".join(items) + "\n" + " " * indent + "]"


def _check_format(fmt: Any) -> list[Problem]:
    if fmt is None:
        return [Problem("missing \"format\"", field="format", hint=f'add "format": "{FORMAT}"')]
    if not isinstance(fmt, str) or "/" not in fmt:
        return [Problem(f"unknown format {fmt!r}", field="format", hint=f'expected "{FORMAT}"')]
    name, _, version = fmt.partition("/")
    if name != FORMAT_NAME or not version.isdigit():
        return [Problem(f"unknown format {fmt!r}", field="format", hint=f'expected "{FORMAT}"')]
    if int(version) > FORMAT_VERSION:
        return [Problem(
            f"this graph uses format {fmt}, newer than this nodeflow understands ({FORMAT})",
            field="format", hint="upgrade nodeflow to open it")]
    if int(version) < FORMAT_VERSION:
        return [Problem(f"format {fmt} is older than any this nodeflow reads ({FORMAT})", field="format")]
    return []


def _structural_problem(err: dict[str, Any]) -> Problem:
    loc = [str(p) for p in err.get("loc", ())]
    node = None
    if len(loc) >= 2 and loc[0] == "nodes":
        node = loc[1]
        loc = loc[2:]
    where = ".".join(loc) or None
    msg = err.get("msg", "invalid")
    if err.get("type") == "extra_forbidden":
        msg = f"unknown key {loc[-1]!r}" if loc else "unknown key"
    return Problem(msg, node=node, field=where)
