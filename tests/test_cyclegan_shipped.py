"""The shipped demo stylizer (graphs/assets/stylizer) on a photo it never trained on.

The model is trained to imitate a painterly filter, OpenCV's ``cv2.stylization``
(graphs/assets/train_stylizer.py), so a held-out photo's "true painting" is known. What it must
do: come much closer to that painting than the photo itself is, restyle without losing the scene
(luminance SSIM vs the input) and without the dark cast of an old demo model (mean lightness kept).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch.nn.functional as F
from PIL import Image

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


def test_shipped_stylizer_comes_close_to_the_filter_it_imitates_on_a_held_out_photo(tmp_path):
    cv2 = pytest.importorskip("cv2")
    data = pytest.importorskip("skimage.data")
    photo = data.stereo_motorcycle()[0]
    photo = cv2.resize(photo, (128, round(128 * photo.shape[0] / photo.shape[1])), interpolation=cv2.INTER_AREA)
    painting = cv2.cvtColor(cv2.stylization(cv2.cvtColor(photo, cv2.COLOR_RGB2BGR), sigma_s=60, sigma_r=0.45),
                            cv2.COLOR_BGR2RGB)
    g = Graph()
    Image.fromarray(photo).save(tmp_path / "photo.png")
    img = g.add("LoadImage", id="photo", path=str(tmp_path / "photo.png"))
    model = g.add("LoadCycleGAN", id="stylizer", path=str(SHIPPED))
    art = g.add("Stylize", id="art", image=img.image, model=model.model)
    g.output("art", art.image)
    styled = g.run(device="cpu")["art"][0].permute(1, 2, 0).numpy() * 255
    to_painting = np.abs(styled - painting).mean()
    assert to_painting < 0.6 * np.abs(photo.astype(np.float32) - painting).mean()

