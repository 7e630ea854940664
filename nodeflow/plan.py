"""From a validated graph to a Plan: what runs, in which order, once or per frame, under which key.

A Plan is plain data (ids, classes, params, edges, keys) that any executor can take.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx
import torch

from nodeflow.context import RunContext
from nodeflow.errors import GraphValidationError, NodeError, NodeExecutionError, Problem
from nodeflow.fingerprint import path_fingerprint
from nodeflow.node import Node
from nodeflow.params import NodeParams, fields_not_in_cache_key
from nodeflow.registry import Registry
from nodeflow.spec import EdgeRef, GraphSpec
from nodeflow.validate import Connection, ValidatedGraph, validate_graph


@dataclass
class PlannedNode:
    id: str
    cls: type[Node]
    params: NodeParams
    connections: list[Connection]
    time_varying: bool
    key: str
    """Content hash of type, version, params, input-file fingerprints and upstream keys."""
    params_data: dict[str, Any]
    input_keys: dict[str, str]
    """input name -> upstream key (for 'why did it run' messages)."""
    input_files: frozenset[Path] = frozenset()


@dataclass
class Plan:
    nodes: dict[str, PlannedNode]
    """In execution (topological) order."""
    outputs: dict[str, EdgeRef]
    frame_count: int | None
    base_dir: Path
    output_dir: Path
    input_files: frozenset[Path] = field(default_factory=frozenset)
    output_files: frozenset[Path] = field(default_factory=frozenset)
    """The planned nodes' output-path params (files, folders, frame patterns), resolved."""

    @property
    def static(self) -> list[PlannedNode]:
        return [n for n in self.nodes.values() if not n.time_varying]

    @property
    def time_varying(self) -> list[PlannedNode]:
        return [n for n in self.nodes.values() if n.time_varying]


def node_seed(node_id: str, params: NodeParams) -> int:
    """The seed a node's ``ctx`` gets: its ``seed`` param when it has one, else derived from its id."""
    seed = getattr(params, "seed", None)
    return seed if isinstance(seed, int) and not isinstance(seed, bool) else zlib.crc32(node_id.encode())


def cache_key(type_name: str, version: int, params: dict[str, Any], files: dict[str, str],
              inputs: dict[str, str], seed: int | None = None) -> str:
    """The one cache-key function: a node's result is fixed by these (``seed`` when not a param)."""
    parts: list[Any] = [type_name, version, params, files, inputs]
    if seed is not None:
        parts.append(seed)
    payload = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.blake2b(payload.encode(), digest_size=16).hexdigest()


def batch_key(key: str, frames: tuple[int, ...]) -> str:
    """Key of one frame batch of a time-varying node whose plan key is ``key``."""
    digest = hashlib.blake2b(",".join(map(str, frames)).encode(), digest_size=4).hexdigest()
    return f"{key}@{frames[0]}+{len(frames)}:{digest}"


def build_plan(spec: GraphSpec, registry: Registry, *, base_dir: Path, output_dir: Path | None = None,
               outputs: Iterable[str] | None = None, include_sinks: bool = True) -> Plan:
    """Validate ``spec`` and plan the nodes that the sinks and requested ``outputs`` need."""
    output_dir = Path(output_dir) if output_dir is not None else Path.cwd()
    vg: ValidatedGraph = validate_graph(spec, registry, base_dir=base_dir, output_dir=output_dir)
    problems = list(vg.problems)
    requested = dict(spec.outputs) if outputs is None else {}
    if outputs is not None:
        for name in outputs:
            if name not in spec.outputs:
                problems.append(Problem(f"no graph output named {name!r}", field="outputs",
                                        hint=f"graph outputs: {', '.join(spec.outputs) or 'none'}"))
            else:
                requested[name] = spec.outputs[name]
    if problems:
        raise GraphValidationError(problems)

    targets = {e.node for e in requested.values()}
    if include_sinks:
        targets |= {nid for nid, cls in vg.classes.items() if cls.sink}
    needed: set[str] = set(targets)
    for t in targets:
        needed |= nx.ancestors(vg.dag, t)
    position = {nid: i for i, nid in enumerate(spec.nodes)}  # ties keep the file's order
    order = [n for n in nx.lexicographical_topological_sort(vg.dag, key=position.__getitem__) if n in needed]

    nodes: dict[str, PlannedNode] = {}
    frame_counts: dict[str, int] = {}
    for nid in order:
        cls = vg.classes[nid]
        params = vg.params[nid]
        conns = vg.connections[nid]
        tv = cls.frame_source or any(nodes[c.source.node].time_varying for c in conns)
        params_data = params.model_dump(mode="json")
        input_keys = {c.input: f"{nodes[c.source.node].key}:{c.source.output}" for c in conns}
        files = {k: path_fingerprint(p) for k, p in vg.input_files.get(nid, {}).items()}
        neutral = fields_not_in_cache_key(cls.Params)
        key_params = {k: v for k, v in params_data.items() if k not in neutral} if neutral else params_data
        seed = None if isinstance(params_data.get("seed"), int) else node_seed(nid, params)
        key = cache_key(cls.type_name, cls.version, key_params, files, input_keys, seed)
        nodes[nid] = PlannedNode(nid, cls, params, conns, tv, key, params_data, input_keys,
                                 frozenset(vg.input_files.get(nid, {}).values()))
        if cls.frame_source:
            frame_counts[nid] = _frame_count(nid, cls, params, base_dir, output_dir)

    all_inputs = frozenset(p.resolve() for files in vg.input_files.values() for p in files.values())
    frame_count = min(frame_counts.values()) if frame_counts else None
    all_outputs = frozenset(p for nid, files in vg.output_files.items() if nid in nodes for p in files.values())
    return Plan(nodes, requested, frame_count, base_dir, output_dir, all_inputs, all_outputs)


def _frame_count(nid: str, cls: type[Node], params: NodeParams, base_dir: Path, output_dir: Path) -> int:
    ctx = RunContext(nid, cls.type_name, torch.device("cpu"), seed=0, base_dir=base_dir, output_dir=output_dir)
    try:
        n = int(cls(params).frame_count(ctx))
    except NodeError as exc:
        raise NodeExecutionError(nid, cls.type_name, exc.message, field=exc.field, hint=exc.hint) from exc
    except Exception as exc:
        raise NodeExecutionError(nid, cls.type_name, f"cannot count frames: {exc}") from exc
    if n <= 0:
        raise NodeExecutionError(nid, cls.type_name, "provides no frames",
                                 hint="check the frame range and the source's files")
    return n
