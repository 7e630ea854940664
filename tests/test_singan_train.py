"""SinGAN training on tiny images: end to end, determinism, resume, formats, reference import."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import pytest
import torch

from nodeflow.checkpoint import UnsafeCheckpointError
from nodeflow.errors import NodeError
from nodeflow.nodes.singan.generate import reconstruct, rmse
from nodeflow.nodes.singan.handle import SinGANModel
from nodeflow.nodes.singan.harmonize import harmonize
from nodeflow.nodes.singan.networks import Generator, block_widths, init_weights
from nodeflow.nodes.singan.reference import import_reference
from nodeflow.nodes.singan.train import TrainProgress, make_config, train_singan


def tiny_image(h: int = 24, w: int = 32) -> torch.Tensor:
    """A structured tiny scene (smooth gradients + a few blobs), (1, 3, h, w) in [0, 1]."""
    yy, xx = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    img = torch.stack([xx, yy, 0.5 + 0.5 * torch.sin(6 * xx) * torch.cos(5 * yy)])
    img[:, h // 3:h // 2, w // 4:w // 2] = torch.tensor([0.9, 0.2, 0.1]).view(3, 1, 1)
    return img[None].clamp(0, 1)


def tiny_config(preset: str = "faithful", iterations: int = 6, **kw):
    return make_config(preset, iterations=iterations, min_size=12, max_size=32,
                       **kw)


def test_tiny_image_trains_and_reconstruction_improves_scale_by_scale():
    model = train_singan(tiny_image(), tiny_config(iterations=12), seed=0)
    assert model.num_scales == 5 and model.N == 4
    assert model.sizes[-1] == (24, 32)
    chain = model.meta["rmse_at_finest_per_scale"]
    assert len(chain) == model.num_scales
    # each scale's reconstruction, resized to the finest size, is closer to the image than the one below
    assert all(b < a for a, b in itertools.pairwise(chain)), chain
    rec = reconstruct(model)
    assert isinstance(rec, torch.Tensor) and rec.shape == (1, 3, 24, 32)
    assert rmse(rec, model.reals[-1]) == pytest.approx(model.meta["rmse"], rel=1e-5)
    assert model.noise_amp[0] == 1.0 and all(0 < a < 1 for a in model.noise_amp[1:])


def test_fast_preset_trains():
    model = train_singan(tiny_image(), tiny_config("fast", iterations=6), seed=0)
    assert model.meta["config"]["preset"] == "fast"
    assert model.meta["rmse"] < 0.6


@pytest.mark.parametrize("concurrent", [2, 3])
def test_concurrent_stages_train_the_lower_ones_too(concurrent: int):
    cfg = tiny_config(iterations=3, concurrent=concurrent, rec_steps=1)
    a = train_singan(tiny_image(), cfg, seed=0)
    b = train_singan(tiny_image(), tiny_config(iterations=3, rec_steps=1), seed=0)
    # scale 0 kept training while scale 1 (… and 2) trained: its weights differ from a 1-stage run
    assert not torch.equal(a.generators[0].head.conv.weight, b.generators[0].head.conv.weight)
    assert a.num_scales == b.num_scales and a.meta["rmse"] < 0.6


def test_same_seed_same_model_other_seed_other_model():
    a = train_singan(tiny_image(), tiny_config(iterations=3), seed=7)
    b = train_singan(tiny_image(), tiny_config(iterations=3), seed=7)
    c = train_singan(tiny_image(), tiny_config(iterations=3), seed=8)
    ra, rb, rc = reconstruct(a), reconstruct(b), reconstruct(c)
    assert torch.equal(ra, rb)
    assert not torch.equal(ra, rc)
    for ga, gb in zip(a.generators, b.generators, strict=True):
        for (n, ta), (_, tb) in zip(ga.state_dict().items(), gb.state_dict().items(), strict=True):
            assert torch.equal(ta, tb), n


class Interrupt(Exception):
    pass


@pytest.mark.parametrize("preset", ["faithful", "fast"])
def test_resume_after_interruption_equals_uninterrupted_run(tmp_path: Path, preset: str):
    cfg = tiny_config(preset, iterations=4)
    full_dir, part_dir = tmp_path / "full", tmp_path / "part"
    full = train_singan(tiny_image(), cfg, seed=3, checkpoint_dir=full_dir)

    def stop_at_scale_2(p: TrainProgress) -> None:
        if p.scale == 2:
            raise Interrupt
    with pytest.raises(Interrupt):
        train_singan(tiny_image(), cfg, seed=3, checkpoint_dir=part_dir, progress=stop_at_scale_2)
    assert sorted(p.name for p in part_dir.glob("scale_*")) == ["scale_00.safetensors", "scale_01.safetensors"]

    seen: list[str] = []
    resumed = train_singan(tiny_image(), cfg, seed=3, checkpoint_dir=part_dir,
                           progress=lambda p: seen.append(p.message))
    assert seen[0].startswith("scale 2/")  # nothing before scale 2 was trained again
    assert resumed.num_scales == full.num_scales
    assert sorted(p.name for p in part_dir.iterdir()) == sorted(p.name for p in full_dir.iterdir())
    assert torch.equal(reconstruct(resumed), reconstruct(full))


def test_model_save_load_round_trip_is_weights_only(tmp_path: Path):
    model = train_singan(tiny_image(), tiny_config(iterations=2), seed=0)
    model.save(tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["singan.json", "singan.safetensors"]
    back = SinGANModel.load(tmp_path / "m")
    assert back.sizes == model.sizes and back.noise_amp == model.noise_amp
    assert back.scale_factor == model.scale_factor
    assert torch.equal(reconstruct(back), reconstruct(model))


def test_model_moves_to_a_device_in_place():
    model = train_singan(tiny_image(), tiny_config(iterations=1), seed=0)
    moved = model.to("meta")
    assert moved is model
    tensors = [*model.reals, *(z for z in model.z_rec if z is not None),
               *(p for g in model.generators if g is not None for p in g.parameters())]
    assert {t.device.type for t in tensors} == {"meta"}


def test_first_scale_trains_only_the_upper_scales(tmp_path: Path):
    model = train_singan(tiny_image(), tiny_config(iterations=4, first_scale=2), seed=0)
    assert model.generators[0] is None and model.generators[1] is None
    assert model.generators[2] is not None and model.first_scale == 2
    assert model.meta["seconds_per_scale"][:2] == [None, None]
    assert reconstruct(model).shape == (1, 3, 24, 32)
    # harmonization from n ≥ 2 works, below it is refused with a hint
    comp, mask = tiny_image(), torch.zeros(1, 1, 24, 32)
    mask[..., 8:14, 8:14] = 1
    out = harmonize(model, comp, mask, 2, generator=torch.Generator().manual_seed(0)).image
    assert out.shape == comp.shape
    with pytest.raises(NodeError, match="out of range 2…4"):
        harmonize(model, comp, mask, 1, generator=torch.Generator())
    model.save(tmp_path / "m")
    assert SinGANModel.load(tmp_path / "m").generators[1] is None


# -- reference import --------------------------------------------------------------------------


def make_reference_folder(root: Path, sizes: list[tuple[int, int]], pickled_amp: bool = False) -> Path:
    """A synthetic TrainedModels/<name>/scale_factor=…/ folder, saved as the reference does."""
    folder = root / "TrainedModels" / "tiny" / "scale_factor=0.750000,alpha=10"
    gen = torch.Generator().manual_seed(0)
    zs, reals, amps, modules = [], [], [], []
    for k, (h, w) in enumerate(sizes):
        g = Generator(block_widths(32, 32))
        init_weights(g, gen)
        g.eval()
        (folder / str(k)).mkdir(parents=True)
        torch.save(g.state_dict(), folder / str(k) / "netG.pth")
        modules.append(g)
        zs.append(torch.randn(1, 3, h + 10, w + 10, generator=gen) if k == 0 else torch.zeros(1, 3, h + 10, w + 10))
        reals.append(torch.rand(1, 3, h, w, generator=gen) * 2 - 1)
        amps.append(1 if k == 0 else torch.tensor(0.05 * k))
    torch.save(zs, folder / "Zs.pth")
    torch.save(reals, folder / "reals.pth")
    torch.save(amps if not pickled_amp else [*amps, Path("not a tensor")], folder / "NoiseAmp.pth")
    torch.save(modules, folder / "Gs.pth")  # pickled modules: must never be opened
    return folder


REF_SIZES = [(12, 18), (15, 22), (18, 27), (22, 33), (27, 40), (32, 48)]  # reference pyramid of 32×48, min 12


def test_reference_folder_import(tmp_path: Path):
    folder = make_reference_folder(tmp_path, REF_SIZES)
    (folder / "Gs.pth").write_bytes(b"not even a pickle")  # proves it is never read
    model = import_reference(folder.parent, min_size=12)  # the parent of one scale_factor=… folder works too
    assert model.sizes == REF_SIZES and model.N == 5
    assert model.noise_amp == pytest.approx([1.0, 0.05, 0.1, 0.15, 0.2, 0.25])
    # the re-fitted factor is the reference's and reproduces every stored size from the finest one
    r = model.scale_factor
    assert r == pytest.approx((12 / 32) ** (1 / 5), abs=1e-12)
    assert all((math.ceil(32 * r ** (5 - i)), math.ceil(48 * r ** (5 - i))) == s for i, s in enumerate(REF_SIZES))
    state = torch.load(folder / "3" / "netG.pth", weights_only=True)
    assert all(torch.equal(state[n], t) for n, t in model.generators[3].state_dict().items())
    # generation with the imported pyramid runs like our own
    rec = reconstruct(model)
    assert isinstance(rec, torch.Tensor) and rec.shape == (1, 3, 32, 48)
    # and it can be re-saved in our format
    model.save(tmp_path / "ours")
    assert torch.equal(reconstruct(SinGANModel.load(tmp_path / "ours")), rec)


def test_reference_import_refuses_pickled_objects(tmp_path: Path):
    folder = make_reference_folder(tmp_path, REF_SIZES, pickled_amp=True)
    with pytest.raises(UnsafeCheckpointError):
        import_reference(folder)


def test_reference_matches_our_generation_of_the_same_weights(tmp_path: Path):
    model = train_singan(tiny_image(), tiny_config(iterations=2), seed=1)
    folder = tmp_path / "TrainedModels" / "x" / "scale_factor=0.750000,alpha=10"
    for k, g in enumerate(model.generators):
        (folder / str(k)).mkdir(parents=True)
        torch.save(g.state_dict(), folder / str(k) / "netG.pth")
    torch.save(model.z_rec, folder / "Zs.pth")
    torch.save(model.reals, folder / "reals.pth")
    torch.save([model.noise_amp[0], *[torch.tensor(a) for a in model.noise_amp[1:]]], folder / "NoiseAmp.pth")
    imported = import_reference(folder, min_size=12)
    assert imported.scale_factor == pytest.approx(model.scale_factor, abs=1e-12)
    assert imported.quantize_8bit  # imported models resize through 8 bits, as the reference does
    imported.quantize_8bit = False  # the same weights through full-precision resizes: our generation
    assert torch.allclose(reconstruct(imported), reconstruct(model), atol=1e-6)
