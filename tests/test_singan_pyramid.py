"""SinGAN pyramid sizes and the MATLAB-style resize, against numbers from the reference's formulas.

The expected sizes were derived by evaluating tamarott/SinGAN's ``adjust_scales2image`` and
``creat_reals_pyramid`` (``ceil(h1 · r^(N-i))`` with the re-fitted r) for each image size.
"""

from __future__ import annotations

import math

import pytest
import torch

from nodeflow.nodes.singan.imresize import imresize, resize_weights
from nodeflow.nodes.singan.pyramid import build_pyramid, plan_pyramid

REFERENCE = [
    # (H, W), kwargs, stop_scale N, re-fitted factor, sizes coarsest -> finest
    ((400, 600), {"max_size": 128}, 5, 0.781067,
     [(25, 38), (33, 48), (41, 61), (53, 79), (68, 100), (86, 128)]),
    ((400, 600), {}, 7, 0.762386,
     [(25, 38), (33, 50), (44, 65), (57, 85), (75, 111), (98, 146), (128, 191), (167, 250)]),
    ((512, 512), {}, 9, 0.774264,
     [(26, 26), (33, 33), (42, 42), (54, 54), (70, 70), (90, 90), (117, 117), (150, 150), (194, 194),
      (250, 250)]),
    ((300, 451), {}, 7, 0.762386,
     [(25, 38), (33, 50), (44, 65), (57, 85), (75, 111), (98, 146), (128, 191), (167, 250)]),
    ((1080, 1920), {}, 7, 0.781042,
     [(25, 45), (33, 57), (41, 73), (53, 94), (68, 120), (87, 154), (111, 197), (141, 251)]),
    ((250, 250), {}, 10, 0.794328,
     [(25, 25), (32, 32), (40, 40), (50, 50), (63, 63), (80, 80), (100, 100), (126, 126), (158, 158),
      (199, 199), (250, 250)]),
    ((86, 128), {}, 6, 0.813905, [(25, 38), (31, 46), (38, 57), (47, 70), (57, 85), (70, 105), (86, 128)]),
    ((32, 48), {"min_size": 12}, 5, 0.821876, [(12, 18), (15, 22), (18, 27), (22, 33), (27, 40), (32, 48)]),
    ((512, 512), {"scale_factor": 0.6}, 5, 0.630957,
     [(25, 25), (40, 40), (63, 63), (100, 100), (158, 158), (250, 250)]),
    ((400, 600), {"max_size": 128, "scale_factor": 0.6}, 3, 0.662441,
     [(25, 38), (38, 57), (57, 85), (86, 128)]),
]


@pytest.mark.parametrize(("shape", "kwargs", "stop", "factor", "sizes"), REFERENCE)
def test_pyramid_sizes_equal_the_reference(shape, kwargs, stop, factor, sizes):
    plan = plan_pyramid(*shape, **kwargs)
    assert plan.stop_scale == stop
    assert plan.scale_factor == pytest.approx(factor, abs=1e-6)
    assert list(plan.sizes) == sizes


def test_build_pyramid_gives_the_planned_shapes():
    torch.manual_seed(0)
    image = torch.rand(1, 3, 86, 128) * 2 - 1
    plan = plan_pyramid(86, 128)
    reals = build_pyramid(image, plan)
    assert [tuple(r.shape[-2:]) for r in reals] == list(plan.sizes)
    assert torch.equal(reals[-1], image)  # scale1 = 1 keeps the image as it is
    assert all(r.min() >= -1 and r.max() <= 1 for r in reals)


def test_too_small_an_image_is_refused():
    with pytest.raises(ValueError, match="no room"):
        plan_pyramid(20, 30)


def test_imresize_matches_reference_values():
    # A ramp resized along one axis; the numbers come from the reference resizer. The first
    # output of each shows its top/left edge rule (taps before the edge get no weight).
    x = torch.arange(8, dtype=torch.float64).view(1, 1, 1, 8)
    down = torch.tensor([0.5439330543933053, 2.4594594594594597, 4.51171875, 6.55078125], dtype=torch.float64)
    assert torch.allclose(imresize(x, 0.5).view(-1), down, atol=1e-12)
    y = torch.arange(6, dtype=torch.float64).view(1, 1, 6, 1)
    up = torch.tensor([-0.05223880597014925, 0.5565949485500467, 1.375, 2.125, 2.875, 3.625,
                       4.418945312499999, 5.0546875], dtype=torch.float64)
    out = imresize(y, 1 / 0.75)
    assert out.shape == (1, 1, 8, 2)  # ceil(1 · 4/3) = 2 columns: the reference resizes every axis
    assert torch.allclose(out[0, 0, :, 0], up, atol=1e-12)


def test_imresize_shapes_and_constants():
    x = torch.full((2, 3, 33, 47), 0.25)
    for scale in (0.75, 0.71, 1 / 0.75, 2.0):
        out = imresize(x, scale)
        assert tuple(out.shape[-2:]) == (math.ceil(33 * scale), math.ceil(47 * scale))
        assert torch.allclose(out, torch.full_like(out, 0.25), atol=1e-6)
    assert imresize(x, size=(40, 61)).shape == (2, 3, 40, 61)


def test_resize_weights_rows_sum_to_one():
    w = resize_weights(50, 38, 0.75)
    assert w.shape == (38, 50)
    assert abs(w.sum(axis=1) - 1).max() < 1e-12
