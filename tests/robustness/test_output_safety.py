"""Outputs never land on, in or among inputs; two outputs never share a file; --out keeps data.

Each case writes real files and checks, byte for byte, that the inputs survived.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from nodeflow.context import RunContext
from nodeflow.errors import GraphValidationError, NodeError
from nodeflow.graph import Graph
from nodeflow.model_out import OutputRefused, check_model_out
from nodeflow.nodes import io
from nodeflow.registry import Registry


def registry() -> Registry:
    r = Registry()
    for c in io.NODES:
        r.register(c)
    return r


def frames(folder: Path, n: int = 3, name: str = "frame_{:04d}.png") -> dict[Path, bytes]:
    """n small PNG frames; returns their bytes, to compare with afterwards."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, 255, (6, 8, 3), dtype=np.uint8)).save(folder / name.format(i))
    return {p: p.read_bytes() for p in sorted(folder.iterdir())}


def unchanged(before: dict[Path, bytes]) -> bool:
    return all(p.read_bytes() == data for p, data in before.items())


def sequence_graph(tmp_path: Path, source: str, target: str, sink: str = "SaveImageSequence") -> Graph:
    g = Graph(registry=registry(), base_dir=tmp_path)
    src = g.add("LoadImageSequence", id="load", path=source)
    g.add(sink, id="save", image=src.image, path=target, overwrite=True)
    return g


@pytest.mark.parametrize("source, target, why", [
    ("frames", "frames/frame_%04d.png", "replace input files"),              # folder input
    ("frames", "frames/new_%04d.png", "inside the input folder"),            # new names in it
    ("frames/frame_%04d.png", "frames/frame_%04d.png", "replace input files"),  # pattern input
    ("frames/*.png", "frames/out_%04d.png", "match the input pattern"),      # glob input
    ("frames", "frames/sub/x_%d.png", "inside the input folder"),            # below a folder input
])
def test_sequence_into_its_own_input_is_refused(tmp_path, source, target, why):
    before = frames(tmp_path / "frames")
    g = sequence_graph(tmp_path, source, target)
    with pytest.raises(GraphValidationError, match=why) as err:
        g.run(device="cpu", output_dir=tmp_path)
    assert "node save, path: refusing to write" in str(err.value) and "hint:" in str(err.value)
    assert unchanged(before) and sorted(p.name for p in (tmp_path / "frames").iterdir()) == \
        sorted(p.name for p in before)


def test_sequence_beside_its_input_is_fine(tmp_path):
    before = frames(tmp_path / "frames")
    sequence_graph(tmp_path, "frames/frame_%04d.png", "frames/graded_%04d.png").run(device="cpu",
                                                                                    output_dir=tmp_path)
    assert unchanged(before) and (tmp_path / "frames" / "graded_0002.png").is_file()


def test_still_onto_one_file_of_a_folder_input_is_refused(tmp_path):
    before = frames(tmp_path / "frames")
    g = sequence_graph(tmp_path, "frames", "frames/frame_0001.png", sink="SaveImage")
    with pytest.raises(GraphValidationError, match="also an input file"):
        g.run(device="cpu", output_dir=tmp_path)
    assert unchanged(before)


@pytest.mark.parametrize("link", ["symlink", "hardlink", "symlinked-folder"])
def test_links_to_an_input_are_seen_through(tmp_path, link):
    before = frames(tmp_path / "frames")
    victim = tmp_path / "frames" / "frame_0001.png"
    out = tmp_path / "out"
    out.mkdir()
    if link == "symlink":
        (out / "result.png").symlink_to(victim)
        target = "result.png"
    elif link == "hardlink":
        os.link(victim, out / "result.png")
        target = "result.png"
    else:
        (out / "view").symlink_to(tmp_path / "frames", target_is_directory=True)
        target = "view/frame_0001.png"
    g = Graph(registry=registry(), base_dir=tmp_path)
    src = g.add("LoadImageSequence", id="load", path="frames")
    g.add("SaveImage", id="save", image=src.image, path=target, overwrite=True)
    with pytest.raises(GraphValidationError, match="refusing to write"):
        g.run(device="cpu", output_dir=out)
    assert unchanged(before)


@pytest.mark.parametrize("sink, name", [("SaveImage", "a.png"), ("SaveVideo", "a.mp4"), ("SaveGIF", "a.gif"),
                                        ("ContactSheet", "a.png")])
def test_every_sink_refuses_a_hard_link_to_an_input(tmp_path, sink, name):
    """The node-level check too: what the graph reads is never written, whatever the sink."""
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / name).write_bytes(b"precious input")
    os.link(tmp_path / "in" / name, tmp_path / name)
    ctx = RunContext("s", sink, torch.device("cpu"), 0, output_dir=tmp_path,
                     input_files=frozenset({(tmp_path / "in").resolve()}))
    cls = getattr(io, sink)
    params = cls.Params(path=name, overwrite=True)
    inputs = {"image_1" if sink == "ContactSheet" else "image": torch.zeros(1, 3, 4, 4)}
    with pytest.raises(NodeError, match="hard link to an input file"):
        node = cls(params)
        node.check(ctx)
        node.run(ctx, **inputs)
        node.finish(ctx)
    assert (tmp_path / "in" / name).read_bytes() == b"precious input"


def test_two_sinks_on_one_file_are_refused_at_validation(tmp_path):
    g = Graph(registry=registry(), base_dir=tmp_path)
    src = g.add("SampleImage", id="src", name="camera", max_size=8)
    g.add("SaveImage", id="a", image=src.image, path="shots/x.png")
    g.add("SaveImage", id="b", image=src.image, path="shots/../shots/x.png")
    g.add("SaveImageSequence", id="seq", image=src.image, path="shots/x%d.png")
    g.add("SaveImage", id="c", image=src.image, path="shots/x0.png")  # a name the sequence writes
    with pytest.raises(GraphValidationError) as err:
        g.run(device="cpu", output_dir=tmp_path)
    text = str(err.value)
    assert "node b, path: output" in text and "also written by node a (path)" in text
    assert "node c, path:" in text and "also written by node seq (path)" in text
    assert not (tmp_path / "shots").exists()


def test_preview_never_overwrites_an_input_named_like_a_preview(tmp_path, capsys):
    from nodeflow.cli import main

    before = frames(tmp_path / "shots", n=1, name="load.image.png")  # what --preview shots would write
    graph = tmp_path / "g.json"
    g = Graph(registry=registry(), base_dir=tmp_path)
    src = g.add("LoadImage", id="load", path="shots/load.image.png")
    g.add("SaveImage", id="save", image=src.image, path="out.png")
    g.save(graph)
    shots, previews = str(tmp_path / "shots"), str(tmp_path / "previews")
    assert main(["run", str(graph), "--output-dir", str(tmp_path), "--preview", shots]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"--preview {shots}: refusing to overwrite inputs" in err and "Traceback" not in err
    assert unchanged(before) and not (tmp_path / "out.png").exists()
    assert main(["run", str(graph), "--output-dir", str(tmp_path), "--preview", previews]) == 0
    assert (tmp_path / "previews" / "load.image.png").is_file() and unchanged(before)


# -- train --out ---------------------------------------------------------------------------------


def test_train_out_onto_the_training_data_is_refused_before_training(tmp_path, monkeypatch, capsys):
    from nodeflow.cli import main

    monkeypatch.chdir(tmp_path)
    before = frames(tmp_path / "data", n=2)
    scene = frames(tmp_path / "scenes", n=1, name="scene.png")
    (tmp_path / "scenes" / "notes.txt").write_text("mine")
    scene[tmp_path / "scenes" / "notes.txt"] = b"mine"
    tiny = ["--niter", "1", "--niter-decay", "0", "--load-size", "8", "--crop-size", "8", "--ngf", "4"]
    for args, why in [
        (["pix2pix", "data", *tiny, "--out", "data", "--overwrite"], "a folder holding input files"),
        (["pix2pix", "data", *tiny, "--out", "data/model"], "inside the input folder data"),
        (["singan", "scenes/scene.png", "--out", "scenes", "--overwrite"], "a folder holding input files"),
        (["singan", "scenes/scene.png", "--out", "scenes/scene.png", "--overwrite"], "also an input file"),
    ]:
        code = main(["train", *args])
        err = " ".join(capsys.readouterr().err.split())
        assert code == 2, (args, err)
        assert ", --out: refusing to write the model to" in err and why in err and "hint:" in err, err
        assert "Traceback" not in err and "step" not in err  # refused before any training
    assert unchanged(before) and unchanged(scene)
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == sorted(p.name for p in before)


def test_overwrite_replaces_only_a_model_folder_nodeflow_wrote(tmp_path):
    import nodeflow.nodes.pix2pix.handle  # noqa: F401  (registers the handle kind)

    model = tmp_path / "model"
    model.mkdir()
    (model / "options.json").write_text('{"format": "nodeflow-pix2pix/1"}')
    (model / "generator.safetensors").write_bytes(b"weights")
    check_model_out("TrainPix2Pix", model, [], overwrite=True)  # an earlier model: fine
    with pytest.raises(OutputRefused, match=r"not empty.*--overwrite"):
        check_model_out("TrainPix2Pix", model, [], overwrite=False)
    for foreign in ("notes.txt", "sub/", "link.json"):
        path = model / foreign.rstrip("/")
        if foreign.endswith("/"):
            path.mkdir()
        elif foreign == "link.json":
            path.symlink_to(model / "options.json")
        else:
            path.write_text("mine")
        with pytest.raises(OutputRefused, match=f"files nodeflow did not write \\({path.name}\\)"):
            check_model_out("TrainPix2Pix", model, [], overwrite=True)
        path.unlink() if not path.is_dir() or path.is_symlink() else path.rmdir()
    (model / "options.json").write_text('{"format": "someone-else/1"}')  # json + weights, not ours
    with pytest.raises(OutputRefused, match="did not write"):
        check_model_out("TrainPix2Pix", model, [], overwrite=True)
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputRefused, match="not a folder"):
        check_model_out("TrainPix2Pix", tmp_path / "file", [], overwrite=True)


def test_cli_overwrite_swaps_an_earlier_model_and_keeps_foreign_folders(tmp_path, monkeypatch):
    from nodeflow.cli import main
    from nodeflow.nodes.pix2pix.handle import Pix2PixHandle

    frames(tmp_path / "data", n=2, name="{}.png")
    monkeypatch.chdir(tmp_path)
    args = ["train", "pix2pix", "data", "--mode", "colorization", "--generator", "unet_32", "--ngf", "4",
            "--ndf", "4", "--niter", "1", "--niter-decay", "0", "--load-size", "32", "--crop-size", "32",
            "--batch-size", "1", "--preview-every", "0", "--device", "cpu", "--out", "models/p2p"]
    assert main(args) == 0
    first = (tmp_path / "models/p2p/generator.safetensors").stat().st_ino
    assert main([*args, "--overwrite"]) == 0  # the disk cache answers: no second training
    assert (tmp_path / "models/p2p/generator.safetensors").stat().st_ino != first
    Pix2PixHandle.load(tmp_path / "models/p2p")
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["p2p"]  # no temp left
    (tmp_path / "models/p2p/readme.txt").write_text("mine")
    assert main([*args, "--overwrite"]) == 2
    assert (tmp_path / "models/p2p/readme.txt").read_text() == "mine"
