"""Engine overhead: scheduling cost per node on a chain of trivial nodes, and incremental re-runs.

    python benchmarks/engine.py [--nodes 1000] [--repeat 5] [--json benchmarks/results/engine.json]

Targets: <= 50 us of engine overhead per node; after changing the last node's param only that
node runs. Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from pathlib import Path

import torch

from nodeflow.atomic import write_json_atomic
from nodeflow.events import NodeStarted
from nodeflow.graph import Graph
from nodeflow.node import Input, Node, Output
from nodeflow.params import NodeParams
from nodeflow.registry import Registry
from nodeflow.session import Session
from nodeflow.types import FLOAT


class Seed(Node):
    """A constant number."""

    outputs = (Output("value", FLOAT),)

    class Params(NodeParams):
        value: float = 0.0

    def run(self, ctx):
        return {"value": self.params.value}


class AddOne(Node):
    """value + step: as cheap as a node gets, so the time measured is the engine's."""

    inputs = (Input("value", FLOAT),)
    outputs = (Output("value", FLOAT),)

    class Params(NodeParams):
        step: float = 1.0

    def run(self, ctx, value):
        return {"value": value + self.params.step}


class Counter:
    """Counts NodeStarted events (nodes that actually ran)."""

    def __init__(self) -> None:
        self.n = 0

    def count(self, event: object) -> None:
        if isinstance(event, NodeStarted):
            self.n += 1


def chain(n: int) -> Graph:
    registry = Registry()
    registry.register(Seed)
    registry.register(AddOne)
    g = Graph(registry=registry, base_dir=Path.cwd(), session=Session(registry=registry))
    prev = g.add("Seed", id="n0")
    for i in range(1, n):
        prev = g.add("AddOne", id=f"n{i}", value=prev.value)
    g.output("last", prev.value)
    return g


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", default="benchmarks/results/engine.json")
    args = parser.parse_args()
    n = args.nodes

    full, plan_t, exec_t, warm, rerun, rerun_counts = [], [], [], [], [], []
    for r in range(args.repeat):
        g = chain(n)
        t0 = time.perf_counter()
        plan = g.session.plan(g.spec, base_dir=g.base_dir)
        t1 = time.perf_counter()
        result = g.session.run_plan(plan, device="cpu")
        t2 = time.perf_counter()
        assert result["last"] == n - 1
        full.append(t2 - t0)
        plan_t.append(t1 - t0)
        exec_t.append(t2 - t1)

        t0 = time.perf_counter()
        g.run(device="cpu")
        warm.append(time.perf_counter() - t0)

        g.set(f"n{n - 1}", step=2.0 + r)
        started = Counter()
        t0 = time.perf_counter()
        result = g.run(device="cpu", on_event=started.count)
        rerun.append(time.perf_counter() - t0)
        rerun_counts.append(started.n)
        assert result["last"] == n - 2 + 2.0 + r

    med = statistics.median
    rows = [
        ("full run (plan + execute)", med(full), med(full) / n * 1e6),
        ("  of which plan (validate, order, keys)", med(plan_t), med(plan_t) / n * 1e6),
        ("  of which execute", med(exec_t), med(exec_t) / n * 1e6),
        ("re-run, nothing changed (all cached)", med(warm), med(warm) / n * 1e6),
        ("re-run after last node's param changed", med(rerun), med(rerun) / n * 1e6),
    ]
    target_us = 50.0
    print(f"engine benchmark: chain of {n} trivial nodes, median of {args.repeat} (torch {torch.__version__}, "
          f"{platform.processor() or platform.machine()})")
    print(f"{'measurement':<42} {'seconds':>9} {'us/node':>9}")
    for name, sec, us in rows:
        print(f"{name:<42} {sec:>9.4f} {us:>9.1f}")
    print(f"nodes that ran after changing the last param: {max(rerun_counts)} (target 1)")
    per_node = med(full) / n * 1e6
    print(f"overhead per node {per_node:.1f} us (target <= {target_us:.0f} us): "
          f"{'PASS' if per_node <= target_us else 'FAIL'}")

    out = {
        "nodes": n, "repeat": args.repeat, "torch": torch.__version__,
        "seconds": {name.strip(): sec for name, sec, _ in rows},
        "us_per_node": {name.strip(): us for name, _, us in rows},
        "rerun_nodes_run": max(rerun_counts), "target_us_per_node": target_us,
        "pass": per_node <= target_us and max(rerun_counts) == 1,
    }
    write_json_atomic(args.json, out)
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
