"""The shipped demo graphs validate, and run end to end through the CLI at toy sizes.

The full-size demo (`make demo`) trains SinGAN for minutes; here that training is shrunk with
``--set`` so that the whole pipeline (colorize, cut out, paste, harmonize, stylize, export)
runs in seconds and its files can be checked.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from nodeflow.cli import main
from nodeflow.graph import GraphSpec
from nodeflow.image_files import read_image
from nodeflow.nodes.io.video_reader import count_frames

GRAPHS = Path(__file__).resolve().parent.parent / "graphs"

COMMON = [
    "film.frames=3", "film.width=48", "film.height=32", "photo.max_size=96",  # GrabCut finds no one at 64
    "harmonizer.max_size=40", "harmonizer.iterations=4", "harmonize.scale=1",
]
TOY = {
    # the colorizer and the stylizer are the shipped weights (graphs/assets/), loaded, not trained
    "past_film": [*COMMON, "film.height=48", "shot_still.width=48", "shot_still.height=48", "film_still.max_size=64",
                  "scales.scale=1"],
    "future_film": [*COMMON, "shot_still.width=48", "shot_still.height=32", "scene_still.max_size=64"],
}


@pytest.mark.parametrize("name", sorted(TOY))
def test_demo_graph_is_canonical_and_valid(name, capsys):
    path = GRAPHS / f"{name}.json"
    assert GraphSpec.load(path).dumps() == path.read_text()  # saved by the same writer
    assert main(["validate", str(path)]) == 0
    assert "valid" in capsys.readouterr().out


@pytest.mark.parametrize("name", sorted(TOY))
def test_demo_graph_runs_end_to_end(name, tmp_path):
    sets = [arg for s in TOY[name] for arg in ("--set", s)]
    code = main(["run", str(GRAPHS / f"{name}.json"), "--output-dir", str(tmp_path), "--device", "cpu",
                 "--batch-size", "2", *sets])
    assert code == 0
    out = tmp_path / "out" / name
    assert count_frames(out / f"{name}.mp4") == 3
    assert (out / f"{name}.gif").stat().st_size > 0
    assert sorted(p.name for p in (out / "frames").iterdir()) == [f"frame_{i:04d}.png" for i in range(3)]
    assert (out / f"{name}_frame0.png").is_file() and (out / f"{name}_steps.png").is_file()
    if name == "past_film":
        assert (out / "past_film_scales.png").is_file()
    assert not [p for p in out.rglob(".*")], "temporary files left behind"


@pytest.mark.parametrize("name", sorted(TOY))
def test_demo_graph_frame_range_renders_the_whole_runs_frames(name, tmp_path):
    """Harmonize decides on the still paste (its reference input), so `--frames 1:3` writes the
    very frames of the whole run (pixels read back from the PNGs)."""
    stills = ["still", "painting_still"] if name == "future_film" else ["still"]  # frame 0: not in 1:3
    sets = [arg for s in [*TOY[name], "frames.bits=16", *(f"{n}.frame=1" for n in stills)] for arg in ("--set", s)]
    for folder, frames in (("whole", []), ("range", ["--frames", "1:3"])):
        code = main(["run", str(GRAPHS / f"{name}.json"), "--output-dir", str(tmp_path / folder), "--device", "cpu",
                     "--batch-size", "2", *frames, *sets])
        assert code == 0
    written = sorted((tmp_path / "range" / "out" / name / "frames").iterdir())
    assert [p.name for p in written] == ["frame_0001.png", "frame_0002.png"]
    for path in written:
        whole = read_image(tmp_path / "whole" / "out" / name / "frames" / path.name)
        assert torch.equal(read_image(path), whole), path.name
