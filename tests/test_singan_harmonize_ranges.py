"""Harmonize's per-shot choices from an explicit reference still: any frame range renders the frames
of the whole clip (local executor, the CLI, and the CLI on a Dask cluster), and a reference of the
wrong size is refused with the node, the field and the fix.

The graph is built from the shipped nodes only (a real clip: a camera move over a photo, a real
paste), so the Dask workers import every node; the SinGAN is trained once for the module (tiny).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from nodeflow.cli import main
from nodeflow.graph import Graph
from nodeflow.image_files import read_image
from nodeflow.nodes.singan.train import make_config, train_singan

W, H, FRAMES = 48, 32, 8


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    """A tiny SinGAN of the clip's still (the same SampleImage the graph loads)."""
    g = Graph()
    still = g.add("SampleImage", id="still", name="chelsea", max_size=64)
    g.output("still", still.image)
    scene = g.run(device="cpu")["still"][:, :3]
    model = train_singan(scene, make_config("fast", iterations=3, min_size=12, max_size=32), seed=0)
    folder = tmp_path_factory.mktemp("singan") / "model"
    model.save(folder)
    return folder


def write_graph(folder: Path, model_dir: Path, *, reference: bool = True, reference_size: tuple[int, int] = (W, H),
                **harmonize) -> Path:
    """A panning clip with a subject pasted at a fixed place, harmonized (scale auto, the defaults)."""
    g = Graph(base_dir=folder)
    still = g.add("SampleImage", id="still", name="chelsea", max_size=64)
    film = g.add("CameraMove", id="film", image=still.image, frames=FRAMES, width=W, height=H, start_x=0.3,
                 end_x=0.7, start_zoom=1.2, end_zoom=1.6)
    subject = g.add("SampleImage", id="subject", name="astronaut", max_size=14)
    paste = g.add("AlphaOver", id="paste", background=film.image, foreground=subject.image, x=0.45, y=0.55)
    model = g.add("LoadSinGAN", id="model", path=str(model_dir))
    inputs = {"model": model.model, "composite": paste.image, "mask": paste.mask}
    if reference:
        shot = g.add("Resize", id="shot_still", image=still.image, width=reference_size[0], height=reference_size[1])
        ref = g.add("AlphaOver", id="still_paste", background=shot.image, foreground=subject.image, x=0.45, y=0.55)
        inputs |= {"reference": ref.image, "reference_mask": ref.mask}
    h = g.add("Harmonize", id="harmonize", **inputs, **harmonize)
    g.add("SaveImageSequence", id="frames", image=h.image, path="out/frame_%04d.png", bits=16)
    g.output("final", h.image)
    g.output("scale", h.scale)
    path = folder / "graph.json"
    g.save(path)
    return path


def without_sinks(path: Path) -> Graph:
    g = Graph.load(path)
    for node_id in [n for n in g.spec.nodes if g.node_class(n).sink]:
        g.remove(node_id)
    return g


def render(path: Path, frames: range | None = None) -> torch.Tensor:
    return without_sinks(path).run(outputs=["final"], frames=frames, device="cpu", batch_size=2)["final"]


def test_a_frame_range_renders_the_whole_clips_frames_with_a_reference(tmp_path: Path, model_dir: Path):
    whole = render(write_graph(tmp_path, model_dir))
    part = render(write_graph(tmp_path, model_dir), range(5, 7))
    assert whole.shape == (FRAMES, 3, H, W) and part.shape == (2, 3, H, W)
    assert torch.equal(part, whole[5:7])
    # the pasted subject was harmonized (not passed through), and the background pans under it
    naive = without_sinks(write_graph(tmp_path, model_dir))
    naive.output("naive", naive.node("paste").image)
    paste = naive.run(outputs=["naive"], device="cpu")["naive"]
    assert (whole - paste).abs().amax() > 0.02
    assert not torch.equal(paste[0], paste[5])
    # without the reference the choices come from the range's first frame: the same frames differ
    no_ref = write_graph(tmp_path, model_dir, reference=False)
    assert not torch.equal(render(no_ref, range(5, 7)), render(no_ref)[5:7])


def test_a_frame_range_under_dask_renders_the_whole_clips_frames(tmp_path: Path, model_dir: Path):
    path = write_graph(tmp_path, model_dir)
    assert main(["run", str(path), "--output-dir", str(tmp_path / "whole"), "--device", "cpu",
                 "--batch-size", "2"]) == 0
    assert main(["run", str(path), "--output-dir", str(tmp_path / "range"), "--device", "cpu", "--batch-size", "1",
                 "--frames", "5:7", "--executor", "dask", "--workers", "2"]) == 0
    written = sorted(p.name for p in (tmp_path / "range" / "out").iterdir())
    assert written == ["frame_0005.png", "frame_0006.png"]
    for name in written:
        a, b = read_image(tmp_path / "whole" / "out" / name), read_image(tmp_path / "range" / "out" / name)
        assert a.shape == (1, 3, H, W) and torch.equal(a, b), name


def test_a_reference_of_another_size_is_refused_by_name(tmp_path: Path, model_dir: Path, capsys):
    path = write_graph(tmp_path, model_dir, reference_size=(W + 8, H))
    assert main(["run", str(path), "--output-dir", str(tmp_path), "--device", "cpu"]) != 0
    err = capsys.readouterr().err
    assert "harmonize" in err and "reference" in err
    assert f"{W + 8}x{H}" in err and f"{W}x{H}" in err and "Resize" in err  # what is wrong, and the fix
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_reference_mask_without_reference_is_refused(tmp_path: Path, model_dir: Path, capsys):
    path = write_graph(tmp_path, model_dir)
    spec = json.loads(path.read_text())
    del spec["nodes"]["harmonize"]["inputs"]["reference"]
    path.write_text(json.dumps(spec))
    assert main(["run", str(path), "--output-dir", str(tmp_path), "--device", "cpu"]) != 0
    err = capsys.readouterr().err
    assert "reference_mask" in err and "Traceback" not in err


def test_validate_refuses_a_reference_of_another_size_before_the_training(tmp_path: Path, capsys):
    """With a still composite both sizes are known at preflight: `nodeflow validate` says so and
    nothing trains."""
    g = Graph(base_dir=tmp_path)
    scene = g.add("SampleImage", id="scene", name="chelsea", max_size=64)
    subject = g.add("SampleImage", id="subject", name="astronaut", max_size=14)
    paste = g.add("AlphaOver", id="paste", background=scene.image, foreground=subject.image)
    small = g.add("Resize", id="small", image=paste.image, scale=0.5)
    train = g.add("TrainSinGAN", id="harmonizer", scene=scene.image, max_size=32, min_size=12)
    h = g.add("Harmonize", id="harmonize", model=train.model, composite=paste.image, mask=paste.mask,
              reference=small.image)
    g.output("final", h.image)
    path = tmp_path / "still.json"
    g.save(path)
    assert main(["validate", str(path)]) != 0
    err = " ".join(capsys.readouterr().err.split())
    assert "node harmonize (Harmonize): reference: reference is 32x22 but the composite is 64x43" in err, err
    assert "Traceback" not in err and not list(Path(tmp_path).rglob("singan.safetensors"))
