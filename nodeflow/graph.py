"""The Python graph-building API: :class:`Graph`, on top of the session.

The file format itself (``GraphSpec``, ``NodeSpec``, ``EdgeRef``, ``FORMAT``) lives in
:mod:`nodeflow.spec`; it is re-exported here, so ``from nodeflow.graph import GraphSpec`` works.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nodeflow.errors import GraphValidationError
from nodeflow.spec import FORMAT, FORMAT_NAME, FORMAT_VERSION, NODE_ID, EdgeRef, GraphSpec, NodeSpec

if TYPE_CHECKING:
    from nodeflow.events import Listener
    from nodeflow.registry import Registry
    from nodeflow.session import Session

__all__ = ["FORMAT", "FORMAT_NAME", "FORMAT_VERSION", "NODE_ID", "EdgeRef", "Graph", "GraphSpec", "NodeRef",
           "NodeSpec", "OutputRef"]


# ---------------------------------------------------------------------------------------------
# Python building API


class OutputRef:
    """``node.image``: an output socket of a node in a :class:`Graph`, to connect or request."""

    __slots__ = ("node", "output")

    def __init__(self, node: str, output: str):
        self.node = node
        self.output = output

    def edge(self) -> EdgeRef:
        return EdgeRef(node=self.node, output=self.output)

    def __repr__(self) -> str:
        return f"<{self.node}.{self.output}>"


class NodeRef:
    """A node in a :class:`Graph`. Attribute access gives its output sockets."""

    def __init__(self, graph: Graph, node_id: str):
        object.__setattr__(self, "_graph", graph)
        object.__setattr__(self, "id", node_id)

    def __getattr__(self, name: str) -> OutputRef:
        if name.startswith("__"):
            raise AttributeError(name)
        return self[name]

    def __getitem__(self, name: str) -> OutputRef:
        cls = self._graph.node_class(self.id)
        if cls.output(name) is None:
            names = ", ".join(o.name for o in cls.outputs) or "none"
            raise AttributeError(f"node {self.id} ({cls.type_name}) has no output {name!r}; outputs: {names}")
        return OutputRef(self.id, name)

    def __repr__(self) -> str:
        return f"<node {self.id}>"


class Graph:
    """Build, edit, save and run a graph from Python.

    >>> g = Graph()
    >>> src = g.add("LoadImage", path="scene.png")
    >>> soft = g.add("Blur", image=src.image, sigma=2)
    >>> g.output("result", soft.image)
    >>> g.run()["result"].shape
    """

    def __init__(self, spec: GraphSpec | None = None, *, registry: Registry | None = None,
                 base_dir: str | Path | None = None, session: Session | None = None):
        from nodeflow.registry import default_registry

        self.spec = spec if spec is not None else GraphSpec()
        self.registry = registry if registry is not None else default_registry()
        self.base_dir = Path(base_dir) if base_dir is not None else Path.cwd()
        self._session = session

    # -- files ---------------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path, **kwargs: Any) -> Graph:
        path = Path(path)
        kwargs.setdefault("base_dir", path.resolve().parent)
        return cls(GraphSpec.load(path), **kwargs)

    def save(self, path: str | Path) -> None:
        self.spec.save(path)

    def dumps(self) -> str:
        return self.spec.dumps()

    # -- editing -------------------------------------------------------------------------------
    def node_class(self, node_id: str):
        return self.registry.get(self.spec.nodes[node_id].type)

    def node(self, node_id: str) -> NodeRef:
        if node_id not in self.spec.nodes:
            raise KeyError(f"no node {node_id!r} in graph")
        return NodeRef(self, node_id)

    def add(self, type_name: str, id: str | None = None, **kwargs: Any) -> NodeRef:
        """Add a node. Keyword arguments that are node outputs connect inputs; the rest are params."""
        if type_name not in self.registry:
            close = self.registry.closest(type_name)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise KeyError(f"unknown node type {type_name!r}{hint}")
        node_id = id or self._fresh_id(type_name)
        if node_id in self.spec.nodes:
            raise ValueError(f"node id {node_id!r} is already used")
        if not NODE_ID.match(node_id):
            raise ValueError(f"invalid node id {node_id!r}")
        self.spec.nodes[node_id] = NodeSpec(type=type_name)
        try:
            self.set(node_id, **kwargs)
        except Exception:
            del self.spec.nodes[node_id]
            raise
        return NodeRef(self, node_id)

    def set(self, node_id: str, **kwargs: Any) -> None:
        """Set params and/or connect inputs of an existing node (``None`` disconnects/unsets)."""
        node = self.spec.nodes[node_id]
        cls = self.registry.get(node.type)
        for key, value in kwargs.items():
            if isinstance(value, NodeRef):
                value = _single_output(self, value)
            if isinstance(value, OutputRef):
                if cls.input(key) is None:
                    names = ", ".join(i.name for i in cls.inputs) or "none"
                    raise ValueError(f"node {node_id} ({node.type}) has no input {key!r}; inputs: {names}")
                node.inputs[key] = value.edge()
            elif cls.input(key) is not None:
                if value is None:
                    node.inputs.pop(key, None)
                else:
                    raise ValueError(f"node {node_id} ({node.type}): input {key!r} takes a node output "
                                     f"(e.g. other.image), got {type(value).__name__}")
            elif value is None:
                node.params.pop(key, None)
            else:
                node.params[key] = _jsonable(value)

    def remove(self, node_id: str) -> None:
        del self.spec.nodes[node_id]
        self.spec.ui.pop(node_id, None)

    def output(self, name: str, ref: OutputRef | NodeRef) -> None:
        """Request ``ref`` as a named graph output (what :meth:`run` returns)."""
        if isinstance(ref, NodeRef):
            ref = _single_output(self, ref)
        self.spec.outputs[name] = ref.edge()

    def _fresh_id(self, type_name: str) -> str:
        base = re.sub(r"(?<!^)(?=[A-Z])", "_", type_name).lower()
        if base not in self.spec.nodes:
            return base
        i = 2
        while f"{base}_{i}" in self.spec.nodes:
            i += 1
        return f"{base}_{i}"

    # -- running -------------------------------------------------------------------------------
    @property
    def session(self) -> Session:
        """The in-process cache shared by successive runs of this graph."""
        if self._session is None:
            from nodeflow.session import Session

            self._session = Session(registry=self.registry)
        return self._session

    def validate(self) -> None:
        """Raise :class:`GraphValidationError` listing every problem, if any."""
        from nodeflow.validate import validate_graph

        problems = validate_graph(self.spec, self.registry, base_dir=self.base_dir).problems
        if problems:
            raise GraphValidationError(problems)

    def run(self, outputs: Iterable[str] | None = None, *, frames: range | None = None,
            device: str = "auto", batch_size: int = 8, use_cache: bool = True,
            output_dir: str | Path | None = None, on_event: Listener | Callable[[Any], None] | None = None,
            ) -> dict[str, Any]:
        """Run what the sinks and the requested outputs need; return the requested outputs.

        Time-varying outputs come back concatenated over all frames of the run.
        """
        return self.session.run(
            self.spec, base_dir=self.base_dir, outputs=outputs, frames=frames, device=device,
            batch_size=batch_size, use_cache=use_cache, output_dir=output_dir,
            listeners=(on_event,) if on_event else (),
        )


def _single_output(graph: Graph, ref: NodeRef) -> OutputRef:
    cls = graph.node_class(ref.id)
    if len(cls.outputs) != 1:
        names = ", ".join(o.name for o in cls.outputs)
        raise ValueError(f"node {ref.id} ({cls.type_name}) has several outputs ({names}); name one, "
                         f"e.g. {ref.id}.{cls.outputs[0].name}")
    return OutputRef(ref.id, cls.outputs[0].name)


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value
