"""The demo colorizer's training script (graphs/assets/train_colorizer.py) on tiny data.

Augmentation must keep colour (only position, scale and sharpness change), the objective must be
the benchmark's ab error, the saturation calibration must find the scale that fits, and a tiny
training must save a model that LoadPix2Pix reads, with its calibration.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

ASSETS = Path(__file__).resolve().parent.parent / "graphs" / "assets"
sys.path.insert(0, str(ASSETS))

import train_colorizer as tc  # noqa: E402

from nodeflow.nodes.pix2pix.loading import load_pix2pix  # noqa: E402


def gradient_image(h: int = 40, w: int = 60) -> torch.Tensor:
    """A picture whose every pixel says where it came from: R = column, G = row, B = 0.5."""
    ys, xs = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    return torch.stack([xs, ys, torch.full_like(xs, 0.5)])


def test_random_window_at_native_scale_is_an_exact_crop_of_the_photo():
    img = gradient_image()
    gen = torch.Generator().manual_seed(3)
    patch = tc.random_window(img, 16, 60, 60, gen)  # longest side 60 = the photo's own: scale 1
    assert patch.shape == (3, 16, 16)
    r0 = patch[0, 0]
    if r0[0] > r0[-1]:  # flipped: undo it
        patch = patch.flip(-1)
    left = round(float(patch[0, 0, 0]) * 59)
    top = round(float(patch[1, 0, 0]) * 39)
    assert torch.allclose(patch, img[:, top:top + 16, left:left + 16], atol=1e-5)


def test_random_window_scales_vary_keep_colour_and_are_seeded():
    img = gradient_image()
    spans = set()
    for seed in range(8):
        patch = tc.random_window(img, 16, 20, 120, torch.Generator().manual_seed(seed))
        assert patch.shape == (3, 16, 16) and patch.min() >= 0 and patch.max() <= 1
        assert torch.allclose(patch[2], torch.full((16, 16), 0.5), atol=1e-5)  # colour untouched
        spans.add(round(float(patch[1, -1, 0] - patch[1, 0, 0]), 2))  # rows covered: the scale
    assert len(spans) > 3
    a = tc.random_window(img, 16, 20, 120, torch.Generator().manual_seed(5))
    b = tc.random_window(img, 16, 20, 120, torch.Generator().manual_seed(5))
    assert torch.equal(a, b)


def test_soften_removes_fine_detail_but_keeps_the_mean_colour():
    checker = (torch.arange(32)[:, None] + torch.arange(32)[None]) % 2
    patch = torch.stack([checker.float(), torch.full((32, 32), 0.2), torch.full((32, 32), 0.7)])
    soft = tc.soften(patch, torch.Generator().manual_seed(0))
    assert soft.shape == patch.shape
    assert soft[0].std() < 0.5 * patch[0].std()
    assert torch.allclose(soft.mean(dim=(1, 2)), patch.mean(dim=(1, 2)), atol=0.02)


def test_ab_distance_is_the_mean_euclidean_ab_error_and_has_a_gradient_at_zero():
    pred = torch.zeros(1, 2, 2, 2, requires_grad=True)
    target = torch.tensor([3.0, 4.0]).view(1, 2, 1, 1).expand(1, 2, 2, 2)
    assert tc.ab_distance(pred, target).item() == pytest.approx(5.0, rel=1e-4)
    tc.ab_distance(pred, pred.detach()).backward()
    assert torch.isfinite(pred.grad).all()


def test_fit_saturation_finds_the_scale_that_undoes_an_over_saturated_prediction():
    truth = torch.randn(1, 2, 8, 8, generator=torch.Generator().manual_seed(0)) * 20
    s, ratio = tc.fit_saturation([2.0 * truth], [truth])
    assert s == pytest.approx(0.5) and ratio == pytest.approx(0.0, abs=1e-6)
    s, ratio = tc.fit_saturation([truth], [truth])
    assert s == pytest.approx(1.0)
    s, ratio = tc.fit_saturation([-truth], [truth])  # wrong hue: as little as the colourfulness floor allows
    assert s == pytest.approx(0.5) and ratio > 1.0
    s, ratio = tc.fit_saturation([-truth], [truth], colourfulness=(0.0, 99.0))
    assert s == min(tc.SATURATIONS)


def test_a_tiny_training_saves_a_loadable_calibrated_colorizer(tmp_path):
    warm = torch.stack([torch.full((48, 64), 0.8), torch.full((48, 64), 0.5), torch.full((48, 64), 0.3)])
    cool = warm.flip(0)
    opts = tc.ColorizerOptions(steps=4, batch_size=2, crop=32, min_side=48, max_side=80, ngf=4, eval_every=2)
    photos = {"val": tc.fit_longest(warm[None], 64)}
    best = tc.train(opts, [warm, cool], photos, tmp_path / "m", log=lambda _msg: None)
    calib = json.loads((tmp_path / "m" / "calibration.json").read_text())
    assert calib["saturation"] in tc.SATURATIONS and calib["net_size"] in tc.NET_SIZES
    assert calib["chosen_at_step"] in (2, 4) and len(calib["history"]) == 2
    assert calib["validation"]["ab_ratio"] == pytest.approx(best["ab_ratio"])
    handle = load_pix2pix(tmp_path / "m")
    assert handle.mode == "colorization" and handle.net_size == calib["net_size"]
    with torch.no_grad():
        ab = handle.net(torch.zeros(1, 1, 32, 48))
    assert ab.shape == (1, 2, 32, 48) and ab.abs().max() <= 1


def test_fit_saturation_keeps_the_colourfulness_target_when_a_photo_cannot_beat_grey():
    truth = torch.randn(1, 2, 8, 8, generator=torch.Generator().manual_seed(1)) * 20
    good, wrong = 0.6 * truth, truth.flip(1)  # photo 1: right hue, too pale; photo 2: wrong hue
    s, _ = tc.fit_saturation([good, wrong], [truth, truth])
    # unconstrained the wrong photo would drive s to the grid's minimum (0.3, colourfulness < 0.5)
    colour = float(((s * good).norm(dim=1).mean() + (s * wrong).norm(dim=1).mean()) / 2 / truth.norm(dim=1).mean())
    assert s > min(tc.SATURATIONS) and 0.5 <= colour <= 1.5
    s_free, _ = tc.fit_saturation([good, wrong], [truth, truth], colourfulness=(0.0, 99.0))
    assert s_free < s


def test_rank_prefers_a_state_inside_the_colourfulness_window_over_a_greyer_lower_error():
    grey_ish = {"ab_ratio": 0.9, "colourfulness": 0.3}
    colourful = {"ab_ratio": 1.05, "colourfulness": 0.6}
    assert tc.rank(colourful) < tc.rank(grey_ish)
    assert tc.rank({"ab_ratio": 1.0, "colourfulness": 0.6}) < tc.rank(colourful)
    assert min([grey_ish, {"ab_ratio": 0.95, "colourfulness": 2.0}], key=tc.rank) is grey_ish  # none inside
