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
import stat
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from nodeflow.atomic import write_text_atomic
from nodeflow.errors import GraphValidationError, Problem

FORMAT_NAME = "nodeflow"
FORMAT_VERSION = 1
FORMAT = f"{FORMAT_NAME}/{FORMAT_VERSION}"
NODE_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")
_VERSION = re.compile(r"[0-9]{1,6}", re.ASCII)
MAX_GRAPH_BYTES = 16 << 20
"""A graph file is a few KB; anything past this is not one (or is /dev/zero)."""
MAX_DEPTH = 64
"""JSON nesting deeper than this is refused (the format itself needs 5 levels)."""
MAX_INT_DIGITS = 30
"""Integers longer than this are out of every param's range; refused before int() sees them."""


_TOO_DEEP = object()


class JSONSyntaxError(GraphValidationError):
    """Text that is not JSON at all (``--set`` then takes it as a plain string)."""


class _JSONRefused(ValueError):
    """A JSON value the strict parser will not accept (duplicate key, NaN, huge number)."""


def _refuse_constant(name: str) -> Any:
    raise _JSONRefused(f"{name} is not a number a graph may hold")


def _parse_int(text: str) -> int:
    digits = text.lstrip("-")
    if len(digits) > MAX_INT_DIGITS:
        raise _JSONRefused(f"an integer of {len(digits)} digits is too large for any param")
    return int(text)


def _parse_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise _JSONRefused(f"{text[:40]} is too large: it would be read as infinity")
    return value


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _JSONRefused(f"duplicate key {key[:60]!r}: a file with two values for one key is ambiguous")
        out[key] = value
    return out


def _depth_exceeds(value: Any, limit: int) -> bool:
    """Whether containers nest deeper than ``limit`` (iterative, so it cannot overflow the stack)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return True
            stack.extend((v, depth + 1) for v in (item.values() if isinstance(item, dict) else item))
    return False


def parse_json(text: str, source: str = "<string>", field: str | None = None) -> Any:
    """Strict JSON for graphs and ``--set`` values: no duplicate keys, no NaN/Infinity, no
    numbers beyond any param's range, no nesting beyond :data:`MAX_DEPTH`.

    Raises :class:`GraphValidationError` naming ``source`` (the file) or ``field``.
    """
    where = field or source
    try:
        data = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_refuse_constant,
                          parse_int=_parse_int, parse_float=_parse_float)
    except json.JSONDecodeError as exc:
        raise JSONSyntaxError([
            Problem(f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})", field=where)
        ]) from None
    except _JSONRefused as exc:
        raise GraphValidationError([Problem(f"refused: {exc}", field=where)]) from None
    except RecursionError:
        data = _TOO_DEEP
    if data is _TOO_DEEP or _depth_exceeds(data, MAX_DEPTH):
        raise GraphValidationError([Problem(f"JSON nested more than {MAX_DEPTH} levels deep", field=where,
                                            hint="a --set value is a number, string or short list" if field
                                            else "a graph needs about 5 levels; is this a graph file?")])
    return data


def read_graph_text(path: Path) -> str:
    """The text of a graph file: a regular file of at most :data:`MAX_GRAPH_BYTES`, UTF-8."""
    def problem(message: str, hint: str | None = None) -> GraphValidationError:
        return GraphValidationError([Problem(message, field=str(path), hint=hint)])

    try:
        st = path.stat()
        if path.is_dir():
            raise problem("is a folder, not a graph file", hint="name a .json graph file")
        if not stat.S_ISREG(st.st_mode):
            raise problem("is not a regular file (a device, FIFO or socket)", hint="name a .json graph file")
        if st.st_size > MAX_GRAPH_BYTES:
            raise problem(f"is {st.st_size / 1e6:.0f} MB; a graph file is a few KB", hint="is this a graph file?")
        with path.open("rb") as f:
            data = f.read(MAX_GRAPH_BYTES + 1)
    except OSError as exc:
        raise problem(f"cannot read graph file: {exc.strerror}") from None
    except ValueError as exc:  # an embedded NUL byte in the path
        raise problem(f"cannot read graph file: {exc}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise problem(f"not UTF-8 text: byte 0x{data[exc.start]:02x} at line {line} (offset {exc.start})",
                      hint="save the graph as UTF-8") from None




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
        return cls.from_data(parse_json(text, source))

    @classmethod
    def load(cls, path: str | Path) -> GraphSpec:
        path = Path(path)
        return cls.loads(read_graph_text(path), source=str(path))

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
    shown = repr(fmt) if len(repr(fmt)) <= 40 else repr(fmt)[:37] + "..."
    unknown = [Problem(f"unknown format {shown}", field="format", hint=f'expected "{FORMAT}"')]
    if not isinstance(fmt, str):
        return unknown
    name, _, version = fmt.partition("/")
    # ASCII digits only: str.isdigit() also takes '²' and '١' (which int() reads as 1).
    if name != FORMAT_NAME or not _VERSION.fullmatch(version):
        return unknown
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
