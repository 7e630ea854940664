"""The shipped demo colorizer (graphs/assets/colorizer) on a photo it never trained on.

The held-out photo is scikit-image's ``chelsea`` (not in graphs/assets/make_training_data.py's
training set), turned grey as the project's Grayscale does. The colour must be closer to the
truth than leaving the frame grey, and neither washed out nor garish.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from nodeflow.nodes.gan.lab import rgb_to_lab_norm
from nodeflow.nodes.pix2pix.apply import colorize
from nodeflow.nodes.pix2pix.loading import load_pix2pix
from nodeflow.types import luminance

SHIPPED = Path(__file__).resolve().parent.parent / "graphs" / "assets" / "colorizer"


@pytest.fixture(scope="module")
def chelsea() -> torch.Tensor:
    data = pytest.importorskip("skimage.data")
    x = torch.from_numpy(data.chelsea().copy()).permute(2, 0, 1)[None].float() / 255
    return F.interpolate(x, size=(150, 225), mode="bilinear", antialias=True, align_corners=False).clamp(0, 1)


def ab(rgb: torch.Tensor) -> torch.Tensor:
    return rgb_to_lab_norm(rgb)[1] * 110


def test_shipped_colorizer_is_small_weights_only_and_sized_for_its_scale():
    weights = SHIPPED / "generator.safetensors"
    assert weights.stat().st_size < 10 * 2**20
    handle = load_pix2pix(SHIPPED)
    assert handle.mode == "colorization" and handle.net_size == 192


def test_shipped_colorizer_beats_grey_on_a_held_out_photo(chelsea):
    torch.manual_seed(0)
    grey = luminance(chelsea).expand(-1, 3, -1, -1)
    out = colorize(load_pix2pix(SHIPPED), grey, saturation=0.65)  # as in graphs/past_film.json
    truth = ab(chelsea)
    error, error_grey = (ab(out) - truth).norm(dim=1).mean(), truth.norm(dim=1).mean()
    assert error < 0.8 * error_grey
    colourfulness = ab(out).norm(dim=1).mean() / error_grey
    assert 0.5 < colourfulness < 1.5
    # the frame's own lightness is kept
    assert (rgb_to_lab_norm(out)[0] - rgb_to_lab_norm(grey)[0]).abs().mean() < 0.02


def test_the_past_film_colorizer_node_loads_the_shipped_model_and_colours_a_wide_frame():
    from nodeflow.graph import Graph

    g = Graph()
    photo = g.add("SampleImage", id="photo", name="chelsea", max_size=120)
    wide = g.add("Crop", id="wide", image=photo.image, units="relative", width=1.0, height=0.45, y=0.3)
    grey = g.add("Grayscale", id="grey", image=wide.image)
    model = g.add("LoadPix2Pix", id="colorizer", path=str(SHIPPED))
    colour = g.add("Colorize", id="colour", image=grey.image, model=model.model, saturation=0.65)
    g.output("colour", colour.image)
    g.output("truth", wide.image)
    out = g.run(device="cpu")
    assert out["colour"].shape == out["truth"].shape
    error, error_grey = (ab(out["colour"]) - ab(out["truth"])).norm(dim=1).mean(), ab(out["truth"]).norm(dim=1).mean()
    assert error < error_grey
