"""Every graph the other tests build runs under a real Dask cluster with the local executor's output.

The graphs are taken from the other test modules: their JSON fixtures and graph-building helpers
are imported (so they stay the same graphs), and the graphs a test builds inline are rebuilt here
node for node (named after the test). Each is run with ``local`` and with ``dask`` (a
``dask scheduler`` and two ``dask worker`` processes, started once for the module) in batches of
3 frames, so that a short last batch and two workers sharing the clip are exercised; the
returned outputs must be equal and every written file must have the same pixels or bytes.

Graphs that cannot run under Dask by design are listed in ``NOT_UNDER_DASK`` with the reason, and
a test checks that each one still exists where the list says (so the list cannot go stale).
Not repeated here: graphs a test builds inline that have no per-frame node (a still through
colour, composite or matte nodes: the Dask executor computes those in this process exactly as
``local`` does, as ``test_engine_graph_io.build`` shows) and the trainings' graphs (minutes each
here: their per-frame part, a model applied per frame, is the colorize graph below).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from dask_helpers import two_worker_cluster
from engine_nodes import make_registry
from test_cli_global_options import _graph as global_options_graph
from test_dask_cluster import assert_same_files
from test_engine_cli import CLIP
from test_engine_execution import add_static_and_per_batch
from test_engine_graph_io import build as graph_io_build
from test_engine_memory import clip_graph
from test_engine_memory import registry as memory_registry
from test_engine_preflight import graph as preflight_graph
from test_gan_checkpoints import add_reference_translate, reference_unet_file
from test_gan_helpers import registry as gan_registry
from test_gan_helpers import two_tone
from test_gan_helpers import write_frames as write_tensor_frames
from test_gui_compositor import NODES as COMPOSITOR_NODES
from test_gui_run import SMALL
from test_io_sequence import write_frames as write_png_frames
from test_io_video import graph as io_graph
from test_io_video import write_lossless_clip

from nodeflow.graph import Graph, GraphSpec
from nodeflow.registry import Registry
from nodeflow.session import Session

ASSETS = Path(__file__).resolve().parent.parent / "graphs" / "assets"

Builder = Callable[[Path], Graph]
"""A graph in ``folder`` (its inputs written there), with a fresh session of its own."""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with two_worker_cluster(tmp_path_factory.mktemp("dask-logs")) as c:
        yield c


def _graph(registry: Registry, folder: Path, spec: GraphSpec | None = None) -> Graph:
    return Graph(spec, registry=registry, base_dir=folder, session=Session(registry=registry))


def _nodes(nodes: dict, **outputs: str) -> Builder:
    """A JSON fixture (a ``nodes`` dict) with the engine's test nodes; ``outputs``: name -> node id."""
    def build(folder: Path) -> Graph:
        spec = GraphSpec.from_data({"format": "nodeflow/1", "nodes": nodes,
                                    "outputs": {k: {"node": v, "output": "image"} for k, v in outputs.items()}})
        return _graph(make_registry(), folder, spec)
    return build


def cli_graph_file(folder: Path) -> Graph:
    """test_cli_global_options._graph: the graph file the CLI tests write, loaded as the CLI does"""
    registry = make_registry()
    return Graph.load(global_options_graph(folder), registry=registry, session=Session(registry=registry))


def graph_io_round_trip(folder: Path) -> Graph:
    """test_engine_graph_io.build (static only: the Dask executor must not need frames)"""
    g = graph_io_build(folder)
    return _graph(g.registry, folder, g.spec)


# -- graphs built inline by tests, rebuilt node for node ------------------------------------------


def static_once_time_varying_per_batch(folder: Path) -> Graph:
    """test_engine_execution.test_static_once_time_varying_per_batch"""
    return add_static_and_per_batch(_graph(make_registry(), folder))


def static_model_handle(folder: Path) -> Graph:
    """test_engine_memory.test_static_model_result_is_kept_and_counted (a model handle scattered)"""
    g = _graph(memory_registry(), folder)
    f = g.add("Frames", count=20)
    m = g.add("MakeTiny", width=32)
    g.output("clip", g.add("UseTiny", image=f.image, model=m.model).image)
    return g


def video_range_step(folder: Path) -> Graph:
    """test_io_video.test_video_range_step_and_streaming (its lossless clip, frames 1, 4, 7)"""
    write_lossless_clip(folder, frames=10)
    g = io_graph(folder)
    src = g.add("LoadVideo", path="c.mp4", first=1, last=8, step=3)
    g.output("frames", src.image)
    g.output("fps", src.fps)
    return g


def sequence_range_step(folder: Path) -> Graph:
    """test_io_sequence.test_load_sequence_in_batches_and_missing_frame_through_the_graph"""
    write_png_frames(folder / "f", [f"frame_{n:03d}.png" for n in range(7)])
    g = io_graph(folder)
    seq = g.add("LoadImageSequence", path="f/frame_%03d.png", first=1, step=2)
    g.output("clip", seq.image)
    return g


def contact_sheet(folder: Path) -> Graph:
    """test_io_images.test_contact_sheet_grid_and_labels (a sink that reads a per-frame node and a still)"""
    g = io_graph(folder)
    still = g.add("SampleImage", name="astronaut", max_size=64)
    move = g.add("CameraMove", image=still.image, frames=8, width=32, height=32)
    grey = g.add("Grayscale", image=move.image)
    g.add("ContactSheet", image_1=move.image, image_2=grey.image, image_3=still.image, path="sheet.png",
          cell_width=32, padding=4, every=2, labels=["frame {frame}", "grey", "still"])
    g.output("grey", grey.image)
    return g


def colorize_tensor_frames(folder: Path) -> Graph:
    """test_pix2pix.test_graph_trains_once_colorizes_any_size_and_reuses_the_disk_cache, with the
    shipped colorizer for the test's training (minutes here; Colorize per frame is what Dask runs)"""
    frames = two_tone(3, 64, seed=7)[:, :, 5:42, 3:56].mean(1, keepdim=True).expand(-1, 3, -1, -1)
    alpha = torch.linspace(0, 1, 53).expand(3, 1, 37, 53)
    write_tensor_frames(folder / "film.safetensors", torch.cat([frames, alpha], 1).contiguous())
    g = _graph(gan_registry(), folder)
    model = g.add("LoadPix2Pix", id="train", path=str(ASSETS / "colorizer"))
    g.add("TensorFrames", id="film", path="film.safetensors")
    for res in ("model", "full"):
        g.add("Colorize", id=f"color_{res}", image=g.node("film").image, model=model.model, resolution=res)
        g.output(res, g.node(f"color_{res}").image)
    return g


def reference_checkpoint_translate(folder: Path) -> Graph:
    """test_gan_checkpoints.test_reference_facades_style_unet_loads_with_reference_outputs (a model
    loaded from a reference-format .pth, applied per frame twice)"""
    _, model_dir = reference_unet_file(folder)
    write_tensor_frames(folder / "labels.safetensors", torch.rand(4, 3, 256, 256))
    g = _graph(gan_registry(), folder)
    add_reference_translate(g, model_dir)
    return g


GRAPHS: dict[str, Builder] = {
    "test_engine_cli.CLIP": _nodes(CLIP, lifted="lift"),
    "test_gui_compositor.NODES": _nodes(COMPOSITOR_NODES, graded="fo"),
    "test_gui_run.SMALL": _nodes(SMALL, plate="o"),
    "test_cli_global_options._graph": cli_graph_file,
    "test_engine_memory.clip_graph": lambda folder: clip_graph(folder, Session(registry=memory_registry()), 14),
    "test_engine_preflight.graph": lambda folder: preflight_graph(folder, n="auto"),
    "test_engine_graph_io.build": graph_io_round_trip,
    "test_engine_execution.test_static_once_time_varying_per_batch": static_once_time_varying_per_batch,
    "test_engine_memory.test_static_model_result_is_kept_and_counted": static_model_handle,
    "test_io_video.test_video_range_step_and_streaming": video_range_step,
    "test_io_sequence.test_load_sequence_in_batches_and_missing_frame_through_the_graph": sequence_range_step,
    "test_io_images.test_contact_sheet_grid_and_labels": contact_sheet,
    "test_pix2pix.test_graph_trains_once_colorizes_any_size_and_reuses_the_disk_cache": colorize_tensor_frames,
    "test_gan_checkpoints.test_reference_facades_style_unet_loads_with_reference_outputs":
        reference_checkpoint_translate,
}
"""Also under Dask, in test_dask_cluster: the shipped graphs and that module's own graphs."""

NOT_UNDER_DASK: dict[str, tuple[str, str]] = {
    "test_singan_nodes.test_harmonize_clip_frames_share_noise": (
        "class Clip", "its frame source reads the clip from a dict in the test process (TENSORS); worker "
                      "processes do not share the test's memory (a real source reads a file)"),
    "test_engine_execution._resumable_graph": (
        "class Resumable", "its node class is defined inside a function, so a worker cannot import it "
                           "(the executor says so: 'node classes must be importable there'); static only"),
    "robustness.test_graph_fuzz": (
        "CASES", "mutated graphs whose contract is the loader's and the CLI's error handling, not the "
                 "executor's; the Dask options' errors are in robustness/test_cli_errors"),
}
"""Graph -> (a name its module defines, why it does not run under Dask)."""


def _same_value(a: object, b: object, what: str) -> None:
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.shape == b.shape and torch.equal(a, b), what
    elif isinstance(a, list):  # a per-frame value that is no tensor: one per batch
        assert isinstance(b, list) and len(a) == len(b), what
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same_value(x, y, f"{what}[{i}]")
    else:
        assert a == b, what


@pytest.mark.parametrize("name", list(GRAPHS))
def test_graph_of_the_tests_runs_the_same_under_dask(cluster, tmp_path, name):
    results = {}
    for executor in ("local", "dask"):
        folder = tmp_path / "in" / executor  # inputs written afresh: the same bytes for both runs
        folder.mkdir(parents=True)
        g = GRAPHS[name](folder)
        plan = g.session.plan(g.spec, base_dir=g.base_dir, output_dir=tmp_path / executor)
        results[executor] = g.session.run_plan(plan, device="cpu", batch_size=3, executor=executor,
                                               scheduler=cluster.address if executor == "dask" else None)
    assert results["local"].keys() == results["dask"].keys()
    assert results["local"], f"{name}: nothing to compare (no outputs)"
    for key, value in results["local"].items():
        _same_value(value, results["dask"][key], f"{name}: output {key}")
    local_files = [p for p in (tmp_path / "local").rglob("*") if p.is_file()]
    if local_files:
        assert_same_files(tmp_path / "local", tmp_path / "dask")
    else:
        assert not (tmp_path / "dask").exists() or not any(p.is_file() for p in (tmp_path / "dask").rglob("*"))


@pytest.mark.parametrize("name", list(NOT_UNDER_DASK))
def test_graphs_not_under_dask_are_still_there(name):
    """The list names real graphs: each module still defines the name the reason is about."""
    where, _reason = NOT_UNDER_DASK[name]
    module = name if name.startswith("robustness.") else name.split(".")[0]
    source = Path(importlib.util.find_spec(module).origin).read_text()
    assert where in source, f"{name}: {where!r} is gone from {module}; update NOT_UNDER_DASK"
