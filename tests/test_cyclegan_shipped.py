"""The shipped demo stylizer (graphs/assets/stylizer) on a photo it never trained on.

The painting domain is OpenCV's ``cv2.stylization`` of photos, so a held-out photo has a known
"true painting". The stylized frame must keep the scene (luminance SSIM vs the input) and be closer
to that painting than the photo itself is.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from nodeflow.graph import Graph
from nodeflow.nodes.cyclegan.loading import load_cyclegan
from nodeflow.types import luminance

SHIPPED = Path(__file__).resolve().parent.parent / "graphs" / "assets" / "stylizer"


def true_painting(rgb: torch.Tensor) -> torch.Tensor:
    cv2 = pytest.importorskip("cv2")
    arr = (rgb[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    out = cv2.cvtColor(cv2.stylization(cv2.cvtColor(arr, cv2.COLOR_RGB2BGR), sigma_s=60, sigma_r=0.45),
                       cv2.COLOR_BGR2RGB)
    return torch.from_numpy(out.copy()).permute(2, 0, 1)[None].float() / 255


def test_shipped_stylizer_is_small_and_loads_both_directions():
    assert sum(p.stat().st_size for p in SHIPPED.glob("*.safetensors")) < 10 * 2**20
    handle = load_cyclegan(SHIPPED)
    assert handle.generator("AtoB")[1].arch == "resnet_6blocks"
    assert handle.generator("BtoA")[0] is not None


def test_shipped_stylizer_moves_a_held_out_photo_toward_its_painting_and_keeps_the_scene():
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
    target = true_painting(rgb)
    assert (styled - target).abs().mean() < (rgb - target).abs().mean()
    y_in, y_out = luminance(rgb)[0, 0].numpy(), luminance(styled)[0, 0].numpy()
    assert structural_similarity(y_out, y_in, data_range=1.0) > 0.5
    assert F.mse_loss(styled, rgb) > 1e-4  # it did restyle
