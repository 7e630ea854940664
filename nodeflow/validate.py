"""Every check a graph must pass before it runs, reporting all problems at once.

Checks: node types exist, params are known and valid (types, ranges, choices), inputs exist
and are connected to existing outputs of a compatible type (directly or through the one
conversion table), required inputs are connected, graph outputs resolve, no cycles, input
files exist, no output path would overwrite or add to an input (file, folder or pattern; through
symlinks and hard links too) and no two outputs write the same file.
"""

from __future__ import annotations

import difflib
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import UnionType
from typing import Any, Union, get_origin

import networkx as nx
from pydantic import ValidationError

from nodeflow.errors import Problem
from nodeflow.fingerprint import InputFileError, expand, is_pattern
from nodeflow.node import Node
from nodeflow.param_info import param_infos
from nodeflow.params import INPUT_PATH, OUTPUT_PATH, NodeParams, fields_with_role
from nodeflow.path_guard import InputGuard, outputs_overlap
from nodeflow.registry import Registry
from nodeflow.spec import EdgeRef, GraphSpec
from nodeflow.types import conversion
from nodeflow.written import foreign_file, foreign_problem


@dataclass
class Connection:
    """A resolved edge into ``input`` of a node, with the conversion it needs."""

    input: str
    source: EdgeRef
    convert: Callable[[Any], Any]
    converted: bool


@dataclass
class ValidatedGraph:
    spec: GraphSpec
    classes: dict[str, type[Node]] = field(default_factory=dict)
    params: dict[str, NodeParams] = field(default_factory=dict)
    connections: dict[str, list[Connection]] = field(default_factory=dict)
    dag: nx.DiGraph = field(default_factory=nx.DiGraph)
    input_files: dict[str, dict[str, Path]] = field(default_factory=dict)
    """node id -> param name -> resolved input path."""
    output_files: dict[str, dict[str, Path]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


def _close(name: str, options: list[str]) -> str | None:
    hits = difflib.get_close_matches(name, options, n=3, cutoff=0.5)
    return f"did you mean {', '.join(repr(h) for h in hits)}?" if hits else None


_RANGE_ERRORS = frozenset({"greater_than", "greater_than_equal", "less_than", "less_than_equal"})


def _param_problem(node_id: str, cls: type[Node], err: dict[str, Any]) -> Problem:
    loc = [str(p) for p in err.get("loc", ())]
    name = loc[0] if loc else None
    kind = err.get("type", "")
    fields = {p.name: p for p in param_infos(cls.Params)}
    if kind == "extra_forbidden":
        return Problem(f"unknown param {name!r}", node=node_id, field=name,
                       hint=_close(name or "", list(fields))
                       or f"{cls.type_name} params: {', '.join(fields) or 'none'}")
    if kind == "missing":
        return Problem(f"missing required param {name!r}", node=node_id, field=name,
                       hint=fields[name].description or None if name in fields else None)
    got = err.get("input")
    what = "out of range" if kind in _RANGE_ERRORS else "invalid value"
    msg = err.get("msg", "invalid")
    msg = msg[len("Value error, "):] if msg.startswith("Value error, ") else msg
    return Problem(f"{what} {got!r}: {msg}", node=node_id, field=".".join(loc) or None)


def _merge_union_errors(cls: type[Node], errors: list[Any]) -> list[Any]:
    """One error per union-typed param (``int | "auto"``): pydantic reports each member's failure under
    the member's tag (``scale.constrained-int``, ``scale.literal['auto']``); the user needs one line
    naming the param and what each member would have taken."""
    fields = cls.Params.model_fields
    out: list[Any] = []
    merged: dict[str, dict[str, Any]] = {}
    for err in errors:
        loc = err.get("loc", ())
        name = str(loc[0]) if loc else ""
        info = fields.get(name)
        if len(loc) != 2 or info is None or get_origin(info.annotation) not in (Union, UnionType):
            out.append(err)
            continue
        msg = err.get("msg", "invalid")
        if name in merged:
            merged[name]["msg"] += f", or {msg[0].lower()}{msg[1:]}"
            if merged[name]["type"] not in _RANGE_ERRORS:  # an out-of-range member says more than a wrong type
                merged[name]["type"] = err.get("type", "")
            continue
        merged[name] = {**err, "loc": (name,), "msg": msg}
        out.append(merged[name])
    return out


def validate_graph(spec: GraphSpec, registry: Registry, *, base_dir: Path,
                   output_dir: Path | None = None, check_files: bool = True) -> ValidatedGraph:
    """Resolve and check ``spec``; the result lists every problem found (empty when valid)."""
    out = ValidatedGraph(spec=spec)
    problems = out.problems
    output_dir = output_dir or Path.cwd()
    all_ids = list(spec.nodes)

    for node_id, node in spec.nodes.items():
        if node.type not in registry:
            close = registry.closest(node.type)
            problems.append(Problem(f"unknown node type {node.type!r}", node=node_id, field="type",
                                    hint=f"did you mean {', '.join(close)}?" if close
                                    else "`nodeflow nodes` lists the known types"))
            continue
        cls = registry.get(node.type)
        out.classes[node_id] = cls
        try:
            out.params[node_id] = cls.Params(**node.params)
        except ValidationError as exc:
            problems.extend(_param_problem(node_id, cls, e) for e in _merge_union_errors(cls, exc.errors()))

    def resolve_edge(edge: EdgeRef, where_node: str | None, where_field: str):
        """Problem-checked source class/output of an edge, or None."""
        if edge.node not in spec.nodes:
            problems.append(Problem(f"refers to node {edge.node!r}, which does not exist", node=where_node,
                                    field=where_field, hint=_close(edge.node, all_ids)))
            return None
        src_cls = out.classes.get(edge.node)
        if src_cls is None:
            return None  # its unknown type is already reported
        src_out = src_cls.output(edge.output)
        if src_out is None:
            names = ", ".join(o.name for o in src_cls.outputs) or "none"
            problems.append(Problem(f"node {edge.node} ({src_cls.type_name}) has no output {edge.output!r}",
                                    node=where_node, field=where_field, hint=f"its outputs: {names}"))
            return None
        return src_out

    dag = out.dag
    dag.add_nodes_from(spec.nodes)
    for node_id, node in spec.nodes.items():
        cls = out.classes.get(node_id)
        if cls is None:
            continue
        conns: list[Connection] = []
        for name, edge in node.inputs.items():
            sock = cls.input(name)
            if sock is None:
                names = [i.name for i in cls.inputs]
                problems.append(Problem(f"unknown input {name!r}", node=node_id, field=f"inputs.{name}",
                                        hint=_close(name, names) or f"inputs: {', '.join(names) or 'none'}"))
                continue
            if edge.node in spec.nodes:
                dag.add_edge(edge.node, node_id)
            src_out = resolve_edge(edge, node_id, f"inputs.{name}")
            if src_out is None:
                continue
            fn = conversion(src_out.type, sock.type)
            if fn is None:
                problems.append(Problem(
                    f"type mismatch: {edge} is {src_out.type.name} but input {name!r} takes {sock.type.name}",
                    node=node_id, field=f"inputs.{name}",
                    hint=f"no conversion from {src_out.type.name} to {sock.type.name}; "
                         f"connect an output of type {sock.type.name}"))
                continue
            conns.append(Connection(name, edge, fn, src_out.type != sock.type))
        for sock in cls.inputs:
            if sock.required and sock.name not in node.inputs:
                problems.append(Problem(f"missing required input {sock.name!r} ({sock.type.name})",
                                        node=node_id, field=f"inputs.{sock.name}",
                                        hint=f"connect an {sock.type.name} output to it"))
        out.connections[node_id] = conns

    for name, edge in spec.outputs.items():
        resolve_edge(edge, None, f"outputs.{name}")

    cycles = [] if nx.is_directed_acyclic_graph(dag) else list(itertools.islice(nx.simple_cycles(dag), 5))
    for cycle in cycles:
        ring = " -> ".join([*cycle, cycle[0]])
        problems.append(Problem(f"cycle: {ring}", node=cycle[0], field="inputs",
                                hint="a graph must be acyclic; remove one of these connections"))

    # Files: inputs must exist; outputs must never land on an input.
    for node_id, params in out.params.items():
        cls = out.classes[node_id]
        ins: dict[str, Path] = {}
        for pname in fields_with_role(cls.Params, INPUT_PATH):
            value = getattr(params, pname)
            if not value:
                continue
            path = Path(value).expanduser()
            path = path if path.is_absolute() else base_dir / path
            ins[pname] = path
            try:
                found = expand(path) if check_files else True
            except InputFileError as exc:
                problems.append(Problem(str(exc), node=node_id, field=pname))
                continue
            if not found:
                what = "no file matches" if is_pattern(str(path)) else "file not found:"
                problems.append(Problem(f"{what} {path}", node=node_id, field=pname,
                                        hint="relative paths are relative to the graph file's folder"
                                        f" ({base_dir})"))
        out.input_files[node_id] = ins
        outs: dict[str, Path] = {}
        for pname in fields_with_role(cls.Params, OUTPUT_PATH):
            value = getattr(params, pname)
            if value:
                path = Path(value).expanduser()
                outs[pname] = path if path.is_absolute() else output_dir / path
        out.output_files[node_id] = outs

    _check_output_paths(out)
    return out


def _check_output_paths(vg: ValidatedGraph) -> None:
    """No output may land on, in or among the graph's inputs, no two outputs on one file, and none
    on a file nodeflow did not write."""
    guard = InputGuard.of(p for files in vg.input_files.values() for p in files.values())
    seen: list[tuple[str, str, Path]] = []
    for node_id, outs in vg.output_files.items():
        for pname, path in outs.items():
            why = guard.clash(path)
            if why:
                vg.problems.append(Problem(f"refusing to write {path}: {why}", node=node_id, field=pname,
                                           hint="write to another path: inputs are never overwritten"))
            elif foreign_file(path):  # whatever the node's overwrite says; a frame pattern is the node's
                message, hint = foreign_problem(path)
                vg.problems.append(Problem(message, node=node_id, field=pname, hint=hint))
            other = next(((n, f) for n, f, q in seen if outputs_overlap(path, q)), None)
            if other is not None:
                vg.problems.append(Problem(f"output {path} is also written by node {other[0]} ({other[1]})",
                                           node=node_id, field=pname,
                                           hint="give each output its own path: one would overwrite the other"))
            seen.append((node_id, pname, path))
