"""Memory with the cache on: flat over the clip length, model handles counted by their real size."""

from __future__ import annotations

import os
from pathlib import Path
from typing import ClassVar

import pytest
import torch
from engine_nodes import CALLS, make_registry, reset
from pydantic import Field
from torch import nn

from nodeflow.cache import MemoryCache, value_nbytes
from nodeflow.execute import ClipSummary
from nodeflow.graph import Graph
from nodeflow.handles import ModelHandle
from nodeflow.node import Input, Node, Output
from nodeflow.params import NodeParams
from nodeflow.session import Session
from nodeflow.types import IMAGE, model_socket


@pytest.fixture(autouse=True)
def _reset():
    reset()


class TinyModel(ModelHandle):
    kind = "TinyModel"

    def __init__(self, width: int):
        self.net = nn.Sequential(nn.Linear(width, width), nn.BatchNorm1d(width))

    def save(self, folder: Path) -> None:  # pragma: no cover - not disk-cached here
        raise NotImplementedError

    @classmethod
    def load(cls, folder: Path, device: torch.device | str = "cpu") -> TinyModel:  # pragma: no cover
        raise NotImplementedError

    def to(self, device: torch.device | str) -> TinyModel:
        self.net.to(device)
        return self


TINY = model_socket("TinyModel", "a test model handle")


class MakeTiny(Node):
    """A static node that returns a model handle."""

    category = "test"
    outputs = (Output("model", TINY),)

    class Params(NodeParams):
        width: int = Field(8, ge=1)

    def run(self, ctx):
        CALLS[ctx.node_id] += 1
        return {"model": TinyModel(self.params.width)}


class UseTiny(Node):
    """Time-varying consumer of the model (multiplies frames by a weight of it)."""

    category = "test"
    inputs = (Input("image", IMAGE), Input("model", TINY))
    outputs = (Output("image", IMAGE),)
    seen: ClassVar[int] = 0

    def run(self, ctx, image, model):
        CALLS[ctx.node_id] += 1
        return {"image": image * 0 + float(model.net[0].weight.shape[0]) / 1000}


def registry():
    reg = make_registry()
    reg.register(MakeTiny)
    reg.register(UseTiny)
    return reg


def clip_graph(tmp_path: Path, session: Session, count: int, size: int = 2) -> Graph:
    g = Graph(registry=session.registry, base_dir=tmp_path, session=session)
    f = g.add("Frames", count=count, size=size)
    still = g.add("Const", value=0.25, size=size)
    a = g.add("Offset", image=f.image, amount=still.value)
    b = g.add("Offset", image=a.image, offset=0.5)
    g.add("CountSink", image=b.image)
    g.output("clip", b.image)
    return g


def _memory_after(tmp_path: Path, count: int) -> tuple[int, int, int]:
    session = Session(registry=registry())  # default budgets: the cache is ON
    g = clip_graph(tmp_path / str(count), session, count)
    plan = session.plan(g.spec, base_dir=g.base_dir, output_dir=g.base_dir)
    out = session.run_plan(plan, device="cpu", batch_size=10, collect_outputs=False)
    assert out["clip"].shape == (count, 3, 2, 2)
    assert (g.base_dir / "count.txt").read_text() == str(count)
    return len(session.memory), session.memory.bytes, len(session.frame_memory)


def test_cache_contents_do_not_grow_with_the_clip(tmp_path):
    short = _memory_after(tmp_path, 10)
    long = _memory_after(tmp_path, 10_000)
    assert short == long, f"10 frames left {short}, 10 000 frames left {long} (entries, bytes, frame entries)"
    assert long[0] == 1 and long[2] == 0  # the still only; no per-batch results


def test_outputs_are_summarised_unless_collected(tmp_path):
    session = Session(registry=registry())
    g = clip_graph(tmp_path, session, 25)
    plan = session.plan(g.spec, base_dir=tmp_path, output_dir=tmp_path)
    summary = session.run_plan(plan, device="cpu", batch_size=4, collect_outputs=False)["clip"]
    assert isinstance(summary, ClipSummary)
    assert summary.shape == (25, 3, 2, 2) and summary.frames == 25 and summary.dtype == "float32"
    full = g.run(device="cpu", batch_size=4, output_dir=tmp_path)["clip"]  # the API asks: frames kept
    assert full.shape == (25, 3, 2, 2)
    assert torch.allclose(full[:, 0, 0, 0], torch.arange(25) / 1000.0 + 0.75)


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="needs /proc (Linux)")
def test_rss_stays_flat_from_1000_to_10000_frames(tmp_path):
    """64x64 frames: keeping every batch of one node would add 490 MB for 10 000 frames."""
    session = Session(registry=registry())
    g = clip_graph(tmp_path, session, 1000, size=64)
    plan = session.plan(g.spec, base_dir=tmp_path, output_dir=tmp_path)
    session.run_plan(plan, device="cpu", batch_size=50, collect_outputs=False)  # warm the allocator
    before = _rss()
    g.set("frames", count=10_000)
    plan = session.plan(g.spec, base_dir=tmp_path, output_dir=tmp_path)
    session.run_plan(plan, device="cpu", batch_size=50, collect_outputs=False)
    grown = _rss() - before
    assert (tmp_path / "count.txt").read_text() == "10000"
    assert grown < 64 << 20, f"RSS grew by {grown / 2**20:.0f} MiB over 10 000 frames"


def test_frame_memory_budget_serves_scrubbing_and_stays_bounded(tmp_path):
    batch = 5 * 3 * 2 * 2 * 4  # one node's image for a batch of 5 frames
    budget = 2 * (3 * batch + 64)  # room for two batches of the three nodes (+ the frame index)
    session = Session(registry=registry(), frame_memory_bytes=budget)
    g = clip_graph(tmp_path, session, 100)
    g.run(device="cpu", frames=range(0, 5), batch_size=5, output_dir=tmp_path)
    assert CALLS["frames"] == 1 and CALLS["offset"] == 1
    out = g.run(device="cpu", frames=range(0, 5), batch_size=5, output_dir=tmp_path)  # scrub back
    assert CALLS["frames"] == 1 and CALLS["offset"] == 1 and CALLS["count_sink"] == 2
    assert torch.allclose(out["clip"][:, 0, 0, 0], torch.arange(5) / 1000.0 + 0.75)
    g.run(device="cpu", batch_size=5, output_dir=tmp_path)  # the whole clip
    assert session.frame_memory.bytes <= budget
    assert 0 < len(session.frame_memory) <= 6


def test_model_handles_count_parameters_and_buffers():
    handle = TinyModel(64)
    params = 64 * 64 + 64 + 64 + 64  # linear weight + bias, batch-norm weight + bias
    buffers = 64 + 64 + 1  # running mean, var (float32) and num_batches_tracked (int64)
    assert handle.nbytes() == (params + buffers - 1) * 4 + 8
    assert value_nbytes({"model": handle, "size": 3}) == handle.nbytes() + 64
    cache = MemoryCache(max_bytes=handle.nbytes() * 2)
    cache.put("a", {"model": handle})
    cache.put("b", {"model": TinyModel(64)})
    cache.put("c", {"model": TinyModel(64)})
    assert cache.keys() == ["b", "c"], "two models fit the budget, the oldest went"
    assert cache.bytes == 2 * handle.nbytes()


def test_static_model_result_is_kept_and_counted(tmp_path):
    session = Session(registry=registry())
    g = Graph(registry=session.registry, base_dir=tmp_path, session=session)
    f = g.add("Frames", count=20)
    m = g.add("MakeTiny", width=32)
    u = g.add("UseTiny", image=f.image, model=m.model)
    g.output("clip", u.image)
    g.run(device="cpu", batch_size=5)
    g.run(device="cpu", batch_size=5)
    assert CALLS["make_tiny"] == 1 and CALLS["use_tiny"] == 8
    assert session.memory.bytes >= 32 * 32 * 4


def test_node_seed_from_id_is_in_the_key(tmp_path):
    """Two identical nodes without a seed param get different seeds, so different keys."""
    session = Session(registry=registry())
    g = Graph(registry=session.registry, base_dir=tmp_path, session=session)
    a = g.add("Const", id="a")
    b = g.add("Const", id="b")
    g.output("a", a.image)
    g.output("b", b.image)
    plan = session.plan(g.spec, base_dir=tmp_path)
    assert plan.nodes["a"].key != plan.nodes["b"].key
    s1 = g.add("Slow", id="s1", seed=3)
    s2 = g.add("Slow", id="s2", seed=3)
    g.output("s1", s1.image)
    g.output("s2", s2.image)
    plan = session.plan(g.spec, base_dir=tmp_path)
    assert plan.nodes["s1"].key == plan.nodes["s2"].key  # same seed param: same result
