"""Compositing nodes: alpha-over maths against hand-computed values, placement, sizes."""

from __future__ import annotations

import pytest
import torch

from nodeflow.context import RunContext
from nodeflow.errors import NodeError
from nodeflow.graph import Graph
from nodeflow.nodes import color, composite, io, matte
from nodeflow.nodes.composite import AlphaOver, Crop, Mix, Pad, Resize, SetAlpha
from nodeflow.registry import Registry


def ctx() -> RunContext:
    return RunContext(node_id="t", node_type="T", device=torch.device("cpu"), seed=0)


def run(cls, inputs: dict, **params) -> dict:
    return cls(cls.Params(**params)).run(ctx(), **inputs)


def graph(tmp_path) -> Graph:
    r = Registry()
    for family in (io, matte, composite, color):
        for c in family.NODES:
            r.register(c)
    return Graph(registry=r, base_dir=tmp_path)


def flat(c: tuple[float, ...], h: int = 4, w: int = 4, b: int = 1) -> torch.Tensor:
    return torch.tensor(c, dtype=torch.float32).view(1, len(c), 1, 1).expand(b, len(c), h, w).clone()


# -- AlphaOver maths ---------------------------------------------------------------------------

def test_over_opaque_background_hand_computed():
    # red at alpha 0.5 over blue: 0.5 * red + 0.5 * blue
    out = run(AlphaOver, {"background": flat((0, 0, 1)), "foreground": flat((1, 0, 0, 0.5))})
    assert out["image"].shape == (1, 3, 4, 4)
    assert torch.allclose(out["image"][0, :, 1, 1], torch.tensor([0.5, 0.0, 0.5]), atol=1e-6)
    assert torch.allclose(out["mask"], torch.full((1, 1, 4, 4), 0.5), atol=1e-6)


def test_over_transparent_background_premultiplied_and_straight():
    # fg (1, 0, 0, a=0.5) over bg (0, 0, 1, a=0.5):
    # out_a = 0.5 + 0.5 * 0.5 = 0.75; premultiplied = (0.5, 0, 0) + 0.5 * (0, 0, 0.5) = (0.5, 0, 0.25)
    # straight = premultiplied / 0.75 = (2/3, 0, 1/3)
    out = run(AlphaOver, {"background": flat((0, 0, 1, 0.5)), "foreground": flat((1, 0, 0, 0.5))})
    px = out["image"][0, :, 2, 2]
    assert torch.allclose(px, torch.tensor([2 / 3, 0.0, 1 / 3, 0.75]), atol=1e-6)
    premul = px[:3] * px[3]
    assert torch.allclose(premul, torch.tensor([0.5, 0.0, 0.25]), atol=1e-6)


def test_over_with_opacity_and_fully_transparent_pixels():
    fg = flat((0.2, 0.4, 0.6, 1.0))
    fg[..., 0, 0] = torch.tensor([1.0, 1.0, 1.0, 0.0])  # invisible white: must not leak
    out = run(AlphaOver, {"background": flat((0, 0, 0, 0)), "foreground": fg}, opacity=0.5)
    img = out["image"]
    assert torch.allclose(img[0, :, 1, 1], torch.tensor([0.2, 0.4, 0.6, 0.5]), atol=1e-6)
    assert torch.allclose(img[0, :, 0, 0], torch.zeros(4), atol=1e-6)


def test_mask_input_replaces_alpha():
    mask = torch.zeros(1, 1, 4, 4)
    mask[..., :2] = 1.0
    out = run(AlphaOver, {"background": flat((0, 0, 0)), "foreground": flat((1, 1, 1)), "mask": mask})
    assert torch.equal(out["image"][0, 0], mask[0, 0])


def test_placement_in_pixels_is_exact_and_clipped_outside():
    fg = torch.rand(1, 4, 4, 6)
    fg[:, 3] = 1.0
    bg = torch.zeros(1, 3, 10, 10)
    # centre at (3, 2) px: the 6x4 foreground covers x -> 0..5, y -> 0..3
    out = run(AlphaOver, {"background": bg, "foreground": fg}, x=3, y=2, units="px")
    assert torch.allclose(out["image"][0, :, 0:4, 0:6], fg[0, :3], atol=1e-5)
    assert out["image"][0, :, 4:, :].abs().max() == 0 and out["image"][0, :, :, 6:].abs().max() == 0
    # partly outside: centre at (0, 0) keeps only the bottom-right quarter
    out = run(AlphaOver, {"background": bg, "foreground": fg}, x=0, y=0, units="px")
    assert torch.allclose(out["image"][0, :, 0:2, 0:3], fg[0, :3, 2:, 3:], atol=1e-5)
    assert out["mask"].sum().item() == pytest.approx(6.0, abs=1e-4)


def test_rotation_and_scale():
    fg = torch.zeros(1, 4, 4, 8)  # a wide bar, opaque
    fg[:, :3] = 1.0
    fg[:, 3] = 1.0
    bg = torch.zeros(1, 3, 16, 16)
    rotated = run(AlphaOver, {"background": bg, "foreground": fg}, rotation=90)["mask"][0, 0]
    ys, xs = torch.nonzero(rotated > 0.5, as_tuple=True)
    assert (ys.max() - ys.min() + 1).item() == 8 and (xs.max() - xs.min() + 1).item() == 4  # now tall
    scaled = run(AlphaOver, {"background": bg, "foreground": fg}, scale=1.5)["mask"]
    assert scaled.sum().item() == pytest.approx(12 * 6, abs=0.5)


def test_still_foreground_broadcasts_over_clip():
    clip = torch.rand(5, 3, 6, 6)
    out = run(AlphaOver, {"background": clip, "foreground": flat((1, 0, 0, 0.25), 2, 2)})
    assert out["image"].shape == (5, 3, 6, 6) and out["mask"].shape == (5, 1, 6, 6)
    with pytest.raises(NodeError, match="batch sizes"):
        run(AlphaOver, {"background": clip, "foreground": torch.rand(3, 4, 2, 2)})


# -- Mix ------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("mode", "expected"), [
    ("normal", 0.8), ("add", 1.0), ("multiply", 0.16), ("screen", 1 - 0.8 * 0.2), ("overlay", 2 * 0.2 * 0.8),
])
def test_mix_modes(mode, expected):
    out = run(Mix, {"a": flat((0.2, 0.2, 0.2)), "b": flat((0.8, 0.8, 0.8))}, mode=mode)["image"]
    assert out[0, 0, 0, 0].item() == pytest.approx(expected, abs=1e-6)
    half = run(Mix, {"a": flat((0.2, 0.2, 0.2)), "b": flat((0.8, 0.8, 0.8))}, mode=mode, factor=0.5)["image"]
    assert half[0, 0, 0, 0].item() == pytest.approx(0.2 + 0.5 * (expected - 0.2), abs=1e-6)


def test_mix_factor_mask_and_size_error():
    fm = torch.zeros(1, 1, 4, 4)
    fm[..., 2:] = 1
    out = run(Mix, {"a": flat((0, 0, 0)), "b": flat((1, 1, 1)), "factor_mask": fm})["image"]
    assert torch.equal(out[0, 0], fm[0, 0])
    with pytest.raises(NodeError, match="sizes differ"):
        run(Mix, {"a": flat((0, 0, 0), 4, 4), "b": flat((1, 1, 1), 5, 4)})


# -- sizes ----------------------------------------------------------------------------------------

def test_resize_size_scale_multiple_reference():
    img = torch.rand(2, 3, 30, 40)
    assert run(Resize, {"image": img}, width=20)["image"].shape == (2, 3, 15, 20)
    assert run(Resize, {"image": img}, scale=0.5)["image"].shape == (2, 3, 15, 20)
    out = run(Resize, {"image": img}, multiple_of=16, rounding="up")
    assert out["image"].shape == (2, 3, 32, 48) and (out["width"], out["height"]) == (48, 32)
    assert run(Resize, {"image": img}, width=20, height=20, fit="contain")["image"].shape[-2:] == (15, 20)
    assert run(Resize, {"image": img}, width=20, height=20, fit="cover")["image"].shape[-2:] == (20, 27)
    back = run(Resize, {"image": out["image"], "reference": img})["image"]
    assert back.shape == img.shape


def test_resize_rgba_does_not_bleed_transparent_colour():
    img = torch.zeros(1, 4, 8, 8)
    img[:, :3, :, :4] = torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1)  # opaque red left half
    img[:, 3, :, :4] = 1.0
    img[:, :3, :, 4:] = torch.tensor([0.0, 1.0, 0.0]).view(1, 3, 1, 1)  # transparent green right half
    out = run(Resize, {"image": img}, width=4, height=4)["image"]
    visible = out[0, 3] > 0.01
    assert out[0, 1][visible].max().item() < 1e-4  # no green where anything is visible


def test_pad_to_multiple_then_crop_back_is_identity():
    img = torch.rand(1, 3, 30, 45)
    for anchor in ("center", "top-left"):
        padded = run(Pad, {"image": img}, multiple_of=16, anchor=anchor, mode="replicate")["image"]
        assert padded.shape == (1, 3, 32, 48)
        back = run(Crop, {"image": padded, "reference": img}, anchor=anchor)["image"]
        assert torch.equal(back, img)


def test_pad_constant_rgba_is_transparent_and_crop_box():
    img = torch.ones(1, 4, 4, 4)
    out = run(Pad, {"image": img}, left=2, top=1)["image"]
    assert out.shape == (1, 4, 5, 6)
    assert out[0, 3, 0].sum() == 0 and out[0, 3, :, :2].sum() == 0 and out[0, 3, 1:, 2:].min() == 1
    boxed = run(Crop, {"image": torch.arange(100.0).view(1, 1, 10, 10).expand(1, 3, 10, 10)},
                x=2, y=3, width=4, height=5)["image"]
    assert boxed.shape == (1, 3, 5, 4) and boxed[0, 0, 0, 0].item() == 32
    trimmed = run(Crop, {"image": torch.rand(1, 3, 37, 50)}, multiple_of=16)["image"]
    assert trimmed.shape == (1, 3, 32, 48)
    with pytest.raises(NodeError, match="does not fit"):
        run(Crop, {"image": img}, x=2, width=4)


def test_set_alpha():
    out = run(SetAlpha, {"image": torch.rand(2, 3, 4, 4), "mask": torch.full((1, 1, 2, 2), 0.5)})["image"]
    assert out.shape == (2, 4, 4, 4) and torch.allclose(out[:, 3], torch.full((2, 4, 4), 0.5))


def test_composite_graph_end_to_end(tmp_path):
    g = graph(tmp_path)
    bg = g.add("SampleImage", name="coffee", max_size=64)
    fg = g.add("SampleImage", name="logo", max_size=32)
    over = g.add("AlphaOver", background=bg.image, foreground=fg.image, x=0.25, y=0.5, scale=0.5)
    g.output("image", over.image)
    g.output("mask", over.mask)
    out = g.run(device="cpu")
    assert out["image"].shape == (1, 3, 43, 64)
    assert out["mask"].shape == (1, 1, 43, 64) and 0 < out["mask"].mean() < 0.5
