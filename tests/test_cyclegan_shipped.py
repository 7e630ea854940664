"""The shipped demo stylizer (graphs/assets/stylizer) on a photo it never trained on.

This small model does not read as a painting yet (benchmarks/stylize.py: it is no closer to the
photo's true ``cv2.stylization`` painting than the photo is), so the demo's final output is the
harmonized shot. What it must keep doing: restyle without losing the scene (luminance SSIM vs the
input) and without the dark cast of the old demo model (mean lightness kept).
"""

from __future__ import annotations

from pathlib import Path

import torch.nn.functional as F

from nodeflow.graph import Graph
from nodeflow.nodes.cyclegan.loading import load_cyclegan
from nodeflow.nodes.gan.lab import rgb_to_lab_norm
from nodeflow.types import luminance

SHIPPED = Path(__file__).resolve().parent.parent / "graphs" / "assets" / "stylizer"


def test_shipped_stylizer_is_small_and_loads_both_directions():
    assert sum(p.stat().st_size for p in SHIPPED.glob("*.safetensors")) < 10 * 2**20
    handle = load_cyclegan(SHIPPED)
    assert handle.generator("AtoB")[1].arch == "resnet_6blocks"
    assert handle.generator("BtoA")[0] is not None


def test_shipped_stylizer_restyles_a_held_out_photo_and_keeps_the_scene_and_its_lightness():
    from skimage.metrics import structural_similarity

    g = Graph()
    photo = g.add("SampleImage", id="photo", name="chelsea", max_size=192)
    model = g.add("LoadCycleGAN", id="stylizer", path=str(SHIPPED))
    art = g.add("Stylize", id="art", image=photo.image, model=model.model)
    g.output("photo", photo.image)
    g.output("art", art.image)
    out = g.run(device="cpu")
    rgb, styled = out["photo"], out["art"]
    assert styled.shape == rgb.shape
    y_in, y_out = luminance(rgb)[0, 0].numpy(), luminance(styled)[0, 0].numpy()
    assert structural_similarity(y_out, y_in, data_range=1.0) > 0.35
    lightness = rgb_to_lab_norm(styled)[0].mean() - rgb_to_lab_norm(rgb)[0].mean()
    assert abs(float(lightness)) * 50 < 10  # CIE L units: not the old model's dark cast
    assert F.mse_loss(styled, rgb) > 1e-3  # it did restyle
