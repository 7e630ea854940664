"""The ab-bin colorizer head (nodes/pix2pix/bins.py) and its training objective.

The bins must cover the sRGB gamut and round-trip an in-gamut colour; the annealed mean must go
from the distribution's mean (T = 1) to its mode (T -> 0); the class weights must favour rare
colours; a tiny training must lower the loss and save a model that LoadPix2Pix reads back as an
L -> ab colorizer with the calibrated temperature.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

from nodeflow.errors import NodeError
from nodeflow.nodes.gan.generators import GeneratorSpec
from nodeflow.nodes.gan.lab import rgb_to_lab_norm
from nodeflow.nodes.pix2pix.apply import colorize
from nodeflow.nodes.pix2pix.bins import (
    BinnedResnetGenerator,
    annealed_mean,
    bin_centres,
    rebalance_weights,
    rebalanced_cross_entropy,
    soft_encode,
)
from nodeflow.nodes.pix2pix.handle import Pix2PixHandle
from nodeflow.nodes.pix2pix.loading import load_pix2pix

ASSETS = Path(__file__).resolve().parent.parent / "graphs" / "assets"
sys.path.insert(0, str(ASSETS))

import train_colorizer as tc  # noqa: E402

SPEC = GeneratorSpec("resnet_6blocks", 1, 2, 4, "batch", True)


def test_bins_cover_the_gamut_on_the_grid():
    c = bin_centres(10.0)
    assert c.shape == (225, 2)
    assert torch.equal(c % 10, torch.zeros_like(c))  # grid points
    assert any(torch.equal(row, torch.zeros(2)) for row in c)  # grey is a bin
    # every sRGB colour lies within one grid step of a bin (half a diagonal, 7.1, in the gamut's
    # interior; a little more at its edge, whose grid points are out of gamut at every L)
    rgb = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    ab = rgb_to_lab_norm(rgb)[1] * 110
    nearest = torch.cdist(ab.permute(0, 2, 3, 1).reshape(-1, 2), c).min(dim=1).values
    assert nearest.max() < 10.0 and nearest.median() < 5 * 2**0.5
    assert len(bin_centres(20.0)) < len(c)


def test_soft_encoding_round_trips_through_the_annealed_mean():
    c = bin_centres(10.0)
    ab = torch.tensor([[20.0, -30.0], [0.0, 0.0], [-13.0, 47.0]]).T.reshape(1, 2, 1, 3)
    z = soft_encode(ab, c)
    assert z.shape == (1, len(c), 1, 3)
    assert torch.allclose(z.sum(dim=1), torch.ones(1, 1, 3))
    assert ((z > 0).sum(dim=1) == 5).all()  # 5 nearest bins
    decoded = annealed_mean(torch.log(z.clamp(min=1e-12)), c, 1.0)  # T = 1: the encoded mean
    assert torch.allclose(decoded[0, :, 0, :2], ab[0, :, 0, :2], atol=0.01)  # on a bin: exact
    assert (decoded - ab).norm(dim=1).max() < 3.0  # between bins: within the encoding's blur


def test_annealed_mean_goes_from_the_mean_to_the_mode():
    c = torch.tensor([[0.0, 0.0], [60.0, 0.0], [0.0, 60.0]])
    logits = torch.log(torch.tensor([0.3, 0.45, 0.25])).view(1, 3, 1, 1).expand(2, 3, 4, 5)
    mean = annealed_mean(logits, c, 1.0)
    assert mean.shape == (2, 2, 4, 5)
    assert torch.allclose(mean[0, :, 0, 0], torch.tensor([27.0, 15.0]), atol=1e-4)
    mode = annealed_mean(logits, c, 0.01)
    assert torch.allclose(mode[0, :, 0, 0], torch.tensor([60.0, 0.0]), atol=1e-3)
    # lower T: further from grey (the colourfulness knob)
    chroma = [float(annealed_mean(logits, c, t).norm(dim=1).mean()) for t in (1.0, 0.5, 0.2)]
    assert chroma[0] < chroma[1] < chroma[2]


def test_rebalancing_weights_rare_colours_more_with_unit_mean():
    p = torch.tensor([0.7, 0.2, 0.1, 0.0])
    w = rebalance_weights(p, 0.5)
    assert w[0] < w[1] < w[2] < w[3]
    assert float((p * w).sum()) == pytest.approx(1.0)
    assert torch.allclose(rebalance_weights(p, 1.0), torch.ones(4))  # mix 1: uniform, no rebalancing


def test_rebalanced_cross_entropy_is_weighted_by_the_true_bin():
    target = torch.zeros(1, 3, 1, 2)
    target[0, 0, 0, 0] = target[0, 2, 0, 1] = 1.0
    logits = torch.zeros(1, 3, 1, 2)
    plain = rebalanced_cross_entropy(logits, target, torch.ones(3))
    assert float(plain) == pytest.approx(float(torch.log(torch.tensor(3.0))))
    heavy = rebalanced_cross_entropy(logits, target, torch.tensor([1.0, 1.0, 3.0]))
    assert float(heavy) == pytest.approx(2 * float(plain))


def test_binned_generator_keeps_the_generator_keys_and_outputs_bounded_ab():
    net = BinnedResnetGenerator(SPEC).eval()
    plain = SPEC.build()
    assert set(net.state_dict()) == set(plain.state_dict())
    head = [k for k, v in net.state_dict().items() if v.shape != plain.state_dict()[k].shape]
    assert len(head) == 2 and net.state_dict()[head[0]].shape[0] == 225  # the last conv only
    x = torch.linspace(-1, 1, 2 * 12 * 20).view(2, 1, 12, 20)
    with torch.no_grad():
        logits, ab = net.logits(x), net(x)
    assert logits.shape == (2, 225, 12, 20) and ab.shape == (2, 2, 12, 20)
    assert ab.abs().max() <= 1.0
    with pytest.raises(ValueError, match="resnet"):
        BinnedResnetGenerator(GeneratorSpec("unet_32", 1, 2, 4))


def two_colour_photos() -> list[torch.Tensor]:
    """Bright = sky blue, dark = brick red: colour a net can read from L alone."""
    ys = torch.linspace(0, 1, 48)[:, None].expand(48, 64)
    top = ys < 0.5
    sky, brick = torch.tensor([0.45, 0.65, 0.95]), torch.tensor([0.55, 0.15, 0.1])
    img = torch.where(top[None], sky[:, None, None], brick[:, None, None])
    return [img, img.flip(1)]


def test_the_rebalanced_loss_goes_down_and_the_decoded_colour_moves_to_the_truth():
    torch.manual_seed(0)
    rgb = torch.stack(two_colour_photos())[..., :32, :32]  # (2, 3, 32, 32)
    l_norm, ab_norm = rgb_to_lab_norm(rgb)
    net = BinnedResnetGenerator(SPEC).train()
    target = soft_encode(ab_norm * 110, net.centres)
    weights = rebalance_weights(target.sum(dim=(0, 2, 3)), 0.5)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    losses, errors = [], []
    for _ in range(60):
        logits = net.logits(l_norm)
        loss = rebalanced_cross_entropy(logits, target, weights)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        errors.append(float((net.decode(logits.detach(), 0.38) - ab_norm).norm(dim=1).mean() * 110))
    entropy = float((weights[target.argmax(dim=1)] * -(target * target.clamp(min=1e-12).log()).sum(dim=1)).mean())
    assert losses[-1] - entropy < 0.5 * (losses[0] - entropy)  # the part above the targets' own entropy halves
    assert errors[-1] < 0.25 * errors[0]  # ab error in CIE units: ~47 -> ~4


def test_a_tiny_bins_training_saves_a_loadable_calibrated_colorizer(tmp_path):
    images = two_colour_photos()
    opts = tc.ColorizerOptions(steps=4, batch_size=2, crop=32, min_side=48, max_side=80, ngf=4, eval_every=2,
                               objective="bins")
    photos = {"val": tc.fit_longest(images[0][None], 64)}
    best = tc.train(opts, images, photos, tmp_path / "m", log=lambda _msg: None)
    calib = json.loads((tmp_path / "m" / "calibration.json").read_text())
    assert calib["temperature"] in tc.TEMPERATURES and calib["saturation"] == 1.0
    assert calib["temperature"] == best["temperature"]
    handle = load_pix2pix(tmp_path / "m")
    assert isinstance(handle.net, BinnedResnetGenerator) and handle.mode == "colorization"
    assert handle.options()["ab_bins"] == {"grid": 10.0, "temperature": calib["temperature"]}
    out = colorize(handle, torch.full((1, 3, 20, 30), 0.5))
    assert out.shape == (1, 3, 20, 30) and out.min() >= 0 and out.max() <= 1
    again = load_pix2pix(tmp_path / "m" / "generator.safetensors")  # the file alone is enough
    assert isinstance(again.net, BinnedResnetGenerator) and again.net.temperature == calib["temperature"]


def test_a_broken_ab_bins_entry_is_refused_with_the_field_and_the_fix(tmp_path):
    """A hand-edited options.json whose ab_bins lacks a number: a NodeError naming path and the fix, not a KeyError."""
    spec = GeneratorSpec("resnet_6blocks", 1, 2, ngf=4, norm="batch")
    net = BinnedResnetGenerator(spec)
    handle = Pix2PixHandle(net, spec, mode="colorization", net_size=64)
    options = {**handle.options(), "ab_bins": {"grid": 10}}
    with pytest.raises(NodeError, match="ab_bins must be") as err:
        Pix2PixHandle.from_options(options, net.state_dict(), torch.device("cpu"), "m")
    assert err.value.field == "path" and "train_colorizer.py" in (err.value.hint or "")
    again = Pix2PixHandle.from_options(handle.options(), net.state_dict(), torch.device("cpu"), "m")
    assert isinstance(again.net, BinnedResnetGenerator) and again.spec == spec
