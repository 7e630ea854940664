"""Executors are looked up by name in one table; a new one builds on the public batch API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pytest
import torch
from engine_nodes import make_registry

from nodeflow import executors
from nodeflow.cli import main
from nodeflow.errors import NodeflowError
from nodeflow.execute import Executor
from nodeflow.execute_dask import DaskExecutor
from nodeflow.graph import Graph
from nodeflow.session import Session


@dataclass
class ReversedExecutor(Executor):
    """Runs the batches last to first (a sink would see them out of order): uses run_batch only."""

    options: ClassVar[tuple[str, ...]] = ("label",)
    label: str = ""

    def run_batches(self, plan, instances, stats, static_values, frame_list, batch_size, collected):
        batches = [tuple(frame_list[i:i + batch_size]) for i in range(0, len(frame_list), batch_size)]
        for frames in reversed(batches):
            self.run_batch(plan, plan.time_varying, instances, stats, static_values, frames, frame_list, collected)


@pytest.fixture
def reversed_registered(monkeypatch):
    monkeypatch.setitem(executors.BUILTIN, "reversed", f"{__name__}:ReversedExecutor")
    executors.executor_table.cache_clear()
    yield
    executors.executor_table.cache_clear()


def test_names_resolve_to_classes_and_unknown_names_are_refused():
    assert {"local", "dask"} <= set(executors.executor_names())
    assert executors.executor_class("local") is Executor
    assert executors.executor_class("dask") is DaskExecutor
    with pytest.raises(NodeflowError, match=r"unknown executor 'nope'; use one of: local, dask"):
        executors.executor_class("nope")
    assert executors.unused_options("local", {"workers": 3, "scheduler": None}) == ["workers"]
    assert executors.unused_options("dask", {"workers": 3, "scheduler": "tcp://x:1"}) == []


def test_a_registered_executor_runs_through_the_session(reversed_registered, tmp_path):
    registry = make_registry()
    g = Graph(base_dir=tmp_path, registry=registry, session=Session(registry=registry))
    f = g.add("Frames", count=6)
    g.output("clip", g.add("Offset", image=f.image, offset=0.5).image)
    plan = g.session.plan(g.spec, base_dir=tmp_path, output_dir=tmp_path)
    out = g.session.run_plan(plan, device="cpu", batch_size=2, executor="reversed")
    frame_values = out["clip"][:, 0, 0, 0] - 0.5
    assert (frame_values * 1000).round().tolist() == [4, 5, 2, 3, 0, 1]  # last batch first
    runner = executors.make_executor("reversed", {"device": torch.device("cpu")}, {"label": "x", "workers": 2})
    assert isinstance(runner, ReversedExecutor) and runner.label == "x"  # options it lacks are dropped


def test_cli_refuses_dask_options_for_the_local_executor(capsys):
    graph = "graphs/past_film.json"
    assert main(["run", graph, "--workers", "2"]) == 2
    assert "--workers: not used by --executor local (add --executor dask)" in capsys.readouterr().err
    assert main(["run", graph, "--max-in-flight", "4"]) == 2
    assert "--max-in-flight: not used by --executor local (add --executor dask)" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["run", graph, "--executor", "nope"])
    assert exc.value.code == 2
    assert "invalid choice: 'nope' (choose from 'local', 'dask')" in capsys.readouterr().err


def test_dask_refuses_a_negative_max_in_flight_before_any_work(tmp_path):
    registry = make_registry()
    g = Graph(base_dir=tmp_path, registry=registry, session=Session(registry=registry))
    g.output("clip", g.add("Frames", count=4).image)
    plan = g.session.plan(g.spec, base_dir=tmp_path, output_dir=tmp_path)
    with pytest.raises(NodeflowError, match=r"max_in_flight -1: use 0 \(the default bound\) or a positive"):
        g.session.run_plan(plan, device="cpu", executor="dask", max_in_flight=-1)
