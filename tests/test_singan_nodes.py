"""SinGAN nodes in graphs: training (cached, resumable, CLI), harmonization and the applications."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pytest
import torch
from pydantic import Field

from nodeflow.errors import Cancelled, NodeExecutionError
from nodeflow.events import NodeFinished, NodeProgress
from nodeflow.graph import Graph
from nodeflow.image_files import write_image
from nodeflow.node import Node, Output
from nodeflow.nodes.singan import NODES, SinGANModel
from nodeflow.nodes.singan.harmonize import harmonize, soft_mask
from nodeflow.nodes.singan.train import make_config, train_singan
from nodeflow.params import NodeParams
from nodeflow.registry import Registry
from nodeflow.types import IMAGE, MASK

# -- test-only source nodes ----------------------------------------------------------------------

TENSORS: dict[str, torch.Tensor] = {}


class Tensor(Node):
    """Emits TENSORS[key] as an image and as a mask (test only)."""

    category = "test"
    outputs = (Output("image", IMAGE), Output("mask", MASK))

    class Params(NodeParams):
        key: str

    def run(self, ctx):
        t = TENSORS[self.params.key]
        return {"image": t if t.shape[1] in (3, 4) else t.expand(-1, 3, -1, -1), "mask": t[:, :1]}


class Clip(Node):
    """Frames of TENSORS[key] (a clip), as a frame source (test only)."""

    category = "test"
    frame_source = True
    outputs = (Output("image", IMAGE), Output("mask", MASK))
    masks: ClassVar[str] = "clip_mask"

    class Params(NodeParams):
        key: str
        count: int = Field(4, ge=1)

    def frame_count(self, ctx):
        return self.params.count

    def run(self, ctx):
        idx = list(ctx.frames)
        return {"image": TENSORS[self.params.key][idx], "mask": TENSORS[self.masks][idx]}


def registry() -> Registry:
    r = Registry()
    for cls in (*NODES, Tensor, Clip):
        r.register(cls)
    return r


def tiny_scene(h: int = 24, w: int = 32) -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    img = torch.stack([xx, yy, 0.5 + 0.5 * torch.sin(6 * xx) * torch.cos(5 * yy)])
    img[:, h // 3:h // 2, w // 4:w // 2] = torch.tensor([0.9, 0.2, 0.1]).view(3, 1, 1)
    return img[None].clamp(0, 1)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    cfg = make_config("faithful", iterations=4, min_size=12, max_size=32)
    model = train_singan(tiny_scene(), cfg, seed=0)
    folder = tmp_path_factory.mktemp("singan") / "model"
    model.save(folder)
    return folder


def composite_and_mask(scale: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    """A red square pasted into the (upscaled) scene, at frame size ``scale``× the training size."""
    scene = torch.nn.functional.interpolate(tiny_scene(), scale_factor=scale, mode="bilinear")
    comp = scene.clone()
    mask = torch.zeros(1, 1, *scene.shape[-2:])
    y0, x0, s = 10 * scale // 2, 18 * scale // 2, 4 * scale
    comp[:, :, y0:y0 + s, x0:x0 + s] = torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1)
    mask[:, :, y0:y0 + s, x0:x0 + s] = 1
    return comp, mask


# -- training node ---------------------------------------------------------------------------------


def train_graph(tmp_path: Path, **params) -> Graph:
    write_image(tiny_scene(), tmp_path / "scene.png")
    g = Graph(registry=registry(), base_dir=tmp_path)
    params = {"image": "scene.png", "iterations": 3, "max_size": 32, "min_size": 12, **params}
    t = g.add("TrainSinGAN", id="train", **params)
    g.output("model", t.model)
    g.output("rmse", t.rmse)
    g.output("rec", t.reconstruction)
    return g


def test_train_node_runs_end_to_end_and_is_cached(tmp_path: Path):
    g = train_graph(tmp_path, preset="fast")
    events: list = []
    out = g.run(device="cpu", on_event=events.append)
    model = out["model"]
    assert isinstance(model, SinGANModel) and model.kind == "SinGAN"
    assert out["rec"].shape == (1, 3, 24, 32) and 0 <= out["rmse"] < 1
    assert any(isinstance(e, NodeProgress) and "scale" in e.message for e in events)
    # same graph again: from memory; a fresh graph (new session): from the disk cache, never retrained
    events.clear()
    g.run(device="cpu", on_event=events.append)
    assert [e.cached for e in events if isinstance(e, NodeFinished)] == ["memory"]
    events.clear()
    again = train_graph(tmp_path, preset="fast").run(device="cpu", on_event=events.append)
    assert [e.cached for e in events if isinstance(e, NodeFinished)] == ["disk"]
    assert torch.equal(again["rec"], out["rec"])


def test_train_node_resumes_after_cancel(tmp_path: Path):
    g = train_graph(tmp_path, preset="faithful", seed=5)

    def cancel_at_scale_2(event) -> None:
        if isinstance(event, NodeProgress) and event.message.startswith("scale 2/"):
            raise Cancelled("stop")
    with pytest.raises((Cancelled, NodeExecutionError)):
        g.run(device="cpu", on_event=cancel_at_scale_2)
    progress: list[NodeProgress] = []
    out = train_graph(tmp_path, preset="faithful", seed=5).run(
        device="cpu", on_event=lambda e: progress.append(e) if isinstance(e, NodeProgress) else None)
    assert progress[0].message.startswith("scale 2/")  # resumed after the two finished scales
    assert out["model"].num_scales == 5


def test_train_node_needs_a_scene(tmp_path: Path):
    g = Graph(registry=registry(), base_dir=tmp_path)
    t = g.add("TrainSinGAN", id="train")
    g.output("model", t.model)
    with pytest.raises(NodeExecutionError, match="no scene"):
        g.run(device="cpu")


def test_cli_train_singan(tmp_path: Path, monkeypatch):
    from nodeflow import cli

    write_image(tiny_scene(), tmp_path / "scene.png")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli, "training_nodes", lambda: {"singan": NODES[0]})
    threads = torch.get_num_threads()
    try:
        code = cli.main(["train", "singan", "scene.png", "--preset", "fast", "--iterations", "2", "--max-size", "32",
                         "--min-size", "12", "--out", str(tmp_path / "out"), "--threads", "2"])
        assert torch.get_num_threads() == 2  # --threads after the command works as for `run`
    finally:
        torch.set_num_threads(threads)
    assert code == 0
    model = SinGANModel.load(tmp_path / "out")
    assert model.sizes[-1] == (24, 32)


# -- harmonization ---------------------------------------------------------------------------------


def harmonize_graph(model_dir: Path, comp: torch.Tensor, mask: torch.Tensor, **params) -> Graph:
    TENSORS["comp"], TENSORS["mask"] = comp, mask
    g = Graph(registry=registry(), base_dir=model_dir.parent)
    m = g.add("LoadSinGAN", id="model", path=model_dir.name)
    c = g.add("Tensor", id="comp", key="comp")
    k = g.add("Tensor", id="mask", key="mask")
    h = g.add("Harmonize", id="harm", model=m.model, composite=c.image, mask=k.mask, **params)
    g.output("image", h.image)
    g.output("mask", h.mask)
    g.output("sheet", h.all_scales)
    return g


def far_from(mask: torch.Tensor, pixels: int) -> torch.Tensor:
    """Pixels more than ``pixels`` (Chebyshev) away from the mask."""
    near = torch.nn.functional.max_pool2d(mask, 2 * pixels + 1, stride=1, padding=pixels)
    return near == 0


@pytest.mark.parametrize("output_size", ["frame", "training"])
def test_harmonize_keeps_pixels_outside_the_dilated_mask(model_dir: Path, output_size: str):
    comp, mask = composite_and_mask(scale=3)
    params = {"scale": 2, "output_size": output_size, "radius": 2, "sigma": 1.0, "mask_units": "training"}
    out = harmonize_graph(model_dir, comp, mask, **params).run(device="cpu")
    image, soft = out["image"], out["mask"]
    ref, ref_mask = comp, mask
    if output_size == "training":
        ref = torch.nn.functional.interpolate(comp, size=(24, 32), mode="area")  # only for the shape
        assert image.shape == (1, 3, 24, 32)
    assert image.shape == ref.shape and soft.shape[-2:] == image.shape[-2:]
    outside = (soft == 0).expand_as(image)
    assert outside.any() and (soft > 0).any()
    assert not torch.equal(image[~outside], image[~outside] * 0)
    if output_size == "frame":
        assert torch.equal(image[outside], comp[outside])  # bit-identical outside the soft mask
        assert (soft[ref_mask.bool()] > 0).all()  # covers the pasted square
        # and stays local: dilation 2 + blur 4σ + 2 (bicubic down) + 2 (bicubic up) = 10 training px
        far = far_from(ref_mask, 3 * 10 + 1)
        assert far.any() and (soft[far] == 0).all()
        assert torch.equal(image[far.expand_as(image)], comp[far.expand_as(comp)])


def test_harmonize_at_training_size_keeps_the_resized_composite(model_dir: Path):
    model = SinGANModel.load(model_dir)
    comp, mask = composite_and_mask(scale=1)  # already at training size: no resize at all
    res = harmonize(model, comp, mask, 2, generator=torch.Generator().manual_seed(0), radius=2, sigma=1.0)
    outside = (res.mask == 0).expand_as(comp)
    assert outside.any() and torch.equal(res.image[outside], comp[outside])


def test_harmonize_clip_frames_share_noise(model_dir: Path):
    comp, mask = composite_and_mask(scale=1)
    TENSORS["clip"] = comp.expand(4, -1, -1, -1).contiguous()
    TENSORS["clip_mask"] = mask.expand(4, -1, -1, -1).contiguous()
    g = Graph(registry=registry(), base_dir=model_dir.parent)
    m = g.add("LoadSinGAN", id="model", path=model_dir.name)
    c = g.add("Clip", id="clip", key="clip", count=4)
    h = g.add("Harmonize", id="harm", model=m.model, composite=c.image, mask=c.mask, scale=2, seed=3)
    g.output("image", h.image)
    frames = g.run(device="cpu", batch_size=2)["image"]  # two executor batches
    assert frames.shape == (4, 3, 24, 32)
    assert all(torch.equal(frames[0], frames[i]) for i in range(1, 4))  # identical frames -> no flicker
    single = harmonize_graph(model_dir, comp, mask, scale=2, seed=3).run(device="cpu")["image"]
    assert torch.allclose(single[0], frames[0], atol=1e-5)  # batch size only changes float rounding


def test_harmonize_softens_a_still_mask_once_for_every_frame(model_dir: Path):
    model = SinGANModel.load(model_dir)
    comp, mask = composite_and_mask(scale=2)
    clip = torch.cat([comp, comp.flip(-1), comp * 0.5])  # three different frames, one still mask

    def run(m: torch.Tensor):
        return harmonize(model, clip, m, 2, generator=torch.Generator().manual_seed(4), radius=2, sigma=1.0)

    still, per_frame = run(mask), run(mask.expand(3, -1, -1, -1))
    assert still.mask.shape == (3, 1, *comp.shape[-2:])
    assert torch.allclose(still.mask, per_frame.mask, atol=1e-6)  # batch size only changes float rounding
    assert torch.allclose(still.image, per_frame.image, atol=1e-5)
    outside = (still.mask == 0).expand_as(clip)
    assert outside.any() and torch.equal(still.image[outside], clip[outside])


def test_harmonize_same_seed_same_output(model_dir: Path):
    comp, mask = composite_and_mask()
    a = harmonize_graph(model_dir, comp, mask, scale=1, seed=1).run(device="cpu", use_cache=False)["image"]
    b = harmonize_graph(model_dir, comp, mask, scale=1, seed=1).run(device="cpu", use_cache=False)["image"]
    c = harmonize_graph(model_dir, comp, mask, scale=1, seed=2).run(device="cpu", use_cache=False)["image"]
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_harmonize_all_scales_contact_sheet(model_dir: Path):
    comp, mask = composite_and_mask()
    model = SinGANModel.load(model_dir)
    reference = {"colour": "none", "mask_units": "training", "radius": 7, "sigma": 5.0, "sheet_view": "training",
                 "upsample": "generated", "keep_colour": 0.0}
    out = harmonize_graph(model_dir, comp, mask, scale=2, all_scales=True, **reference).run(device="cpu")
    sheet = out["sheet"]
    h, w = model.sizes[-1]
    n = model.N  # tiles for scale = 1 … N
    assert sheet.shape[0] == 1 and sheet.shape[1] == 3
    assert sheet.shape[-1] == min(n, 4) * (w + 2) - 2
    # the tile for n = 2 is the training-size result of the same seed
    g = torch.Generator().manual_seed(0)
    tile = harmonize(model, comp, mask, 2, generator=g, frame_size=False).training
    assert torch.equal(sheet[:, :, 14:14 + h, (w + 2):(w + 2) + w], tile)


def test_harmonize_errors(model_dir: Path):
    comp, mask = composite_and_mask()
    with pytest.raises(NodeExecutionError, match="scale"):
        harmonize_graph(model_dir, comp, mask, scale=9).run(device="cpu")
    with pytest.raises(NodeExecutionError, match="mask"):
        harmonize_graph(model_dir, comp, mask[..., :-3]).run(device="cpu")


def test_soft_mask_is_the_reference_processing():
    m = torch.zeros(1, 1, 60, 60)
    m[:, :, 30, 30] = 1
    s = soft_mask(m)
    assert s.max() == 1 and s.min() == 0
    assert s[0, 0, 30, 30] == 1
    # support: disk radius 7 then a 41-tap Gaussian (radius 20) -> 27 px around the point
    assert s[0, 0, 30, 30 + 27] > 0 and s[0, 0, 30, 30 + 28] == 0
    assert torch.equal(soft_mask(torch.zeros(1, 1, 8, 8)), torch.zeros(1, 1, 8, 8))


# -- the other applications ----------------------------------------------------------------------


def app_graph(model_dir: Path, node: str, **kwargs) -> Graph:
    g = Graph(registry=registry(), base_dir=model_dir.parent)
    m = g.add("LoadSinGAN", id="model", path=model_dir.name)
    n = g.add(node, id="app", model=m.model, **kwargs)
    g.output("out", n[NODE_OUT[node]])
    return g


NODE_OUT = {"SinGANSample": "image", "SinGANAnimate": "frames", "SinGANSuperResolution": "image",
            "SinGANPaint": "image", "SinGANEdit": "image"}


def test_sample_node(model_dir: Path):
    out = app_graph(model_dir, "SinGANSample", count=3).run(device="cpu")["out"]
    assert out.shape == (3, 3, 24, 32) and out.min() >= 0 and out.max() <= 1
    assert not torch.equal(out[0], out[1])
    wide = app_graph(model_dir, "SinGANSample", count=2, scale_h=1.5).run(device="cpu")["out"]
    assert wide.shape == (2, 3, 24, 48)
    fixed = app_graph(model_dir, "SinGANSample", count=2, start_scale=2).run(device="cpu")["out"]
    assert fixed.shape == (2, 3, 24, 32)


def test_animate_node(model_dir: Path):
    out = app_graph(model_dir, "SinGANAnimate", frames=6, start_scale=1).run(device="cpu")["out"]
    assert out.shape == (6, 3, 24, 32)
    assert not torch.equal(out[0], out[1])


def test_super_resolution_node(model_dir: Path):
    out = app_graph(model_dir, "SinGANSuperResolution", factor=2.0).run(device="cpu")["out"]
    assert out.shape == (1, 3, 48, 64)


def test_paint_and_edit_nodes(model_dir: Path):
    comp, mask = composite_and_mask(scale=1)
    TENSORS["paint"], TENSORS["edit_mask"] = comp, mask
    g = Graph(registry=registry(), base_dir=model_dir.parent)
    m = g.add("LoadSinGAN", id="model", path=model_dir.name)
    p = g.add("Tensor", id="paint", key="paint")
    k = g.add("Tensor", id="emask", key="edit_mask")
    paint = g.add("SinGANPaint", id="paint2img", model=m.model, paint=p.image, scale=1)
    edit = g.add("SinGANEdit", id="edit", model=m.model, image=p.image, mask=k.mask, scale=2)
    g.output("paint", paint.image)
    g.output("edit", edit.image)
    g.output("raw", edit.unmasked)
    g.output("emask", edit.mask)
    out = g.run(device="cpu")
    assert out["paint"].shape == (1, 3, 24, 32)
    assert out["edit"].shape == (1, 3, 24, 32) and out["raw"].shape == (1, 3, 24, 32)
    assert out["emask"].sum() > soft_mask(mask, radius=7).sum()  # editing dilates more (radius 20)


def test_load_singan_rejects_other_folders(tmp_path: Path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "x.txt").write_text("x")
    g = Graph(registry=registry(), base_dir=tmp_path)
    m = g.add("LoadSinGAN", id="model", path="empty")
    g.output("m", m.model)
    with pytest.raises(NodeExecutionError, match="neither"):
        g.run(device="cpu")
