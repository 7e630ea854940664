"""The Dask executor on a real cluster: `dask scheduler` + two `dask worker` processes on 127.0.0.1.

Every run is compared with the local executor's, file by file and pixel by pixel. The cluster is
started once for the module (about 10 s) and always torn down.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from dask_helpers import two_worker_cluster
from dask_nodes import FirstFrameMark, FirstFrameMarkOrReference, FirstFrameMarkUndeclared, SlowInvert
from engine_nodes import make_registry
from PIL import Image, ImageSequence
from test_demo_graphs import TOY

from nodeflow.cli import main
from nodeflow.errors import Cancelled, NodeExecutionError
from nodeflow.events import FramesDone, LogMessage, NodeFinished, NodeOutputs, NodeStarted, RunFinished
from nodeflow.execute_dask import MIN_TASK_FRAMES, batches_per_task
from nodeflow.graph import Graph
from nodeflow.nodes import color, composite, io
from nodeflow.nodes.io.video_reader import VideoReader, count_frames
from nodeflow.registry import Registry, default_registry
from nodeflow.session import Session

GRAPHS = Path(__file__).resolve().parent.parent / "graphs"
CLIP_FRAMES = 24


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with two_worker_cluster(tmp_path_factory.mktemp("dask-logs")) as c:
        yield c


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """A 24-frame H.264 clip (yuv420p, B-frames: what a user's video is like) of a real pan."""
    folder = tmp_path_factory.mktemp("clip")
    g = Graph(base_dir=folder)
    still = g.add("SampleImage", name="astronaut", max_size=128)
    pan = g.add("CameraMove", image=still.image, frames=CLIP_FRAMES, width=48, height=32, start_zoom=1.2,
                end_zoom=2.0, start_x=0.4, end_x=0.6)
    g.add("SaveVideo", image=pan.image, path="clip.mp4", fps=25)
    g.run(device="cpu", output_dir=folder)
    return folder / "clip.mp4"


def registry() -> Registry:
    r = make_registry()
    for family in (io, color, composite):
        for cls in family.NODES:
            r.register(cls)
    for cls in (SlowInvert, FirstFrameMark, FirstFrameMarkUndeclared, FirstFrameMarkOrReference):
        r.register(cls)
    return r


def video_graph(folder: Path, clip: Path, reg: Registry | None = None, **invert: object) -> Graph:
    """LoadVideo read by a non-sink and by sinks directly; SaveVideo gets LoadVideo's fps."""
    g = Graph(base_dir=folder, registry=reg or default_registry())
    src = g.add("LoadVideo", id="src", path=str(clip))
    graded = g.add("Levels", id="graded", image=src.image, gamma=0.7)
    if invert:
        graded = g.add("SlowInvert", id="inv", image=graded.image, **invert)
    g.add("SaveImageSequence", id="seq", image=graded.image, path="out/f_%03d.png")
    g.add("SaveVideo", id="video", image=graded.image, source_fps=src.fps, path="out/clip.mp4")
    g.add("ContactSheet", id="sheet", image_1=src.image, image_2=graded.image, every=6, cell_width=48,
          path="out/sheet.png")
    g.output("final", graded.image)
    return g


# -- comparing runs ------------------------------------------------------------------------------


def frames_of(path: Path) -> list[np.ndarray]:
    if path.suffix == ".mp4":
        reader = VideoReader(path)
        try:
            return [reader.read(i) for i in range(count_frames(path))]
        finally:
            reader.close()
    with Image.open(path) as im:
        return [np.asarray(f.convert("RGBA")) for f in ImageSequence.Iterator(im)]


def assert_same_files(a: Path, b: Path) -> int:
    """Every file under ``a`` exists under ``b`` with the same pixels (or bytes); how many files."""
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files, f"nothing written under {a}"
    assert files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    for rel in files:
        if rel.suffix in (".png", ".gif", ".mp4"):
            fa, fb = frames_of(a / rel), frames_of(b / rel)
            assert len(fa) == len(fb), rel
            for i, (x, y) in enumerate(zip(fa, fb, strict=True)):
                assert np.array_equal(x, y), f"{rel} frame {i} differs"
        else:
            assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    return len(files)


def cli_run(graph: Path, out: Path, *extra: str) -> None:
    assert main(["run", str(graph), "--output-dir", str(out), "--device", "cpu", "--batch-size", "4",
                 *extra]) == 0


# -- the tests -----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["scheduler", "local-cluster", "one-task-in-flight"])
def test_cli_renders_a_video_to_the_local_pixels(cluster, clip, tmp_path, mode):
    g = video_graph(tmp_path, clip)
    g.save(tmp_path / "g.json")
    cli_run(tmp_path / "g.json", tmp_path / "local")
    where = {"scheduler": ["--scheduler", cluster.address], "local-cluster": ["--workers", "2"],
             "one-task-in-flight": ["--scheduler", cluster.address, "--max-in-flight", "1"]}[mode]
    cli_run(tmp_path / "g.json", tmp_path / "dask", "--executor", "dask", *where)
    assert assert_same_files(tmp_path / "local", tmp_path / "dask") == CLIP_FRAMES + 2
    assert count_frames(tmp_path / "dask/out/clip.mp4") == CLIP_FRAMES
    reader = VideoReader(tmp_path / "dask/out/clip.mp4")
    assert reader.meta()[0] == 25  # SaveVideo took LoadVideo's fps from the worker
    reader.close()


def test_worker_events_reach_the_listeners_and_readers_continue(cluster, clip, tmp_path):
    events: list[object] = []
    g = video_graph(tmp_path, clip)
    plan = g.session.plan(g.spec, base_dir=tmp_path, output_dir=tmp_path)
    out = g.session.run_plan(plan, device="cpu", batch_size=4, listeners=[events.append], executor="dask",
                             scheduler=cluster.address)
    batches = [tuple(range(i, i + 4)) for i in range(0, CLIP_FRAMES, 4)]
    for nid in ("src", "graded"):  # remote nodes: started and finished on a worker, for every batch
        assert sorted(e.frames for e in events if isinstance(e, NodeStarted) and e.node_id == nid) == batches
        finished = [e for e in events if isinstance(e, NodeFinished) and e.node_id == nid]
        assert sorted(e.frames for e in finished) == batches and all(e.seconds > 0 for e in finished)
    # LoadVideo logs when it opens the file: once per worker thread, not once per batch
    opened = [e for e in events if isinstance(e, LogMessage) and e.node_id == "src" and "fps" in e.message]
    assert 1 <= len(opened) <= cluster.workers() < len(batches)
    assert any(isinstance(e, NodeOutputs) and e.node_id == "graded" for e in events)  # previews
    assert [e.done for e in events if isinstance(e, FramesDone)] == list(range(4, CLIP_FRAMES + 1, 4))
    summary = next(e for e in events if isinstance(e, RunFinished))
    assert summary.status == "ok"
    assert summary.stats["graded"].runs == len(batches) and summary.stats["graded"].seconds > 0
    local = Graph(g.spec, base_dir=tmp_path).run(device="cpu", batch_size=4, output_dir=tmp_path / "again")
    assert torch.equal(out["final"], local["final"])


def test_a_worker_killed_mid_run_is_survived(cluster, clip, tmp_path):
    marks = tmp_path / "marks"
    marks.mkdir()
    victim = cluster.start_worker("victim", nanny=False)
    cluster.wait_for_workers(3)
    g = video_graph(tmp_path, clip, registry(), sleep=0.4, marks=str(marks))
    plan = g.session.plan(g.spec, base_dir=tmp_path, output_dir=tmp_path / "dask")
    killed = threading.Event()

    def kill_when_busy() -> None:  # once the victim has started a batch, kill it (SIGKILL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not killed.is_set():
            if any(p.name.startswith(f"{victim.pid}_") for p in marks.iterdir()):
                cluster.kill(victim)
                killed.set()
            time.sleep(0.02)

    killer = threading.Thread(target=kill_when_busy, daemon=True)
    killer.start()
    out = g.session.run_plan(plan, device="cpu", batch_size=2, executor="dask", scheduler=cluster.address)
    killer.join(timeout=60)
    assert killed.is_set() and victim.poll() is not None
    g.set("inv", sleep=0.0)
    local = Graph(g.spec, base_dir=tmp_path, registry=registry()).run(device="cpu", batch_size=2,
                                                                       output_dir=tmp_path / "local")
    assert torch.equal(out["final"], local["final"])
    assert assert_same_files(tmp_path / "local", tmp_path / "dask") == CLIP_FRAMES + 2


def test_a_failing_remote_node_reports_node_and_field(cluster, tmp_path):
    g = Graph(base_dir=tmp_path, registry=registry())
    f = g.add("Frames", count=6)
    bad = g.add("SlowInvert", id="bad", image=f.image, fail_at=3)
    g.add("CountSink", image=bad.image)
    plan = g.session.plan(g.spec, base_dir=tmp_path, output_dir=tmp_path)
    with pytest.raises(NodeExecutionError, match=r"^node bad \(SlowInvert\): fail_at: failing on purpose at "
                                                 r"frame 3 \(hint: set fail_at to -1\)$") as err:
        g.session.run_plan(plan, device="cpu", batch_size=2, executor="dask", scheduler=cluster.address)
    assert (err.value.node_id, err.value.field) == ("bad", "fail_at")
    assert not (tmp_path / "count.txt").exists()


# -- every graph: local and dask give the same output ----------------------------------------------


def _shared_frames(g: Graph) -> None:  # a non-sink and a sink read the same per-frame node
    f = g.add("Frames", id="f", count=10, size=3)
    shifted = g.add("Offset", image=f.image, offset=0.1)
    g.add("CountSink", image=shifted.image, path="out/a.txt")
    g.add("CountSink", image=f.image, path="out/b.txt")
    g.output("clip", shifted.image)


def _no_static(g: Graph) -> None:  # nothing static feeds the per-frame nodes
    f = g.add("Frames", count=9)
    g.add("CountSink", image=g.add("Offset", image=f.image, offset=0.2).image, path="out/n.txt")
    g.output("clip", f.image)


def _static_feeds(g: Graph) -> None:  # a static value scattered to the workers
    f = g.add("Frames", count=11)
    amount = g.add("Const", value=0.25)
    mixed = g.add("Offset", image=f.image, amount=amount.value)
    g.add("CountSink", image=mixed.image, path="out/s.txt")
    g.output("clip", mixed.image)
    g.output("still", amount.image)


def _still_to_clip(g: Graph) -> None:  # a still held over frames, blurred, saved as a sequence
    still = g.add("SampleImage", name="coffee", max_size=40)
    held = g.add("HoldFrames", image=still.image, frames=5)
    soft = g.add("Blur", image=held.image, size=3)
    g.add("SaveImageSequence", image=soft.image, path="out/s_%02d.png")
    g.add("SaveGIF", image=soft.image, path="out/s.gif", fps=5)
    g.output("clip", soft.image)


TEST_GRAPHS = {"shared_frames": _shared_frames, "no_static": _no_static, "static_feeds": _static_feeds,
               "still_to_clip": _still_to_clip}


@pytest.mark.parametrize("name", sorted(TEST_GRAPHS))
def test_test_graph_runs_the_same_under_dask(cluster, tmp_path, name):
    results = {}
    for executor in ("local", "dask"):
        g = Graph(base_dir=tmp_path, registry=registry(), session=Session(registry=registry()))
        TEST_GRAPHS[name](g)
        plan = g.session.plan(g.spec, base_dir=tmp_path, output_dir=tmp_path / executor)
        results[executor] = g.session.run_plan(plan, device="cpu", batch_size=3, executor=executor,
                                               scheduler=cluster.address if executor == "dask" else None)
    assert results["local"].keys() == results["dask"].keys()
    for key, value in results["local"].items():
        assert torch.equal(value, results["dask"][key]), key
    assert_same_files(tmp_path / "local", tmp_path / "dask")


@pytest.mark.parametrize("name", sorted(TOY))
def test_shipped_graph_runs_the_same_under_dask(cluster, tmp_path, name):
    sets = [arg for s in TOY[name] for arg in ("--set", s)]
    graph = GRAPHS / f"{name}.json"
    cli_run(graph, tmp_path / "local", "--batch-size", "2", *sets)
    cli_run(graph, tmp_path / "dask", "--batch-size", "2", *sets, "--executor", "dask",
            "--scheduler", cluster.address)
    assert assert_same_files(tmp_path / "local", tmp_path / "dask") >= 7


def test_cancel_during_a_dask_run_stops_it_and_leaves_no_files(cluster, clip, tmp_path):
    g = video_graph(tmp_path, clip, registry(), sleep=0.3)
    plan = g.session.plan(g.spec, base_dir=tmp_path, output_dir=tmp_path / "out")
    done: list[int] = []

    def cancel_after_first_batch(event: object) -> None:
        if isinstance(event, FramesDone):
            done.append(event.done)
            g.session.cancel()

    with pytest.raises(Cancelled):
        g.session.run_plan(plan, device="cpu", batch_size=2, listeners=[cancel_after_first_batch],
                           executor="dask", scheduler=cluster.address)
    assert done == [2]
    assert not [p for p in (tmp_path / "out").rglob("*") if p.is_file()]  # sinks aborted: nothing half-written


def test_small_batches_are_grouped_into_tasks_that_keep_the_batches(cluster, clip, tmp_path):
    """Batches of 1 frame: a task computes several (Dask's cost per task is fixed), yet the nodes
    still see, report and deliver one frame at a time, and the files are the local ones."""
    assert batches_per_task(1, 100, 2) == MIN_TASK_FRAMES
    assert batches_per_task(1, CLIP_FRAMES, 2) == 6  # 4 tasks: each of the 2 workers gets 2
    assert batches_per_task(1, 6, 2) == 1 and batches_per_task(2, 9, 2) == 2  # short clips stay spread
    assert batches_per_task(8, 6, 2) == 1 and batches_per_task(3, 30, 1) == 3
    events: list[object] = []
    g = video_graph(tmp_path, clip)
    plan = g.session.plan(g.spec, base_dir=tmp_path, output_dir=tmp_path / "dask")
    out = g.session.run_plan(plan, device="cpu", batch_size=1, listeners=[events.append], executor="dask",
                             scheduler=cluster.address)
    started = sorted(e.frames for e in events if isinstance(e, NodeStarted) and e.node_id == "graded")
    assert started == [(i,) for i in range(CLIP_FRAMES)]
    assert [e.done for e in events if isinstance(e, FramesDone)] == list(range(1, CLIP_FRAMES + 1))
    local = Graph(g.spec, base_dir=tmp_path).run(device="cpu", batch_size=1, output_dir=tmp_path / "local")
    assert torch.equal(out["final"], local["final"])
    assert assert_same_files(tmp_path / "local", tmp_path / "dask") == CLIP_FRAMES + 2


def test_bunched_worker_events_still_arrive_while_a_long_node_runs(cluster, tmp_path):
    """A worker sends its events a bunch at a time; a node's start still shows before it ends."""
    g = Graph(base_dir=tmp_path, registry=registry())
    f = g.add("Frames", count=2)
    g.add("CountSink", image=g.add("SlowInvert", id="inv", image=f.image, sleep=1.5).image)
    arrived: dict[str, float] = {}

    def on_event(event: object) -> None:
        if isinstance(event, (NodeStarted, NodeFinished)) and event.node_id == "inv":
            arrived[type(event).__name__] = time.monotonic()

    plan = g.session.plan(g.spec, base_dir=tmp_path, output_dir=tmp_path)
    g.session.run_plan(plan, device="cpu", batch_size=2, listeners=[on_event], executor="dask",
                       scheduler=cluster.address)
    assert arrived["NodeFinished"] - arrived["NodeStarted"] > 0.75  # relayed while the node slept


def test_batch_values_travel_out_of_band_and_come_back_bit_identical():
    """Frames leave a worker as numpy buffers (no copy into the pickle), and return as equal tensors."""
    from distributed.protocol import dumps, loads

    from nodeflow.execute_dask import _pack, _unpack

    frames = torch.rand(8, 3, 64, 64)
    values = {"harm": {"image": frames, "scale": 2, "mask": frames[:, :1] > 0.5}}
    wire = dumps(_pack(values))
    assert max(len(memoryview(f)) for f in wire[:2]) < 4096  # the pickle itself: no frame data in it
    back = _unpack(loads(wire))
    assert back["harm"]["scale"] == 2
    for out in ("image", "mask"):
        assert back["harm"][out].dtype == values["harm"][out].dtype
        assert torch.equal(back["harm"][out], values["harm"][out])
    back["harm"]["image"][0] = 0  # writable: a sink may change it in place


def test_a_node_that_decides_on_its_first_batch_decides_alike_on_every_worker(cluster, tmp_path):
    """Each worker's new instances replay the run's first batch when a node declares
    ``first_batch_decides``; undeclared, the worker that starts at frame 3 decides differently."""
    outputs = {}
    for node in ("FirstFrameMark", "FirstFrameMarkUndeclared"):
        for executor in ("local", "dask"):
            g = Graph(base_dir=tmp_path, registry=registry(), session=Session(registry=registry()))
            g.output("clip", g.add(node, id="mark", image=g.add("Frames", count=12).image).image)
            plan = g.session.plan(g.spec, base_dir=tmp_path, output_dir=tmp_path)
            outputs[node, executor] = g.session.run_plan(plan, device="cpu", batch_size=3, executor=executor,
                                                         scheduler=cluster.address)["clip"]
    assert outputs["FirstFrameMark", "local"].shape[0] == 12 and not outputs["FirstFrameMark", "local"].any()
    assert torch.equal(outputs["FirstFrameMark", "dask"], outputs["FirstFrameMark", "local"])
    assert not torch.equal(outputs["FirstFrameMarkUndeclared", "dask"], outputs["FirstFrameMark", "local"])


def test_the_first_batch_is_replayed_only_where_the_connections_make_it_decide(cluster, tmp_path):
    """A node that decides on the first batch only without its ``reference`` (as Harmonize): with
    the reference connected no worker replays the first batch; without it, the worker that
    starts later does. Either way the frames are the local executor's."""
    replays, outputs = {}, {}
    for wired in (True, False):
        for executor in ("local", "dask"):
            g = Graph(base_dir=tmp_path, registry=registry(), session=Session(registry=registry()))
            ref = {"reference": g.add("Const", id="still", value=0.25).image} if wired else {}
            g.output("clip", g.add("FirstFrameMarkOrReference", id="mark", image=g.add("Frames", count=12).image,
                                   **ref).image)
            plan = g.session.plan(g.spec, base_dir=tmp_path, output_dir=tmp_path)
            logs: list[str] = []
            outputs[wired, executor] = g.session.run_plan(
                plan, device="cpu", batch_size=3, executor=executor, scheduler=cluster.address,
                listeners=[lambda e, logs=logs: logs.append(e.message) if isinstance(e, LogMessage) else None])["clip"]
            replays[wired, executor] = sum("replay the first batch" in m for m in logs)
        assert torch.equal(outputs[wired, "dask"], outputs[wired, "local"])
    assert torch.allclose(outputs[True, "local"], torch.tensor(0.25))
    assert replays == {(True, "local"): 0, (True, "dask"): 0, (False, "local"): 0, (False, "dask"): 1}


def test_harmonize_decides_on_the_first_batch_only_without_its_reference_and_mask():
    from nodeflow.nodes.singan.nodes import Harmonize

    node = Harmonize(Harmonize.Params())
    base = frozenset({"model", "composite", "mask"})
    assert node.decides_on_first_batch(base)
    assert node.decides_on_first_batch(base | {"reference"})  # the clip's mask of the first batch decides
    assert not node.decides_on_first_batch(base | {"reference", "reference_mask"})


def test_each_worker_gets_runs_of_consecutive_frames(cluster, clip, tmp_path):
    """Tasks go to the workers in runs of consecutive frames (each worker's reader reads forward
    rather than decoding the frames the other took): each worker's batches form one block of the
    clip here, both workers work, and the files are the local executor's."""
    from nodeflow.execute_dask import tasks_per_run

    assert tasks_per_run(24, 2, 8) == 12  # 192 frames on 2 workers: 96 + 96
    assert tasks_per_run(48, 2, 8) == 12  # 384 frames: 4 runs of 96, two each
    assert tasks_per_run(6, 2, 4) == 3
    assert tasks_per_run(7, 1, 8) == 7
    marks = tmp_path / "marks"
    marks.mkdir()
    g = video_graph(tmp_path, clip, registry(), sleep=0.05, marks=str(marks))
    plan = g.session.plan(g.spec, base_dir=tmp_path, output_dir=tmp_path / "dask")
    out = g.session.run_plan(plan, device="cpu", batch_size=2, executor="dask", scheduler=cluster.address)
    local = Graph(g.spec, base_dir=tmp_path, registry=registry()).run(device="cpu", batch_size=2,
                                                                       output_dir=tmp_path / "local")
    assert torch.equal(out["final"], local["final"])
    assert assert_same_files(tmp_path / "local", tmp_path / "dask") == CLIP_FRAMES + 2
    for f in marks.iterdir():  # the local run's marks (this process)
        if f.name.startswith(f"{os.getpid()}_"):
            f.unlink()
    by_worker: dict[str, list[int]] = {}
    for f in sorted(marks.iterdir(), key=lambda f: f.stat().st_mtime_ns):  # in the order they ran
        pid, first = f.name.split("_")
        by_worker.setdefault(pid, []).append(int(first))
    assert len(by_worker) == 2, by_worker
    blocks = sorted(by_worker.values())
    for firsts in blocks:  # batches of 2: one contiguous block each, run forwards (a reader never seeks back)
        assert firsts == list(range(firsts[0], firsts[-1] + 1, 2)), blocks
    assert blocks[0][0] == 0 and blocks[1][0] == blocks[0][-1] + 2, blocks


def test_max_in_flight_bounds_the_tasks_outstanding(cluster, clip, tmp_path):
    """``max_in_flight=1``: a task is sent only once the previous result is taken, so no two batches
    ever run at once on any worker (their 0.1 s sleeps never overlap); by default both workers work
    at the same time. The pixels are the local executor's either way."""

    def run(limit: int | None) -> tuple[torch.Tensor, list[tuple[float, str]]]:
        marks = tmp_path / f"marks_{limit}"
        marks.mkdir()
        g = video_graph(tmp_path, clip, registry(), sleep=0.1, marks=str(marks))
        plan = g.session.plan(g.spec, base_dir=tmp_path, output_dir=tmp_path / f"dask_{limit}")
        out = g.session.run_plan(plan, device="cpu", batch_size=2, executor="dask", scheduler=cluster.address,
                                 max_in_flight=limit)
        return out["final"], sorted((f.stat().st_mtime, f.name.split("_")[0]) for f in marks.iterdir())

    one, one_starts = run(1)
    default, default_starts = run(None)
    assert len(one_starts) == len(default_starts) == CLIP_FRAMES // 2
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(one_starts)]
    assert min(gaps) >= 0.09, gaps  # one batch at a time
    overlapping = [(a, b) for a, b in itertools.pairwise(default_starts) if b[0] - a[0] < 0.09 and a[1] != b[1]]
    assert overlapping, default_starts  # two workers at once
    local = Graph(video_graph(tmp_path, clip, registry(), sleep=0.1).spec, base_dir=tmp_path,
                  registry=registry()).run(device="cpu", batch_size=2, output_dir=tmp_path / "local")
    assert torch.equal(one, local["final"]) and torch.equal(default, local["final"])


def test_results_come_straight_from_workers_on_this_machine(cluster, clip, tmp_path, monkeypatch):
    """With a scheduler on the loopback address the client fetches each result from its worker:
    the scheduler's gather (a second hop, which receives and resends every frame) is not used."""
    from distributed import Client

    from nodeflow import execute_dask

    assert execute_dask.direct_to_workers(cluster.address) is True
    assert execute_dask.direct_to_workers("tcp://localhost:8786") is True
    assert execute_dask.direct_to_workers("tcp://10.1.2.3:8786") is None  # elsewhere: Dask's own setting
    assert execute_dask.direct_to_workers("scheduler.lan:8786") is None

    def scheduler_gathers() -> int:
        with Client(cluster.address, timeout=30) as c:
            return c.run_on_scheduler(_gathers)

    outputs = {}
    for direct in (True, False):
        if not direct:  # the control: through the scheduler, as Dask does by default
            monkeypatch.setattr(execute_dask, "direct_to_workers", lambda address: None)
        g = video_graph(tmp_path, clip)
        plan = g.session.plan(g.spec, base_dir=tmp_path, output_dir=tmp_path / str(direct))
        before = scheduler_gathers()
        outputs[direct] = g.session.run_plan(plan, device="cpu", batch_size=4, executor="dask",
                                             scheduler=cluster.address)["final"]
        gathered = scheduler_gathers() - before
        assert (gathered == 0) if direct else (gathered > 0), gathered
    assert torch.equal(outputs[True], outputs[False])


def _gathers(dask_scheduler) -> int:
    """Gathers the scheduler served (run on the scheduler: it logs each under the topic 'all')."""
    return sum(1 for _, e in dask_scheduler.get_events("all") if isinstance(e, dict) and e.get("action") == "gather")


def test_two_runs_at_once_on_one_cluster_keep_their_own_static_values(cluster, tmp_path):
    """Two runs share the cluster, each with a static node ``amount`` of its own value: each
    gets its local output (the values do not meet on the workers, though the node ids do)."""
    def graph(value: float) -> Graph:
        g = Graph(base_dir=tmp_path, registry=registry(), session=Session(registry=registry()))
        amount = g.add("Const", id="amount", value=value)
        mixed = g.add("Offset", id="mixed", image=g.add("Frames", id="f", count=8).image, amount=amount.value)
        g.output("clip", g.add("SlowInvert", id="inv", image=mixed.image, sleep=0.15).image)
        return g

    values = (0.25, 0.5)
    got: dict[float, torch.Tensor] = {}
    errors: list[BaseException] = []

    def run(value: float) -> None:
        try:
            g = graph(value)
            plan = g.session.plan(g.spec, base_dir=tmp_path, output_dir=tmp_path)
            got[value] = g.session.run_plan(plan, device="cpu", batch_size=1, executor="dask",
                                            scheduler=cluster.address)["clip"]
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(v,)) for v in values]
    for t in threads:
        t.start()
        time.sleep(0.5)  # the second run starts while the first one's tasks run
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    for value in values:
        g = graph(value)
        g.set("inv", sleep=0.0)
        assert torch.equal(got[value], g.run(device="cpu", batch_size=1)["clip"]), value
