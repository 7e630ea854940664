"""The engine's layering: no import cycle among its modules, and no concrete model named in it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import networkx as nx

ENGINE = Path(__file__).resolve().parents[1] / "nodeflow"


def _imports(path: Path) -> set[str]:
    """nodeflow modules that ``path`` imports anywhere (module level or inside functions),
    except under ``if TYPE_CHECKING:`` (annotations only)."""
    tree = ast.parse(path.read_text())
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            skip |= {id(n) for n in ast.walk(node)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("nodeflow."):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("nodeflow.")}
    return found


def test_no_import_cycle_among_engine_modules():
    graph = nx.DiGraph()
    for path in ENGINE.glob("*.py"):
        graph.add_node(path.stem)
        for target in _imports(path):
            if (ENGINE / f"{target}.py").exists() and target != path.stem:
                graph.add_edge(path.stem, target)
    cycles = list(nx.simple_cycles(graph))
    assert not cycles, f"import cycles: {cycles}"
    assert not graph.has_edge("session", "graph") and graph.has_edge("validate", "spec")


def test_the_engine_names_no_concrete_model():
    pattern = re.compile(r"pix2pix|cyclegan|singan", re.IGNORECASE)
    named = [f"{p.name}:{i}" for p in ENGINE.glob("*.py")
             for i, line in enumerate(p.read_text().splitlines(), 1) if pattern.search(line)]
    assert not named, f"the engine names concrete models at {named}"
