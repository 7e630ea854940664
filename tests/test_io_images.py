"""Image files in and out: formats, bit depths, alpha, EXIF, samples, atomic and safe writes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from nodeflow.context import RunContext
from nodeflow.errors import GraphValidationError, NodeError, NodeExecutionError
from nodeflow.graph import Graph
from nodeflow.node import Input, Node, Output
from nodeflow.nodes import color, composite, io, matte
from nodeflow.registry import Registry
from nodeflow.types import IMAGE


class Explode(Node):
    """Test node: fails when it runs (after an upstream sink already got its input)."""

    inputs = (Input("image", IMAGE),)
    outputs = (Output("image", IMAGE),)

    def run(self, ctx, image):
        raise NodeError("boom")


def graph(tmp_path) -> Graph:
    r = Registry()
    for family in (io, matte, composite, color):
        for c in family.NODES:
            r.register(c)
    r.register(Explode)
    return Graph(registry=r, base_dir=tmp_path)


def load(tmp_path, name: str) -> dict:
    g = graph(tmp_path)
    n = g.add("LoadImage", path=name)
    g.output("image", n.image)
    g.output("alpha", n.alpha)
    return g.run(device="cpu")


def test_every_node_declares_a_spec():
    names = set()
    for family in (io, matte, composite, color):
        for cls in family.NODES:
            assert cls.doc() and cls.category != "misc", cls
            assert all(s.doc for s in (*cls.inputs, *cls.outputs)), cls
            fields = cls.Params.model_fields
            assert all(f.description for f in fields.values()), cls
            assert not set(fields) & {s.name for s in cls.inputs}, f"{cls.type_name}: param and input share a name"
            names.add(cls.type_name)
    assert {"LoadImage", "LoadImageSequence", "LoadVideo", "HoldFrames", "CameraMove", "SampleImage",
            "SaveImage", "SaveImageSequence", "SaveVideo", "SaveGIF", "ContactSheet", "CutOut",
            "RefineMatte", "AlphaOver", "Mix", "Resize", "Crop", "Pad", "Grayscale", "ColorConvert",
            "Levels", "Blur", "ColorMatch"} <= names


def test_grayscale_file_becomes_three_equal_channels(tmp_path):
    Image.fromarray(np.arange(64, dtype=np.uint8).reshape(8, 8) * 4, "L").save(tmp_path / "bw.png")
    out = load(tmp_path, "bw.png")
    img = out["image"]
    assert img.shape == (1, 3, 8, 8)
    assert torch.equal(img[:, 0], img[:, 1]) and torch.equal(img[:, 1], img[:, 2])
    assert img[0, 0, 0, 1].item() == pytest.approx(4 / 255)
    assert torch.equal(out["alpha"], torch.ones(1, 1, 8, 8))


def test_sixteen_bit_alpha_and_exif(tmp_path):
    import cv2

    arr16 = np.zeros((4, 5, 3), np.uint16)
    arr16[..., 2] = 1000  # BGR order: red
    cv2.imwrite(str(tmp_path / "deep.png"), arr16)
    img = load(tmp_path, "deep.png")["image"]
    assert img[0, 0, 0, 0].item() == pytest.approx(1000 / 65535, abs=1e-7)  # not rounded to 8 bits
    assert img[0, 2, 0, 0].item() == 0

    rgba = np.zeros((4, 6, 4), np.uint8)
    rgba[..., 3] = 128
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    out = load(tmp_path, "a.png")
    assert out["image"].shape == (1, 4, 4, 6) and out["alpha"][0, 0, 0, 0].item() == pytest.approx(128 / 255)

    wide = Image.fromarray(np.zeros((4, 6, 3), np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees on display
    wide.save(tmp_path / "rot.jpg", exif=exif)
    assert load(tmp_path, "rot.jpg")["image"].shape == (1, 3, 6, 4)


def test_unreadable_image_is_a_clear_error(tmp_path):
    (tmp_path / "bad.png").write_bytes(b"not an image")
    with pytest.raises(NodeExecutionError, match=r"load_image \(LoadImage\): path: cannot read .*bad.png"):
        load(tmp_path, "bad.png")


def test_sample_image(tmp_path):
    g = graph(tmp_path)
    cam = g.add("SampleImage", name="camera", max_size=64)
    logo = g.add("SampleImage", name="logo", max_size=32)
    g.output("cam", cam.image)
    g.output("logo", logo.image)
    out = g.run(device="cpu")
    assert out["cam"].shape == (1, 3, 64, 64) and torch.equal(out["cam"][:, 0], out["cam"][:, 2])
    assert out["logo"].shape == (1, 4, 32, 32)


def test_save_image_round_trip_16_bit_and_frame_choice(tmp_path):
    g = graph(tmp_path)
    src = g.add("SampleImage", name="coffee", max_size=40)
    g.add("SaveImage", image=src.image, path="stills/coffee.png", bits=16)
    g.output("image", src.image)
    original = g.run(device="cpu", output_dir=tmp_path)["image"]
    assert [p.name for p in (tmp_path / "stills").iterdir()] == ["coffee.png"]
    back = load(tmp_path, "stills/coffee.png")["image"]
    assert (back - original).abs().max().item() < 1e-4

    clip = graph(tmp_path)
    still = clip.add("SampleImage", name="camera", max_size=16)
    move = clip.add("CameraMove", image=still.image, frames=6, end_zoom=3.0)
    clip.add("SaveImage", image=move.image, path="frame4.png", frame=4)
    clip.output("frames", move.image)
    frames = clip.run(device="cpu", batch_size=4, output_dir=tmp_path)["frames"]
    assert (load(tmp_path, "frame4.png")["image"] - frames[4:5]).abs().max().item() <= 0.5 / 255 + 1e-6


def test_existing_file_needs_overwrite_and_input_is_never_written(tmp_path):
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / "in.png")
    (tmp_path / "taken.png").write_bytes(b"keep")
    g = graph(tmp_path)
    src = g.add("LoadImage", id="src", path="in.png")
    g.add("SaveImage", id="save", image=src.image, path="taken.png")
    for overwrite in (False, True):  # a user's file at the path: refused before anything runs, either way
        g.set("save", overwrite=overwrite)
        with pytest.raises(GraphValidationError, match=r"node save, path: .*taken\.png already exists and "
                                                       r"nodeflow did not write it .*hint: nodeflow replaces only"):
            g.run(device="cpu", output_dir=tmp_path)
        assert (tmp_path / "taken.png").read_bytes() == b"keep"
    (tmp_path / "taken.png").unlink()
    g.run(device="cpu", output_dir=tmp_path)
    first = (tmp_path / "taken.png").read_bytes()
    g.set("save", overwrite=False)  # nodeflow's own earlier output: replaced only with overwrite
    with pytest.raises(NodeExecutionError, match=r"save \(SaveImage\): path: .*already exists \(hint: set overwrite"):
        g.run(device="cpu", output_dir=tmp_path)
    g.set("save", overwrite=True)
    Image.fromarray(np.full((4, 4, 3), 200, np.uint8)).save(tmp_path / "in.png")
    g.run(device="cpu", output_dir=tmp_path)
    assert (tmp_path / "taken.png").read_bytes() != first
    assert load(tmp_path, "taken.png")["image"].min().item() > 0.7
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / "taken.png")  # the user replaces it
    with pytest.raises(GraphValidationError, match="nodeflow did not write it"):
        g.run(device="cpu", output_dir=tmp_path)
    assert load(tmp_path, "taken.png")["image"].max().item() == 0.0
    # the node refuses a user's file on its own too (a path validation did not see, e.g. a frame's)
    ctx = RunContext("s", "SaveImage", torch.device("cpu"), 0, output_dir=tmp_path)
    node = io.SaveImage(io.SaveImage.Params(path="taken.png", overwrite=True))
    with pytest.raises(NodeError, match=r"taken\.png already exists and nodeflow did not write it"):
        node.run(ctx, image=torch.zeros(1, 3, 4, 4))

    g.set("save", path="in.png")
    with pytest.raises(GraphValidationError, match="also an input file"):
        g.run(device="cpu", output_dir=tmp_path)
    # the node refuses on its own too (e.g. an input reached through a folder or pattern)
    ctx = RunContext("s", "SaveImage", torch.device("cpu"), 0, output_dir=tmp_path,
                     input_files=frozenset({(tmp_path / "in.png").resolve()}))
    node = io.SaveImage(io.SaveImage.Params(path="in.png", overwrite=True))
    with pytest.raises(NodeError, match="input file"):
        node.run(ctx, image=torch.zeros(1, 3, 4, 4))


def test_failed_run_leaves_no_partial_file(tmp_path):
    earlier = graph(tmp_path)
    earlier.add("SaveImage", image=earlier.add("SampleImage", name="coffee", max_size=16).image, path="out/old.png")
    earlier.run(device="cpu", output_dir=tmp_path)
    previous = (tmp_path / "out" / "old.png").read_bytes()
    g = graph(tmp_path)
    src = g.add("SampleImage", name="camera", max_size=16)
    g.add("SaveImage", image=src.image, path="out/never.png")
    g.add("SaveImage", image=src.image, path="out/old.png", overwrite=True)
    boom = g.add("Explode", image=src.image)  # fails after both sinks wrote their temp files
    g.output("x", boom.image)
    with pytest.raises(NodeExecutionError, match="boom"):
        g.run(device="cpu", output_dir=tmp_path)
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["old.png"]
    assert (tmp_path / "out" / "old.png").read_bytes() == previous


def test_contact_sheet_grid_and_labels(tmp_path):
    g = graph(tmp_path)
    still = g.add("SampleImage", name="astronaut", max_size=64)
    move = g.add("CameraMove", image=still.image, frames=8, width=32, height=32)
    grey = g.add("Grayscale", image=move.image)
    g.add("ContactSheet", image_1=move.image, image_2=grey.image, image_3=still.image, path="sheet.png",
          cell_width=32, padding=4, every=2, labels=["frame {frame}", "grey", "still"])
    g.run(device="cpu", batch_size=3, output_dir=tmp_path)
    with Image.open(tmp_path / "sheet.png") as sheet:
        # rows: 4 frames of move, 4 of grey, the still once; 4 columns; label band 20 px
        assert sheet.size == (4 + 4 * 36, 4 + 3 * (32 + 20 + 4))
        arr = np.asarray(sheet.convert("RGB")).astype(int)
    label_band = arr[4:24, 4:36]
    assert (np.abs(label_band - label_band[0, -1]).sum(-1) > 100).any()  # text was drawn

    stills = graph(tmp_path)
    s = stills.add("SampleImage", name="coffee", max_size=32)
    stills.add("ContactSheet", image_1=s.image, image_2=s.image, path="two.png", cell_width=16, padding=0)
    stills.run(device="cpu", output_dir=tmp_path)
    with Image.open(tmp_path / "two.png") as sheet:
        assert sheet.size == (16, 2 * 10)  # one column (one image per input), two rows
