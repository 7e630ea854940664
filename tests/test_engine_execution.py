"""Scheduling, caching, frames, cancellation, conversions, errors."""

from __future__ import annotations

from typing import Annotated

import pytest
import torch
from engine_nodes import CALLS, LIVE, CountSink, Slow, make_registry, reset

from nodeflow.cache import DiskCache, MemoryCache
from nodeflow.errors import Cancelled, NodeExecutionError
from nodeflow.events import NodeStarted
from nodeflow.execute import Executor
from nodeflow.graph import Graph
from nodeflow.params import NOT_IN_CACHE_KEY, NodeParams
from nodeflow.session import Session
from nodeflow.types import (
    COLOR,
    FLOAT,
    IMAGE,
    MASK,
    conversion,
    image_to_mask,
    mask_to_image,
)


@pytest.fixture(autouse=True)
def _reset():
    reset()


def new_graph(tmp_path, **session_kwargs) -> Graph:
    registry = make_registry()
    return Graph(registry=registry, base_dir=tmp_path, session=Session(registry=registry, **session_kwargs))


def test_param_change_reruns_only_that_node_and_dependents(tmp_path):
    g = new_graph(tmp_path)
    c = g.add("Const", value=0.25)
    a = g.add("Offset", image=c.image, offset=0.1)
    b = g.add("Offset", image=a.image, offset=0.2)
    side = g.add("Offset", image=c.image, offset=0.0)
    g.output("b", b.image)
    g.output("side", side.image)
    out = g.run(device="cpu")
    assert torch.allclose(out["b"], torch.full((1, 3, 4, 4), 0.55))
    assert CALLS == {"const": 1, "offset": 1, "offset_2": 1, "offset_3": 1}

    events = []
    g.set("offset", offset=0.3)
    out = g.run(device="cpu", on_event=events.append)
    assert torch.allclose(out["b"], torch.full((1, 3, 4, 4), 0.75))
    assert CALLS == {"const": 1, "offset": 2, "offset_2": 2, "offset_3": 1}
    reasons = {e.node_id: e.reason for e in events if isinstance(e, NodeStarted)}
    assert reasons == {"offset": "params changed (offset)", "offset_2": "input changed (image)"}

    g.run(device="cpu")  # nothing changed: everything from memory
    assert CALLS == {"const": 1, "offset": 2, "offset_2": 2, "offset_3": 1}
    g.run(device="cpu", use_cache=False)
    assert CALLS == {"const": 2, "offset": 3, "offset_2": 3, "offset_3": 2}


def test_only_needed_nodes_run(tmp_path):
    g = new_graph(tmp_path)
    c = g.add("Const")
    g.add("Offset", image=c.image, offset=1.0)  # feeds nothing requested
    g.output("c", c.image)
    g.run(device="cpu")
    assert CALLS == {"const": 1}


def add_static_and_per_batch(g: Graph) -> Graph:
    """A 25-frame clip offset by a static amount (outputs ``clip``, counted by a sink) beside a still
    that no frame source feeds (output ``still``)."""
    f = g.add("Frames", count=25)
    c = g.add("Const", value=0.5, size=2)
    amount = g.add("Const", id="amount", value=0.25)
    mixed = g.add("Offset", image=f.image, amount=amount.value)
    still = g.add("Offset", image=c.image, offset=0.1)
    g.add("CountSink", image=mixed.image, path="out/count.txt")
    g.output("clip", mixed.image)
    g.output("still", still.image)
    return g


def test_static_once_time_varying_per_batch(tmp_path):
    g = add_static_and_per_batch(new_graph(tmp_path))
    out = g.run(device="cpu", batch_size=4, output_dir=tmp_path)
    assert CALLS["frames"] == 7 and CALLS["offset"] == 7 and CALLS["count_sink"] == 7
    assert CALLS["const"] == 1 and CALLS["amount"] == 1 and CALLS["offset_2"] == 1
    assert out["clip"].shape == (25, 3, 2, 2)
    assert torch.allclose(out["clip"][:, 0, 0, 0], torch.arange(25) / 1000.0 + 0.25)
    assert out["still"].shape == (1, 3, 2, 2)
    assert CountSink.received[0] == (0, 1, 2, 3) and CountSink.received[-1] == (24,)
    assert (tmp_path / "out" / "count.txt").read_text() == "25"


def test_frames_subset(tmp_path):
    g = new_graph(tmp_path)
    f = g.add("Frames", count=100)
    g.output("clip", f.image)
    out = g.run(device="cpu", frames=range(10, 20, 2), batch_size=3)
    assert torch.allclose(out["clip"][:, 0, 0, 0], torch.tensor([10, 12, 14, 16, 18]) / 1000.0)


def test_memory_stays_flat_over_a_long_clip(tmp_path):
    g = new_graph(tmp_path, memory_bytes=0)  # nothing kept between runs
    f = g.add("Frames", count=10_000, size=2)
    a = g.add("Offset", image=f.image, offset=0.5)
    b = g.add("Offset", image=a.image, offset=0.5)
    g.add("CountSink", image=b.image)
    g.run(device="cpu", batch_size=50, output_dir=tmp_path)
    assert (tmp_path / "count.txt").read_text() == "10000"
    assert CALLS["count_sink"] == 200
    assert LIVE["peak"] <= 2 * 50, f"{LIVE['peak']} source frames were alive at once"


def test_cancel_inside_a_node_aborts_sinks_and_leaves_no_partial_file(tmp_path):
    g = new_graph(tmp_path)
    f = g.add("Frames", count=20)
    g.add("CountSink", image=f.image, cancel_at=9, path="clip.txt")
    with pytest.raises(Cancelled):
        g.run(device="cpu", batch_size=5, output_dir=tmp_path)
    assert CountSink.aborted == ["clip.txt"]
    assert CALLS["count_sink"] == 2
    assert list(tmp_path.iterdir()) == []


def test_cancel_between_nodes(tmp_path):
    g = new_graph(tmp_path)
    c = g.add("Const")
    g.add("Offset", image=c.image)
    g.output("o", g.node("offset").image)

    def cancel_after_const(event):
        if isinstance(event, NodeStarted) and event.node_id == "const":
            g.session.cancel()

    with pytest.raises(Cancelled):
        g.run(device="cpu", on_event=cancel_after_const)
    assert CALLS == {"const": 1}


def test_node_errors_name_node_type_and_field(tmp_path):
    g = new_graph(tmp_path)
    f = g.add("Frames", count=10)
    g.add("CountSink", id="writer", image=f.image, fail_at=6)
    with pytest.raises(NodeExecutionError) as err:
        g.run(device="cpu", batch_size=4, output_dir=tmp_path)
    assert str(err.value) == "node writer (CountSink): fail_at: failing on purpose (hint: set fail_at to -1)"
    assert CountSink.aborted and not (tmp_path / "count.txt").exists()

    g2 = new_graph(tmp_path)
    g2.add("Boom", id="bad")
    g2.output("x", g2.node("bad").image)
    with pytest.raises(NodeExecutionError, match=r"^node bad \(Boom\): ZeroDivisionError: division by zero"):
        g2.run(device="cpu")


def test_expensive_results_come_from_disk_in_a_new_session(tmp_path):
    cache_dir = tmp_path / "cache"
    g = new_graph(tmp_path, cache_dir=cache_dir)
    s = g.add("Slow", seed=7)
    g.output("x", s.image)
    first = g.run(device="cpu")["x"]
    assert CALLS["slow"] == 1
    g2 = new_graph(tmp_path, cache_dir=cache_dir)
    g2.spec = g.spec
    events = []
    second = g2.run(device="cpu", on_event=events.append)["x"]
    assert CALLS["slow"] == 1
    assert torch.equal(first, second)
    assert any(getattr(e, "cached", None) == "disk" for e in events)
    assert DiskCache(cache_dir).info().entries == 1
    assert DiskCache(cache_dir).info().scratch_entries == 0  # scratch dropped once stored


def test_damaged_disk_entry_is_recomputed(tmp_path):
    cache_dir = tmp_path / "cache"
    g = new_graph(tmp_path, cache_dir=cache_dir)
    g.output("x", g.add("Slow", seed=1).image)
    first = g.run(device="cpu")["x"]
    (entry,) = (cache_dir / "results").glob("*/*/image.safetensors")
    entry.write_bytes(entry.read_bytes()[:-4] + b"oops")
    g2 = new_graph(tmp_path, cache_dir=cache_dir)
    g2.spec = g.spec
    again = g2.run(device="cpu")["x"]
    assert CALLS["slow"] == 2
    assert torch.equal(first, again)


def test_same_seed_same_output_different_seed_differs(tmp_path):
    g = new_graph(tmp_path)
    g.output("x", g.add("Slow", seed=3).image)
    a = g.run(device="cpu", use_cache=False)["x"]
    b = g.run(device="cpu", use_cache=False)["x"]
    g.set("slow", seed=4)
    c = g.run(device="cpu", use_cache=False)["x"]
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_conversion_table():
    rgba = torch.rand(2, 4, 3, 3)
    assert torch.equal(image_to_mask(rgba), rgba[:, 3:4])
    rgb = torch.zeros(1, 3, 2, 2)
    rgb[:, 1] = 1.0
    assert torch.allclose(image_to_mask(rgb), torch.full((1, 1, 2, 2), 0.7152))
    m = torch.rand(1, 1, 2, 2)
    assert torch.equal(mask_to_image(m)[:, 2:3], m) and mask_to_image(m).shape == (1, 3, 2, 2)
    assert conversion(FLOAT, IMAGE)(0.25).shape == (1, 3, 1, 1)
    assert conversion(COLOR, IMAGE)((1.0, 0.0, 0.0, 0.5)).shape == (1, 4, 1, 1)
    assert conversion(IMAGE, FLOAT) is None
    assert conversion(MASK, MASK)(m) is m


def test_implicit_conversion_in_a_graph(tmp_path):
    g = new_graph(tmp_path)
    c = g.add("Const", value=0.5)
    m = g.add("MaskIn", mask=c.image)     # Image -> Mask (luminance)
    back = g.add("ImageIn", image=m.mask)  # Mask -> Image
    g.output("m", m.mask)
    g.output("back", back.image)
    out = g.run(device="cpu")
    assert out["m"].shape == (1, 1, 4, 4) and torch.allclose(out["m"], torch.full_like(out["m"], 0.5))
    assert out["back"].shape == (1, 3, 4, 4)


def test_output_type_is_checked(tmp_path):
    from engine_nodes import Const

    class Liar(Const):
        """Declares an Image but returns a mask-shaped tensor."""

        type_name = "Liar"

        def run(self, ctx):
            return {"image": torch.zeros(1, 1, 2, 2), "value": 0.0}

    g = new_graph(tmp_path)
    g.registry.register(Liar)
    g.output("x", g.add("Liar").image)
    with pytest.raises(NodeExecutionError, match=r"node liar \(Liar\): output 'image' \(Image\): expected C in"):
        g.run(device="cpu")


def test_dask_executor_gives_the_local_result_in_frame_order(tmp_path):
    results = {}
    for executor in ("local", "dask"):
        reset()
        g = new_graph(tmp_path)
        f = g.add("Frames", count=23)
        amount = g.add("Const", value=0.25)
        mixed = g.add("Offset", image=f.image, amount=amount.value)
        g.add("CountSink", image=mixed.image, path=f"{executor}.txt")
        g.output("clip", mixed.image)
        plan = g.session.plan(g.spec, base_dir=tmp_path, output_dir=tmp_path)
        results[executor] = g.session.run_plan(plan, device="cpu", batch_size=5, executor=executor, workers=2)
        assert (tmp_path / f"{executor}.txt").read_text() == "23"
        assert CountSink.received == [tuple(range(i, min(i + 5, 23))) for i in range(0, 23, 5)]
        assert CALLS["const"] == 1
    assert torch.equal(results["local"]["clip"], results["dask"]["clip"])


def test_params_marked_not_in_cache_key_do_not_invalidate(tmp_path):
    class Trainer(Slow):
        """Slow with a checkpoint interval that cannot change its result."""

        type_name = "Trainer"

        class Params(NodeParams):
            seed: int = 0
            steps: int = 3
            sleep: float = 0.0
            checkpoint_every: Annotated[int, NOT_IN_CACHE_KEY] = 10

    g = new_graph(tmp_path, cache_dir=tmp_path / "cache")
    g.registry.register(Trainer)
    g.output("x", g.add("Trainer").image)
    g.run(device="cpu")
    g.set("trainer", checkpoint_every=99)
    g.run(device="cpu")
    assert CALLS["trainer"] == 1
    g.set("trainer", steps=4)
    g.run(device="cpu")
    assert CALLS["trainer"] == 2


def _resumable_graph(tmp_path, **session_kwargs):
    class Resumable(Slow):
        """Records whether an earlier run left a checkpoint in its scratch folder; can fail mid-way."""

        type_name = "Resumable"
        seen: list[bool] = []
        fail = False

        def run(self, ctx, image=None):
            marker = ctx.scratch_dir / "checkpoint"
            Resumable.seen.append(marker.exists())
            marker.write_text("step 3")
            if Resumable.fail:
                raise RuntimeError("interrupted")
            return super().run(ctx, image)

    g = new_graph(tmp_path, **session_kwargs)
    g.registry.register(Resumable)
    g.output("x", g.add("Resumable").image)
    return g, Resumable


def _scratch_entries(cache_dir) -> int:
    return DiskCache(cache_dir).info().scratch_entries


def test_no_cache_run_starts_from_a_fresh_scratch_folder(tmp_path):
    g, node = _resumable_graph(tmp_path, cache_dir=tmp_path / "cache")
    g.run(device="cpu", use_cache=False)
    g.run(device="cpu", use_cache=False)
    assert node.seen == [False, False]
    assert _scratch_entries(tmp_path / "cache") == 0


def test_no_cache_run_leaves_an_interrupted_runs_checkpoints_alone(tmp_path):
    g, node = _resumable_graph(tmp_path, cache_dir=tmp_path / "cache")
    node.fail = True
    with pytest.raises(NodeExecutionError, match="interrupted"):
        g.run(device="cpu")
    assert _scratch_entries(tmp_path / "cache") == 1
    node.fail = False
    g.run(device="cpu", use_cache=False)  # starts over in a temporary folder ...
    assert _scratch_entries(tmp_path / "cache") == 1  # ... and the checkpoint is still there
    g.run(device="cpu")
    assert node.seen == [False, False, True]  # the cached run resumed from it
    assert _scratch_entries(tmp_path / "cache") == 0


def test_executor_without_disk_cache_gives_expensive_nodes_a_scratch_folder(tmp_path):
    g, node = _resumable_graph(tmp_path)
    plan = g.session.plan(g.spec, base_dir=tmp_path)
    for use_cache in (True, False):  # memory only, as a dask worker's executor
        out = Executor(device=torch.device("cpu"), memory=MemoryCache(1 << 20), use_cache=use_cache).run(plan)
        assert out["x"].shape[0] == 1
    assert node.seen == [False, False]
