"""A model trained by the reference code (tamarott/SinGAN) reproduces the reference's own outputs.

The fixture under ``tests/data/singan_reference`` was made by running the reference code (see its
README): a ``TrainedModels`` folder, the per-scale ``G(z_opt).png`` it wrote while training, and
the reconstruction its ``SinGAN_generate`` gives with every scale on its fixed noise.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from nodeflow.nodes.singan import LoadSinGAN, SinGANModel
from nodeflow.nodes.singan.generate import pad, reconstruct
from nodeflow.nodes.singan.imresize import imresize, imresize_8bit, quantize_8bit
from nodeflow.nodes.singan.pyramid import upsample_to
from nodeflow.nodes.singan.reference import import_reference

DATA = Path(__file__).parent / "data" / "singan_reference"
MODEL = DATA / "TrainedModels" / "astro" / "scale_factor=0.750000,alpha=10"


def _png(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.float64)


def _as_saved(x: torch.Tensor) -> np.ndarray:
    """What the reference writes for ``x`` in [-1, 1]: ``plt.imsave`` of ``denorm(x)`` (``x·255`` truncated)."""
    u = ((x[0].detach().float() + 1) / 2).clamp(0, 1).permute(1, 2, 0).numpy()
    return (u * 255).astype(np.uint8).astype(np.float64)


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(((a - b) ** 2).mean())
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


@pytest.fixture(scope="module")
def model() -> SinGANModel:
    return import_reference(MODEL)


def test_fixture_is_a_reference_folder_without_pickled_modules():
    assert not (MODEL / "Gs.pth").exists()  # import never needs the pickled generators
    assert sorted(p.name for p in MODEL.iterdir() if p.is_dir()) == ["0", "1", "2", "3", "4"]


def test_import_marks_the_model_for_8bit_resizes(model):
    assert model.quantize_8bit
    assert model.sizes == [(26, 34), (29, 39), (34, 45), (39, 52), (45, 60)]


def test_reconstruction_matches_the_reference_per_scale(model):
    """Every scale's reconstruction equals the reference's own (SinGAN_generate, fixed noise)."""
    outs = reconstruct(model, keep=True)
    psnr = [_psnr(_as_saved(x), _png(DATA / "reference_reconstruction" / f"{k}.png")) for k, x in enumerate(outs)]
    assert min(psnr) >= 40, psnr


def test_without_the_8bit_resizes_the_reconstruction_drifts(model):
    """The quantisation is what makes the difference (this is the ~30 dB of the issue)."""
    plain = copy.copy(model)
    plain.quantize_8bit = False
    outs = reconstruct(plain, keep=True)
    finest = _psnr(_as_saved(outs[-1]), _png(DATA / "reference_reconstruction" / f"{model.N}.png"))
    assert finest < 38, finest


def test_g_z_opt_images_match_with_the_training_batch_statistics(model):
    """``G(z_opt).png`` is written during training: the scale's own generator is in train mode there
    (BatchNorm with the image's statistics) on the 8-bit reconstruction of the scales below."""
    x = torch.zeros_like(model.reals[0])
    with torch.no_grad():
        for k in range(model.N + 1):
            if k:
                x = upsample_to(x, model.scale_factor, model.sizes[k], quantize=True)
            xp = pad(x, model.pad)
            training = copy.deepcopy(model.generators[k]).train()
            saved = training(model.noise_amp[k] * model.z_rec[k] + xp, xp)
            psnr = _psnr(_as_saved(saved), _png(MODEL / str(k) / "G(z_opt).png"))
            assert psnr >= 40, (k, psnr)
            g = model.generators[k]
            assert g is not None
            x = g(model.noise_amp[k] * model.z_rec[k] + xp, xp)


def test_imresize_8bit_is_the_reference_round_trip():
    """``torch2uint8`` (truncating), resize of the integers, ``/ 255``, ``norm``."""
    g = torch.Generator().manual_seed(0)
    x = torch.rand((1, 3, 9, 11), generator=g) * 2 - 1
    levels = quantize_8bit(x)
    assert torch.equal(levels, torch.floor(255 * (x + 1) / 2))
    expected = ((imresize(levels.double(), 1 / 0.8) / 255).float() - 0.5) * 2
    out = imresize_8bit(x, 1 / 0.8)
    assert torch.allclose(out, expected.clamp(-1, 1), atol=1e-6)
    assert out.shape == (1, 3, 12, 14)
    # not the plain resize: truncation loses up to one 8-bit level (2/255 in [-1, 1], a little
    # more where the cubic kernel overshoots), so the result is darker on average
    plain = imresize(x, 1 / 0.8).clamp(-1, 1)
    assert 0 < (out - plain).abs().max() <= 1.25 * 2 / 255
    assert -2 / 255 < float((out - plain).mean()) < -0.5 / 255


def test_straight_through_gradient():
    x = (torch.rand(1, 3, 8, 8) * 2 - 1).requires_grad_(True)
    imresize_8bit(x, 1.25).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_flag_survives_save_and_load_and_own_models_keep_their_format(model, tmp_path):
    model.save(tmp_path / "imported")
    back = SinGANModel.load(tmp_path / "imported")
    assert back.quantize_8bit
    a, b = reconstruct(model), reconstruct(back)
    assert torch.equal(a, b)
    own = copy.copy(model)
    own.quantize_8bit = False
    own.save(tmp_path / "own")
    assert "quantize_8bit" not in (tmp_path / "own" / "singan.json").read_text()
    assert not SinGANModel.load(tmp_path / "own").quantize_8bit


def test_load_singan_node_imports_the_fixture(tmp_path):
    from nodeflow.context import RunContext

    node = LoadSinGAN(LoadSinGAN.Params(path=str(MODEL)))
    ctx = RunContext("load", "LoadSinGAN", torch.device("cpu"), seed=0, base_dir=tmp_path, output_dir=tmp_path)
    out = node.run(ctx)["model"]
    assert out.quantize_8bit and out.N == 4


def test_training_with_quantize_8bit_marks_the_model_and_uses_8bit_reals():
    from nodeflow.nodes.singan.train import make_config, train_singan

    g = torch.Generator().manual_seed(1)
    image = torch.rand((1, 3, 30, 36), generator=g)
    model = train_singan(image, make_config("faithful", iterations=1, quantize_8bit=True), seed=0)
    assert model.quantize_8bit and model.N >= 1
    levels = (model.reals[-1] + 1) / 2 * 255  # the finest real went through uint8 like the reference's
    assert torch.allclose(levels, levels.round(), atol=1e-3)
    assert float((levels.round() - torch.floor(255 * image)).abs().max()) <= 1
    plain = train_singan(image, make_config("faithful", iterations=1), seed=0)
    assert not plain.quantize_8bit
    assert not torch.allclose((plain.reals[-1] + 1) / 2 * 255, levels, atol=1e-3)
