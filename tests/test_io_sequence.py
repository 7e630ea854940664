"""Image sequences: pattern parsing, natural order, ranges, missing frames, atomic export."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from nodeflow.errors import NodeError, NodeExecutionError
from nodeflow.graph import Graph
from nodeflow.node import Input, Node, Output
from nodeflow.nodes import color, composite, io, matte
from nodeflow.nodes.io.frames import natural_key
from nodeflow.nodes.io.sequence_pattern import parse_pattern, sequence_files
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


class CountRuns(Node):
    """Test node: passes frames through and counts the batches it ran."""

    inputs = (Input("image", IMAGE),)
    outputs = (Output("image", IMAGE),)
    batches: list[tuple[int, ...]] = []

    def run(self, ctx, image):
        CountRuns.batches.append(ctx.frames)
        return {"image": image}


def graph(tmp_path) -> Graph:
    r = Registry()
    for family in (io, matte, composite, color):
        for c in family.NODES:
            r.register(c)
    r.register(FailAtFrame)
    r.register(CountRuns)
    return Graph(registry=r, base_dir=tmp_path)


def write_frames(folder: Path, names: list[str], size: tuple[int, int] = (6, 4)) -> None:
    """Frame i is a flat grey of value 10 * (i + 1)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        Image.fromarray(np.full((size[1], size[0]), 10 * (i + 1), np.uint8), "L").save(folder / name)


def values(image: torch.Tensor) -> list[int]:
    return [round(v * 255) for v in image[:, 0, 0, 0].tolist()]


def test_pattern_parsing():
    p = parse_pattern(Path("shots/frame_%04d.png"))
    assert p is not None and (p.prefix, p.width, p.suffix) == ("frame_", 4, ".png")
    assert p.name(7) == "frame_0007.png" and p.name(12345) == "frame_12345.png"
    assert p.number("frame_0042.png") == 42 and p.number("frame_42.png") is None
    assert p.number("frame_0042.jpg") is None and p.number("xframe_0042.png") is None
    q = parse_pattern(Path("f%d.tif"))
    assert q is not None and q.width == 0 and q.number("f10.tif") == 10 and q.number("f010.tif") is None
    assert parse_pattern(Path("plain.png")) is None
    with pytest.raises(NodeError, match="more than one"):
        parse_pattern(Path("a%02d_%04d.png"))
    with pytest.raises(NodeError, match="file name"):
        parse_pattern(Path("shot%02d/frame.png"))


def test_natural_sort():
    names = ["f10.png", "f2.png", "f1.png", "F3.png"]
    assert sorted(names, key=natural_key) == ["f1.png", "f2.png", "F3.png", "f10.png"]


def test_pattern_range_step_and_missing_frame(tmp_path):
    write_frames(tmp_path, [f"frame_{n:04d}.png" for n in (1, 2, 3, 4, 5, 6)])
    files = sequence_files(tmp_path / "frame_%04d.png", None, None, 1)
    assert [f.name for f in files] == [f"frame_{n:04d}.png" for n in range(1, 7)]
    files = sequence_files(tmp_path / "frame_%04d.png", 2, 6, 2)
    assert [f.name for f in files] == ["frame_0002.png", "frame_0004.png", "frame_0006.png"]
    (tmp_path / "frame_0004.png").unlink()
    with pytest.raises(NodeError, match=r"missing frame 4: .*frame_0004\.png"):
        sequence_files(tmp_path / "frame_%04d.png", None, None, 1)
    assert len(sequence_files(tmp_path / "frame_%04d.png", 1, 3, 1)) == 3  # a range without the gap


def test_folder_and_glob_in_natural_order(tmp_path):
    write_frames(tmp_path / "shot", ["s1.png", "s2.png", "s10.png"])
    (tmp_path / "shot" / "notes.txt").write_text("ignored")
    g = graph(tmp_path)
    seq = g.add("LoadImageSequence", path="shot")
    g.output("clip", seq.image)
    assert values(g.run(device="cpu")["clip"]) == [10, 20, 30]
    g.set("load_image_sequence", path="shot/s*.png", first=1)
    assert values(g.run(device="cpu")["clip"]) == [20, 30]


def test_load_sequence_in_batches_and_missing_frame_through_the_graph(tmp_path):
    write_frames(tmp_path / "f", [f"frame_{n:03d}.png" for n in range(7)])
    g = graph(tmp_path)
    seq = g.add("LoadImageSequence", path="f/frame_%03d.png", first=1, step=2)
    g.output("clip", seq.image)
    clip = g.run(device="cpu", batch_size=2)["clip"]
    assert clip.shape == (3, 3, 4, 6) and values(clip) == [20, 40, 60]
    (tmp_path / "f" / "frame_003.png").unlink()
    with pytest.raises(NodeExecutionError, match=r"path: missing frame 3: .*frame_003\.png"):
        g.run(device="cpu")


def test_frames_of_another_size_are_named(tmp_path):
    write_frames(tmp_path, ["a_1.png", "a_2.png"])
    write_frames(tmp_path / "odd", ["x.png"], size=(5, 5))
    (tmp_path / "odd" / "x.png").rename(tmp_path / "a_3.png")
    g = graph(tmp_path)
    seq = g.add("LoadImageSequence", path="a_%d.png")
    g.output("clip", seq.image)
    with pytest.raises(NodeExecutionError, match=r"frame a_3\.png is 5x5, the first is 6x4"):
        g.run(device="cpu")


def test_save_sequence_round_trip_with_start_number(tmp_path):
    write_frames(tmp_path / "in", [f"{n}.png" for n in range(5)])
    g = graph(tmp_path)
    seq = g.add("LoadImageSequence", path="in")
    g.add("SaveImageSequence", image=seq.image, path="out/shot_%05d.png", start_number=1)
    g.run(device="cpu", batch_size=2, output_dir=tmp_path)
    out = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert out == [f"shot_{n:05d}.png" for n in range(1, 6)]  # and no temp folder left
    r = graph(tmp_path)
    back = r.add("LoadImageSequence", path="out/shot_%05d.png")
    r.output("clip", back.image)
    assert values(r.run(device="cpu")["clip"]) == [10, 20, 30, 40, 50]


def test_save_sequence_failure_mid_run_leaves_no_partial_files(tmp_path):
    write_frames(tmp_path / "in", [f"{n}.png" for n in range(8)])
    g = graph(tmp_path)
    seq = g.add("LoadImageSequence", path="in")
    fail = g.add("FailAtFrame", image=seq.image)
    g.add("SaveImageSequence", image=fail.image, path="out/f_%03d.png")
    with pytest.raises(NodeExecutionError, match="boom"):
        g.run(device="cpu", batch_size=2, output_dir=tmp_path)  # frames 0-3 were already written
    assert list((tmp_path / "out").iterdir()) == []


def test_save_sequence_overwrite_and_pattern_checks(tmp_path):
    write_frames(tmp_path / "in", ["0.png", "1.png"])
    write_frames(tmp_path / "out", ["f_1.png"])
    g = graph(tmp_path)
    seq = g.add("LoadImageSequence", path="in")
    g.add("SaveImageSequence", id="save", image=seq.image, path="out/f_%d.png")
    with pytest.raises(NodeExecutionError, match=r"path: .*f_1\.png already exists"):
        g.run(device="cpu", output_dir=tmp_path)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["f_1.png"]
    g.set("save", overwrite=True)  # f_1.png is not nodeflow's: refused, nothing written
    with pytest.raises(NodeExecutionError, match=r"path: .*f_1\.png already exists and nodeflow did not write it"):
        g.run(device="cpu", output_dir=tmp_path)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["f_1.png"]
    (tmp_path / "out" / "f_1.png").unlink()
    g.run(device="cpu", output_dir=tmp_path)
    first = {p.name: p.stat().st_ino for p in (tmp_path / "out").iterdir()}
    g.run(device="cpu", output_dir=tmp_path, use_cache=False)  # its own frames: replaced
    again = {p.name: p.stat().st_ino for p in (tmp_path / "out").iterdir()}
    assert sorted(again) == ["f_0.png", "f_1.png"] and all(again[n] != first[n] for n in again)
    g.set("save", path="out/frame.png")
    with pytest.raises(NodeExecutionError, match="has no frame number"):
        g.run(device="cpu", output_dir=tmp_path)


def test_save_sequence_refuses_a_users_frame_file_before_the_clip_runs(tmp_path):
    """A user's file where frame 6 of the run would land stops the run before frame 0 is computed
    (not after hours of a clip); frames outside the run's range are not the run's business."""
    write_frames(tmp_path / "in", [f"{n}.png" for n in range(8)])
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "f_7.png").write_bytes(b"the user's own")  # start_number 1: run frame 6
    (tmp_path / "out" / "f_9.png").write_bytes(b"beyond the clip")
    g = graph(tmp_path)
    seq = g.add("LoadImageSequence", path="in")
    count = g.add("CountRuns", image=seq.image)
    g.add("SaveImageSequence", id="save", image=count.image, path="out/f_%d.png", start_number=1, overwrite=True)
    CountRuns.batches.clear()
    with pytest.raises(NodeExecutionError, match=r"node save.*path: .*f_7\.png already exists and nodeflow did not"):
        g.run(device="cpu", batch_size=2, output_dir=tmp_path)
    assert CountRuns.batches == []
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["f_7.png", "f_9.png"]
    g.run(device="cpu", batch_size=2, output_dir=tmp_path, frames=range(0, 5))  # frames 0-4: f_1 ... f_5
    assert len(CountRuns.batches) == 3
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"f_{n}.png" for n in (1, 2, 3, 4, 5, 7, 9)]
    assert (tmp_path / "out" / "f_7.png").read_bytes() == b"the user's own"
