"""Video and GIF: write -> read round trips, streaming, ranges, stills turned into clips."""

from __future__ import annotations

import math

import pytest
import torch

from nodeflow.context import RunContext
from nodeflow.errors import GraphValidationError, NodeError, NodeExecutionError
from nodeflow.graph import Graph
from nodeflow.node import Input, Node, Output
from nodeflow.nodes import color, composite, io, matte
from nodeflow.nodes.io.video_reader import VideoReader, count_frames
from nodeflow.registry import Registry
from nodeflow.types import IMAGE


class FailAtFrame(Node):
    """Test node: passes frames through and fails on run frame 5."""

    inputs = (Input("image", IMAGE),)
    outputs = (Output("image", IMAGE),)

    def run(self, ctx, image):
        if 5 in ctx.frames:
            raise NodeError("boom at frame 5")
        return {"image": image}


def graph(tmp_path) -> Graph:
    r = Registry()
    for family in (io, matte, composite, color):
        for c in family.NODES:
            r.register(c)
    r.register(FailAtFrame)
    return Graph(registry=r, base_dir=tmp_path)


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = ((a - b) ** 2).mean().item()
    return 10 * math.log10(1.0 / mse)


def moving_clip(g: Graph, frames: int = 12, size: int = 64):
    """A pan over a natural photo: real motion and texture, made from one still."""
    still = g.add("SampleImage", name="astronaut", max_size=256)
    return g.add("CameraMove", image=still.image, frames=frames, width=size, height=size * 3 // 4,
                 start_zoom=1.5, end_zoom=2.5, start_x=0.4, end_x=0.6)


def write_lossless_clip(tmp_path, frames: int, size: int = 32):
    """Write a moving clip to ``tmp_path/c.mp4`` (lossless H.264, fps = frames) and return its frames."""
    g = graph(tmp_path)
    clip = moving_clip(g, frames=frames, size=size)
    g.add("SaveVideo", image=clip.image, path="c.mp4", fps=frames, crf=0, pixel_format="yuv444p")
    g.output("frames", clip.image)
    return g.run(device="cpu", output_dir=tmp_path)["frames"]


def test_mp4_round_trip_count_size_psnr(tmp_path):
    g = graph(tmp_path)
    clip = moving_clip(g, size=128)
    g.add("SaveVideo", image=clip.image, path="out/clip.mp4", fps=12, crf=14)
    g.output("frames", clip.image)
    original = g.run(device="cpu", batch_size=5, output_dir=tmp_path)["frames"]
    video = tmp_path / "out" / "clip.mp4"
    assert video.is_file()
    assert [p.name for p in video.parent.iterdir()] == ["clip.mp4"]  # no temp left behind
    assert count_frames(video) == 12

    r = graph(tmp_path)
    src = r.add("LoadVideo", path="out/clip.mp4")
    r.output("frames", src.image)
    r.output("fps", src.fps)
    out = r.run(device="cpu", batch_size=5)
    decoded = out["frames"]
    assert decoded.shape == original.shape == (12, 3, 96, 128)
    assert out["fps"][0] == pytest.approx(12.0)
    assert psnr(decoded, original) >= 35.0


def test_video_range_step_and_streaming(tmp_path):
    original = write_lossless_clip(tmp_path, frames=10)

    r = graph(tmp_path)
    src = r.add("LoadVideo", path="c.mp4", first=1, last=8, step=3)  # frames 1, 4, 7
    r.output("frames", src.image)
    out = r.run(device="cpu", batch_size=2)["frames"]
    assert out.shape[0] == 3
    assert psnr(out, original[[1, 4, 7]]) > 40

    reader = VideoReader(tmp_path / "c.mp4")  # sequential reads continue the same decode
    first = reader.read(2)
    gen = reader._gen
    reader.read(3)
    assert reader._gen is gen
    again = reader.read(2)  # going back reopens
    assert reader._gen is not gen and (again == first).all()
    with pytest.raises(NodeError, match="ended before frame 50"):
        reader.read(50)
    reader.close()


def test_gif_round_trip(tmp_path):
    g = graph(tmp_path)
    clip = moving_clip(g, frames=6, size=32)
    g.add("SaveGIF", image=clip.image, path="anim.gif", fps=10)
    g.output("frames", clip.image)
    original = g.run(device="cpu", output_dir=tmp_path)["frames"]
    from PIL import Image

    with Image.open(tmp_path / "anim.gif") as im:
        assert im.n_frames == 6 and im.size == (32, 24)
        assert im.info["duration"] == 100 and im.info["loop"] == 0
    r = graph(tmp_path)
    src = r.add("LoadVideo", path="anim.gif")
    r.output("frames", src.image)
    decoded = r.run(device="cpu")["frames"]
    assert decoded.shape == original.shape
    assert psnr(decoded, original) > 25  # 256-colour palette


def test_failure_mid_clip_leaves_no_partial_video(tmp_path):
    g = graph(tmp_path)
    clip = moving_clip(g, frames=10, size=32)
    fail = g.add("FailAtFrame", image=clip.image)
    g.add("SaveVideo", image=fail.image, path="v/broken.mp4")
    with pytest.raises(NodeExecutionError, match="boom"):
        g.run(device="cpu", batch_size=2, output_dir=tmp_path)
    assert list((tmp_path / "v").iterdir()) == []  # the temp file was removed, nothing renamed


def test_existing_output_needs_overwrite_and_inputs_are_protected(tmp_path):
    (tmp_path / "exists.mp4").write_bytes(b"old")
    g = graph(tmp_path)
    clip = moving_clip(g, frames=3, size=16)
    g.add("SaveVideo", id="save", image=clip.image, path="exists.mp4")
    for overwrite in (False, True):  # a file nodeflow did not write stays, overwrite or not
        g.set("save", overwrite=overwrite)
        with pytest.raises(GraphValidationError, match=r"node save, path: .*exists\.mp4 already exists and "
                                                       r"nodeflow did not write it"):
            g.run(device="cpu", output_dir=tmp_path)
        assert (tmp_path / "exists.mp4").read_bytes() == b"old"
    (tmp_path / "exists.mp4").unlink()
    g.run(device="cpu", output_dir=tmp_path)
    g.set("save", overwrite=False)
    with pytest.raises(NodeExecutionError, match=r"save \(SaveVideo\): path: .*already exists.*overwrite"):
        g.run(device="cpu", output_dir=tmp_path)
    g.set("save", overwrite=True)
    g.run(device="cpu", output_dir=tmp_path)  # its own earlier output: replaced
    assert count_frames(tmp_path / "exists.mp4") == 3

    r = graph(tmp_path)
    src = r.add("LoadVideo", path="exists.mp4")
    r.add("SaveVideo", image=src.image, path="exists.mp4", overwrite=True)
    with pytest.raises(GraphValidationError, match="also an input file"):
        r.run(device="cpu", output_dir=tmp_path)


def test_hold_frames_and_slideshow(tmp_path):
    g = graph(tmp_path)
    still = g.add("SampleImage", name="camera", max_size=16)
    held = g.add("HoldFrames", image=still.image, frames=7)
    g.output("clip", held.image)
    g.output("still", still.image)
    out = g.run(device="cpu", batch_size=3)
    assert out["clip"].shape == (7, 3, 16, 16)
    assert torch.equal(out["clip"][6], out["still"][0])

    node = io.HoldFrames(io.HoldFrames.Params(frames=6))
    ctx = RunContext("h", "HoldFrames", torch.device("cpu"), 0, frames=(0, 1, 2, 3, 4, 5))
    stills = torch.arange(3.0).view(3, 1, 1, 1).expand(3, 3, 2, 2)
    shown = node.run(ctx, image=stills)["image"][:, 0, 0, 0].tolist()
    assert shown == [0, 0, 1, 1, 2, 2]


def test_camera_move_pans_and_zooms():
    still = torch.linspace(0, 1, 200).view(1, 1, 1, 200).expand(1, 3, 100, 200).contiguous()
    node = io.CameraMove(io.CameraMove.Params(frames=5, width=40, height=40, start_x=0.0, end_x=1.0,
                                              start_zoom=1.0, end_zoom=2.0, easing="linear"))
    ctx = RunContext("c", "CameraMove", torch.device("cpu"), 0, frames=(0, 2, 4))
    out = node.run(ctx, image=still)["image"]
    assert out.shape == (3, 3, 40, 40)
    # frame 0: a 100x100 view clamped to the left edge; frame 4: a 50x50 view at the right edge
    assert out[0, 0, 0, 0].item() == pytest.approx(0.0, abs=0.01)
    assert out[0, 0, 0, -1].item() == pytest.approx(0.5, abs=0.01)
    assert out[2, 0, 0, -1].item() == pytest.approx(1.0, abs=0.01)
    assert out[2, 0, 0, 0].item() == pytest.approx(0.75, abs=0.01)
    assert (out[1, 0, 0, 1:] >= out[1, 0, 0, :-1]).all()
    assert node.frame_count(ctx) == 5


def test_existing_output_is_refused_before_upstream_runs(tmp_path):
    """The sink's path check runs before any node, so a long training upstream is not wasted."""
    from engine_nodes import CALLS, Slow, reset

    from nodeflow.errors import NodeExecutionError
    from nodeflow.graph import Graph
    from nodeflow.nodes.io import NODES
    from nodeflow.registry import Registry
    from nodeflow.session import Session

    reset()
    registry = Registry()
    for cls in (*NODES, Slow):
        registry.register(cls)
    from nodeflow.atomic import atomic_path

    with atomic_path(tmp_path / "clip.mp4", record=True) as tmp:  # an earlier output of nodeflow's
        tmp.write_bytes(b"precious")
    g = Graph(registry=registry, base_dir=tmp_path, session=Session(registry=registry))
    slow = g.add("Slow", steps=2)
    g.add("SaveVideo", image=slow.image, path="clip.mp4")
    with pytest.raises(NodeExecutionError, match=r"node save_video \(SaveVideo\): path: .*already exists"):
        g.run(device="cpu", output_dir=tmp_path)
    assert CALLS["slow"] == 0
    assert (tmp_path / "clip.mp4").read_bytes() == b"precious"


def test_load_video_frame_is_a_static_still(tmp_path):
    original = write_lossless_clip(tmp_path, frames=6)

    r = graph(tmp_path)
    ref = r.add("LoadVideoFrame", path="c.mp4", frame=4)
    r.output("ref", ref.image)
    plan = r.session.plan(r.spec, base_dir=tmp_path)
    assert plan.frame_count is None and not plan.nodes["load_video_frame"].time_varying
    still = r.run(device="cpu")["ref"]
    assert still.shape == (1, 3, 24, 32)
    assert psnr(still, original[4:5]) > 40
    r.set("load_video_frame", frame=6)
    with pytest.raises(NodeExecutionError, match="has 6 frames; there is no frame 6"):
        r.run(device="cpu")
