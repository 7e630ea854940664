"""Colour nodes: Lab round trip, grey, levels, blur, colour matching."""

from __future__ import annotations

import pytest
import torch

from nodeflow.context import RunContext
from nodeflow.nodes.color import Blur, ColorConvert, ColorMatch, Grayscale, Levels
from nodeflow.nodes.color.convert import lab01_to_rgb, rgb_to_lab01
from nodeflow.nodes.color.matching import weighted_mean_std


def ctx() -> RunContext:
    return RunContext(node_id="t", node_type="T", device=torch.device("cpu"), seed=0)


def run(cls, inputs: dict, **params) -> torch.Tensor:
    return cls(cls.Params(**params)).run(ctx(), **inputs)["image"]


def test_lab_round_trip_error_below_1e3():
    g = torch.Generator().manual_seed(0)
    rgb = torch.rand(2, 3, 32, 32, generator=g)
    rgb[0, :, 0, :4] = torch.tensor([[0, 1, 0, 1], [0, 1, 0, 0], [0, 1, 1, 0]], dtype=torch.float32)  # extremes
    lab = run(ColorConvert, {"image": rgb}, conversion="rgb_to_lab")
    assert lab.min() >= 0 and lab.max() <= 1  # packed into [0, 1]
    back = run(ColorConvert, {"image": lab}, conversion="lab_to_rgb")
    assert (back - rgb).abs().max().item() < 1e-3


def test_lab_known_values_and_alpha_passthrough():
    white = torch.ones(1, 4, 1, 1)
    white[:, 3] = 0.3
    lab = run(ColorConvert, {"image": white}, conversion="rgb_to_lab")[0, :, 0, 0]
    # L = 100, a = b = 0 -> packed (1, 128/255, 128/255); alpha untouched
    assert torch.allclose(lab, torch.tensor([1.0, 128 / 255, 128 / 255, 0.3]), atol=2e-4)


@pytest.mark.parametrize("space", ["hsv", "ycbcr"])
def test_other_round_trips(space):
    rgb = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    there = run(ColorConvert, {"image": rgb}, conversion=f"rgb_to_{space}")
    back = run(ColorConvert, {"image": there}, conversion=f"{space}_to_rgb")
    assert (back - rgb).abs().max().item() < 1e-3


def test_grayscale_equal_channels_and_weights():
    rgb = torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1)
    grey = run(Grayscale, {"image": rgb})
    assert torch.allclose(grey.flatten(), torch.full((3,), 0.2126))
    assert run(Grayscale, {"image": rgb}, method="average")[0, 0].item() == pytest.approx(1 / 3)


def test_levels_points_and_gamma():
    x = torch.tensor([0.0, 0.1, 0.3, 0.5, 0.9, 1.0]).view(1, 1, 1, 6).expand(1, 3, 1, 6)
    out = run(Levels, {"image": x}, in_black=0.1, in_white=0.9, out_black=0.2, out_white=0.8)[0, 0, 0]
    assert torch.allclose(out, torch.tensor([0.2, 0.2, 0.35, 0.5, 0.8, 0.8]), atol=1e-6)
    g = run(Levels, {"image": torch.full((1, 3, 1, 1), 0.25)}, gamma=2.0)
    assert g.flatten()[0].item() == pytest.approx(0.5)
    with pytest.raises(ValueError, match="in_white"):
        Levels.Params(in_black=0.6, in_white=0.5)


def test_blur_keeps_constant_and_spreads_a_dot():
    const = torch.full((1, 3, 16, 16), 0.4)
    assert torch.allclose(run(Blur, {"image": const}, size=2.0), const, atol=1e-6)
    dot = torch.zeros(1, 3, 21, 21)
    dot[..., 10, 10] = 1.0
    g = run(Blur, {"image": dot}, size=2.0)
    assert g.sum().item() == pytest.approx(3.0, rel=1e-3)  # energy kept
    assert g[0, 0, 10, 10] < 0.1 and g[0, 0, 10, 12] > 0.01
    speck = torch.full((1, 3, 9, 9), 0.5)
    speck[..., 4, 4] = 1.0
    assert torch.allclose(run(Blur, {"image": speck}, method="median", size=1), torch.full_like(speck, 0.5))


def test_color_match_mean_std_in_lab():
    g = torch.Generator().manual_seed(2)
    image = 0.2 + 0.3 * torch.rand(1, 3, 32, 32, generator=g)
    reference = 0.5 + 0.2 * torch.rand(1, 3, 32, 32, generator=g)
    reference[:, 0] += 0.2
    out = run(ColorMatch, {"image": image, "reference": reference})
    ones = torch.ones(1, 1, 32, 32)
    m_out, s_out = weighted_mean_std(rgb_to_lab01(out), ones)
    m_ref, s_ref = weighted_mean_std(rgb_to_lab01(reference), ones)
    assert torch.allclose(m_out, m_ref, atol=3e-3) and torch.allclose(s_out, s_ref, atol=3e-3)


def test_color_match_histogram_matches_distribution():
    g = torch.Generator().manual_seed(3)
    image = torch.rand(1, 3, 48, 48, generator=g) ** 2  # skewed
    reference = 0.2 + 0.6 * torch.rand(1, 3, 48, 48, generator=g)
    out = run(ColorMatch, {"image": image, "reference": reference}, method="histogram")
    q = torch.tensor([0.1, 0.25, 0.5, 0.75, 0.9])
    for c in range(3):
        qo = torch.quantile(rgb_to_lab01(out)[0, c].flatten(), q)
        qr = torch.quantile(rgb_to_lab01(reference)[0, c].flatten(), q)
        assert (qo - qr).abs().max().item() < 0.01


def test_color_match_harmonises_only_the_pasted_subject():
    comp = torch.zeros(1, 3, 16, 16)
    comp[:, 2] = 0.7  # blue scene
    comp[:, 0] = 0.1
    mask = torch.zeros(1, 1, 16, 16)
    mask[..., 4:12, 4:12] = 1.0
    comp[..., 4:12, 4:12] = torch.tensor([0.8, 0.6, 0.2]).view(1, 3, 1, 1)  # orange subject
    out = run(ColorMatch, {"image": comp, "reference": comp, "mask": mask},
              reference_region="outside_mask", channels="color")
    assert torch.equal(out * (1 - mask), comp * (1 - mask))  # the scene is untouched
    lab_in, lab_out = rgb_to_lab01(comp), rgb_to_lab01(out)
    scene_ab = lab_in[0, 1:, 0, 0]
    moved = (lab_out[0, 1:, 8, 8] - scene_ab).abs().sum() < (lab_in[0, 1:, 8, 8] - scene_ab).abs().sum() / 4
    assert moved
    # L is kept up to the gamut clipping of the new colour
    assert lab_out[0, 0, 8, 8].item() == pytest.approx(lab_in[0, 0, 8, 8].item(), abs=0.05)
    # the identity of the packing functions
    assert torch.allclose(lab01_to_rgb(rgb_to_lab01(comp)), comp, atol=1e-3)
