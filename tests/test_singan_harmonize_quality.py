"""Harmonization quality (issue 10): the metrics, local colour first, mask sized to the subject,
scale auto and its annotated sheet, and the harmonization training mode."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import kornia
import pytest
import torch
from test_singan_nodes import TENSORS, registry, tiny_scene

from nodeflow.graph import Graph
from nodeflow.nodes.singan import SinGANModel, quality
from nodeflow.nodes.singan.augment import augment_scene
from nodeflow.nodes.singan.colour_prep import match_to_surroundings, relight_to_surroundings
from nodeflow.nodes.singan.harmonize import (
    ScaleResult,
    blur,
    choose_scale,
    harmonize,
    light_field,
    light_sensitivity,
    matched_grain,
    measure_scales,
    prepare_colour,
    scales_sheet,
    valid_scales,
)
from nodeflow.nodes.singan.imresize import resize_to
from nodeflow.nodes.singan.train import make_config, train_singan


def grey_with_patch(colour=(0.9, 0.2, 0.1), size: int = 48, patch: int = 12) -> tuple[torch.Tensor, torch.Tensor]:
    """A textured grey frame with a coloured square pasted in the middle, and its mask."""
    g = torch.Generator().manual_seed(0)
    img = (0.5 + 0.05 * torch.randn(1, 3, size, size, generator=g)).clamp(0, 1)
    mask = torch.zeros(1, 1, size, size)
    a = (size - patch) // 2
    mask[..., a:a + patch, a:a + patch] = 1
    texture = 0.1 * torch.randn(1, 1, size, size, generator=g)
    patched = (torch.tensor(colour).view(1, 3, 1, 1) + texture).clamp(0, 1)
    return mask * patched + (1 - mask) * img, mask


# -- metrics ---------------------------------------------------------------------------------------


def test_colour_gap_is_large_for_a_clash_and_small_when_the_colours_agree():
    clash, mask = grey_with_patch((0.9, 0.2, 0.1))
    agree, _ = grey_with_patch((0.5, 0.5, 0.5))
    big, small = quality.colour_gap(clash, mask), quality.colour_gap(agree, mask)
    assert big.mean > 30 and small.mean < 3
    assert quality.figures(clash, clash, mask).gap_rel == pytest.approx(1.0)
    # the ring is read from the surroundings given (the naive paste), not from the image judged
    repainted = torch.where(mask.bool(), clash, torch.tensor([0.9, 0.2, 0.1]).view(1, 3, 1, 1))
    assert quality.colour_gap(repainted, mask, surroundings=clash).mean == pytest.approx(big.mean, rel=1e-4)


def test_ring_surrounds_the_subject_and_scales_with_it():
    _, small = grey_with_patch(patch=16, size=64)
    _, large = grey_with_patch(patch=32, size=64)
    for mask in (small, large):
        r = quality.ring(mask)
        assert r.sum() > 0 and (r * mask).sum() == 0
    assert quality.ring_width(large) == 2 * quality.ring_width(small)


def test_subject_kept_figures():
    img, mask = grey_with_patch()
    assert quality.subject_ssim(img, img, mask) == pytest.approx(1.0, abs=1e-5)
    assert quality.gradient_correlation(img, img, mask) == pytest.approx(1.0, abs=1e-5)
    flat = torch.where(mask.bool(), img.mean(dim=(2, 3), keepdim=True), img)
    assert quality.subject_ssim(flat, img, mask) < 0.5
    assert quality.gradient_correlation(flat, img, mask) < 0.5
    darker = img * 0.5
    assert quality.gradient_correlation(darker, img, mask) == pytest.approx(1.0, abs=1e-4)  # edges kept


def test_flicker_and_foreground_error():
    img, mask = grey_with_patch()
    still = img.expand(4, -1, -1, -1)
    assert quality.flicker(still, mask) == 0
    moving = torch.cat([img, img.roll(1, -1), img.roll(2, -1)])
    assert quality.flicker(moving, mask) > 0.01
    off = (img + 10 / 255).clamp(0, 1)
    inside = quality.binary(mask).bool().expand_as(img)
    expected = float((((off - img) * 255) ** 2)[inside].mean())
    assert quality.foreground_mse(off, img, mask) == pytest.approx(expected, rel=1e-4)
    assert quality.psnr(100.0) == pytest.approx(10 * math.log10(255 ** 2 / 100))


def lab_shifted(img: torch.Tensor, mask: torch.Tensor, shift=(0.0, 0.0, 0.0), contrast: float = 1.0) -> torch.Tensor:
    """``img`` with the subject's Lab moved by ``shift`` and its Lab deviations scaled by ``contrast``."""
    lab = quality.lab(img)
    m = mask.bool().expand_as(lab)
    mean = (lab * mask).sum(dim=(2, 3), keepdim=True) / mask.sum()
    moved = mean + contrast * (lab - mean) + torch.tensor(shift).view(1, 3, 1, 1)
    return torch.where(m, kornia.color.lab_to_rgb(moved), img)


def test_gap_closed_is_the_share_of_the_shifts_gap_removed():
    truth, mask = grey_with_patch((0.7, 0.45, 0.3), patch=16)  # an orange subject: its own gap to the ring
    naive = lab_shifted(truth, mask, (-6.0, 5.0, 8.0), contrast=1.2)  # the paste's foreign light (in gamut)
    half = lab_shifted(truth, mask, (-3.0, 2.5, 4.0), contrast=1.1)  # half of it undone
    assert quality.gap_closed(naive, naive, truth, mask).mean == pytest.approx(0.0, abs=1e-6)
    closed = quality.gap_closed(half, naive, truth, mask)
    assert closed.mean == pytest.approx(0.5, abs=0.03) and closed.std == pytest.approx(0.5, abs=0.05)
    worse = lab_shifted(truth, mask, (-12.0, 10.0, 16.0), contrast=1.2)
    assert -1.05 < quality.gap_closed(worse, naive, truth, mask).mean < -0.7  # twice as far (-1 but for the gamut)


def test_gap_closed_counts_a_subject_that_keeps_its_own_colour_as_closed():
    truth, mask = grey_with_patch((0.75, 0.4, 0.2), patch=16)  # an orange suit on grey
    naive = lab_shifted(truth, mask, (8.0, 6.0, 10.0))  # pasted warmer and brighter than the scene warrants
    closed = quality.gap_closed(truth, naive, truth, mask)
    assert closed.mean == pytest.approx(1.0, abs=1e-6) and closed.std == pytest.approx(1.0, abs=1e-6)
    # the old gap calls the right answer unharmonized (not 50 % smaller than the naive paste's)
    old = quality.colour_gap(truth, mask, surroundings=naive).mean / quality.colour_gap(naive, mask).mean
    assert old > 0.6
    # and it calls camouflage (the suit painted the ring's grey, its texture kept) a near-perfect win
    grey = lab_shifted(truth, mask, tuple(float(v) for v in
                       (quality.lab(truth) * quality.ring(mask)).sum(dim=(2, 3))[0] / quality.ring(mask).sum()
                       - (quality.lab(truth) * mask).sum(dim=(2, 3))[0] / mask.sum()))
    assert quality.colour_gap(grey, mask, surroundings=naive).mean < 0.1 * quality.colour_gap(naive, mask).mean
    assert quality.gap_closed(grey, naive, truth, mask).mean < 0  # further from the truth than the paste


def test_gap_closed_is_undefined_where_the_shift_added_no_gap():
    truth, mask = grey_with_patch((0.7, 0.45, 0.3), patch=16)
    tiny = lab_shifted(truth, mask, (0.3, 0.2, 0.0))  # below a just-noticeable difference
    closed = quality.gap_closed(truth, tiny, truth, mask)
    assert math.isnan(closed.mean) and math.isnan(closed.std) and math.isnan(closed.size)
    # the gap's size alone is blind to a gap turned round (same length, other side): the vectors see it
    a = float(quality.lab(truth)[0, 1][mask[0, 0].bool()].mean() - quality.lab(truth)[0, 1][quality.ring(mask)[0, 0].bool()].mean())
    turned = lab_shifted(truth, mask, (0.0, -2 * a, 0.0))
    closed = quality.gap_closed(truth, turned, truth, mask)
    assert closed.mean == pytest.approx(1.0, abs=1e-6)
    assert quality.gap_closed(turned, turned, truth, mask).mean == 0.0
    assert abs(quality.colour_gap(turned, mask).mean - quality.colour_gap(truth, mask).mean) < 2.0


def test_truth_free_colour_candidates():
    img, mask = grey_with_patch((0.5, 0.5, 0.5), patch=16)
    half = torch.zeros_like(mask)
    half[..., :, :24] = 1  # the subject's left half orange, the right half grey like the scene
    own = torch.where((mask * half).bool(), torch.tensor([0.8, 0.4, 0.1]).view(1, 3, 1, 1), img)
    assert quality.cast_gap(own, mask) < 2.0 < 20 < quality.colour_gap(own, mask).mean  # own colour: no cast
    warm = torch.where(mask.bool(), own * torch.tensor([1.2, 1.0, 0.75]).view(1, 3, 1, 1), own)
    assert quality.cast_gap(warm, mask) > 8.0  # the greys took a warm light
    assert quality.ab_gap(img * torch.where(mask.bool(), 0.6, 1.0), mask) < 1.0  # light only, no colour
    assert quality.light_gap(img * torch.where(mask.bool(), 0.6, 1.0), mask).mean > 10
    assert quality.scene_distance(img, mask) < 5.0 < 15 < quality.scene_distance(own, mask)
    scene_has_it = torch.where(mask.roll(20, -1).bool(), own.roll(20, -1), own)  # the orange elsewhere too
    assert quality.scene_distance(scene_has_it, mask) < 5.0


# -- colour first ----------------------------------------------------------------------------------


def test_local_colour_match_closes_the_gap_and_leaves_the_scene_alone():
    clash, mask = grey_with_patch()
    out = match_to_surroundings(clash, mask)
    assert quality.colour_gap(out, mask, surroundings=clash).mean < 0.1 * quality.colour_gap(clash, mask).mean
    outside = (mask == 0).expand_as(clash)
    assert torch.equal(out[outside], clash[outside])
    half = match_to_surroundings(clash, mask, strength=0.5)
    gap_half = quality.colour_gap(half, mask, surroundings=clash).mean
    assert quality.colour_gap(out, mask, surroundings=clash).mean < gap_half < quality.colour_gap(clash, mask).mean
    assert torch.equal(match_to_surroundings(clash, mask, strength=0.0), clash)


# -- harmonize options -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def model() -> SinGANModel:
    return train_singan(tiny_scene(), make_config("faithful", iterations=4, min_size=12, max_size=32), seed=0)


def square(size: int, h: int = 48, w: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    scene = torch.nn.functional.interpolate(tiny_scene(), size=(h, w), mode="bilinear")
    mask = torch.zeros(1, 1, h, w)
    mask[..., 10:10 + size, 20:20 + size] = 1
    comp = torch.where(mask.bool(), torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1), scene)
    return comp, mask


def test_mask_sized_to_the_subject_grows_with_it_training_units_do_not(model: SinGANModel):
    def extent(size: int, **kw) -> float:
        comp, mask = square(size)
        res = harmonize(model, comp, mask, 2, generator=torch.Generator().manual_seed(0), **kw)
        return float((res.mask > 0).sum() - (mask > 0).sum())

    rel = {"mask_units": "subject", "radius": 0.3, "sigma": 0.2}
    px = {"mask_units": "training", "radius": 2, "sigma": 1.0}
    # relative: the blend zone grows with the subject's area; in training pixels only with its perimeter
    assert extent(24, **rel) / extent(8, **rel) > 2 * extent(24, **px) / extent(8, **px)


def test_local_colour_harmonize_keeps_the_scene_bit_identical(model: SinGANModel):
    comp, mask = square(12)
    res = harmonize(model, comp, mask, 2, generator=torch.Generator().manual_seed(0), colour="local",
                    mask_units="subject", radius=0.1, sigma=0.08, upsample="detail")
    outside = (res.mask == 0).expand_as(comp)
    assert outside.any() and torch.equal(res.image[outside], comp[outside])
    plain = harmonize(model, comp, mask, 2, generator=torch.Generator().manual_seed(0), mask_units="subject",
                      radius=0.1, sigma=0.08, upsample="detail")
    gap = quality.colour_gap
    assert gap(res.image, mask, surroundings=comp).mean < 0.6 * gap(plain.image, mask, surroundings=comp).mean


def _figures(gap: float, ssim: float, ab_corr: float = 1.0, chroma: float = 1.0, halo: float = 0.0,
             highlight: float = 0.0, sensitivity: float = math.nan, singan: float = math.nan) -> quality.Figures:
    return quality.Figures(gap, 0.0, gap, ssim, 1.0, ab_corr, chroma, halo, highlight,
                           light_sensitivity=sensitivity, singan_ssim=singan)


def test_choose_scale_takes_the_strongest_n_that_keeps_the_subject():
    img = torch.zeros(1, 3, 4, 4)
    measured = {1: ScaleResult(img, _figures(0.1, 0.3)), 2: ScaleResult(img, _figures(0.4, 0.75)),
                3: ScaleResult(img, _figures(0.6, 0.9)), 4: ScaleResult(img, _figures(0.9, 0.99))}
    assert choose_scale(measured, 0.7) == 2
    assert choose_scale(measured, 0.95) == 4
    assert choose_scale(measured, 0.999) == 4  # none keeps it: the one that keeps it best
    assert choose_scale(measured, 0.0) == 1
    assert choose_scale(measured) == 3  # the default: SSIM ≥ 0.85


def test_colour_kept_sees_a_subject_painted_in_the_scenes_colours():
    comp, mask = grey_with_patch((0.9, 0.5, 0.2))
    comp[..., 18:24, 18:30] = torch.tensor([0.2, 0.4, 0.9]).view(1, 3, 1, 1)  # a blue badge on the orange suit
    inside = mask.bool().expand_as(comp)
    ghost = comp.clone()
    ghost[inside] = torch.roll(comp, 20, dims=-1)[inside]  # the subject redrawn as the scene's grey texture
    cast = comp.clone()
    cast[inside] = (comp[inside] * torch.tensor([0.8, 0.9, 1.1]).view(1, 3, 1, 1).expand_as(comp)[inside])
    cast = cast.clamp(0, 1)
    f_ghost, f_cast = quality.figures(ghost, comp, mask), quality.figures(cast, comp, mask)
    assert f_ghost.gap_rel < 0.25  # the colour gap calls the erased subject a success...
    assert f_ghost.chroma < 0.3 and f_ghost.ab_corr < 0.5  # ...colour kept does not
    assert f_cast.ab_corr > 0.95 and f_cast.chroma > 0.6  # a cast of the scene's light keeps the subject
    same = quality.colour_kept(comp, comp, mask)
    assert same.ab_corr == pytest.approx(1.0) and same.chroma == pytest.approx(1.0)


def test_choose_scale_rejects_an_n_that_loses_the_subjects_colours():
    img = torch.zeros(1, 3, 4, 4)
    measured = {1: ScaleResult(img, _figures(0.2, 0.9, ab_corr=0.7)), 2: ScaleResult(img, _figures(0.3, 0.9, chroma=0.3)),
                3: ScaleResult(img, _figures(0.6, 0.9, ab_corr=0.98, chroma=0.8)),
                4: ScaleResult(img, _figures(0.9, 0.95))}
    assert choose_scale(measured, 0.7) == 3
    assert choose_scale(measured, 0.7, min_colour=0.5, min_chroma=0.0) == 1  # SSIM alone: the ghost
    lost = {1: ScaleResult(img, _figures(0.2, 0.9, ab_corr=0.5)), 2: ScaleResult(img, _figures(0.3, 0.9, ab_corr=0.8))}
    assert choose_scale(lost, 0.7) == 2  # none keeps it: the closest
    hazy = {1: ScaleResult(img, _figures(0.2, 0.9, halo=8.0)), 2: ScaleResult(img, _figures(0.5, 0.9, halo=1.5))}
    assert choose_scale(hazy, 0.7) == 2 and choose_scale(hazy, 0.7, max_halo=10) == 1


def test_halo_measures_the_scene_repainted_around_the_subject():
    comp, mask = grey_with_patch()
    assert quality.halo(comp, comp, mask) == 0
    hazy = comp + 0.15 * (quality.ring(mask) > 0).float() * torch.tensor([0.0, 0.3, 1.0]).view(1, 3, 1, 1)
    assert quality.halo(hazy.clamp(0, 1), comp, mask) > 5
    inside_only = torch.where(mask.bool(), 1 - comp, comp)  # the subject changed, the scene not
    assert quality.halo(inside_only, comp, mask) == 0


def test_keep_colour_keeps_the_subjects_hues_through_singans_change(model: SinGANModel):
    comp, mask = square(16)
    comp = comp.clone()
    comp[..., 14:22, 20:36] = torch.tensor([0.1, 0.3, 0.9]).view(1, 3, 1, 1)  # a blue band on the subject
    common = {"mask_units": "subject", "radius": 0.1, "sigma": 0.08, "upsample": "structure", "colour": "light",
              "colour_strength": 0.7}

    def run(**kw):
        return harmonize(model, comp, mask, 1, generator=torch.Generator().manual_seed(0), **common, **kw)

    plain, kept = run(), run(keep_colour=0.9)
    assert torch.equal(run(keep_colour=0.0).image, plain.image)  # 0: the previous (and reference) processing
    outside = (kept.mask == 0).expand_as(comp)
    assert outside.any() and torch.equal(kept.image[outside], comp[outside])
    f_plain, f_kept = quality.colour_kept(plain.image, comp, mask), quality.colour_kept(kept.image, comp, mask)
    assert f_kept.ab_corr > f_plain.ab_corr and f_kept.ab_corr > 0.95
    lum = quality.lab(kept.image)[:, :1] - quality.lab(plain.image)[:, :1]
    # The lightness (SinGAN's light and grain) is what stays, but gamut clipping moves some: bounded
    # against the change keep_colour must not undo (naive vs plain: 5.2 L here, kept vs plain 0.61 L;
    # an absolute 0.5 held on one CPU and not on another, whose tiny model trains slightly apart)
    undo = (quality.lab(comp)[:, :1] - quality.lab(plain.image)[:, :1]).abs().mean()
    assert float(lum.abs().mean()) < 0.25 * float(undo)


def test_relight_cast_takes_the_brightness_and_only_part_of_the_colour_cast():
    skin, mask = grey_with_patch((0.85, 0.6, 0.5))
    night = torch.where(mask.bool(), skin, torch.tensor([0.05, 0.08, 0.3]).view(1, 3, 1, 1))
    full = relight_to_surroundings(night, mask, strength=0.7)
    part = relight_to_surroundings(night, mask, strength=0.7, cast=0.3)
    assert torch.equal(relight_to_surroundings(night, mask, strength=0.7, cast=1.0), full)
    m = mask[:, 0].bool()

    def hue_ab(x):
        a, b = quality.lab(x)[:, 1][m].mean(), quality.lab(x)[:, 2][m].mean()
        return float(a), float(b)

    b_full, b_part = hue_ab(full)[1], hue_ab(part)[1]
    assert b_full < -20 and b_part > b_full + 25  # the full gains turn warm skin deep blue; cast 0.3 far less
    y = quality.lab(part)[:, 0][m].mean()
    assert abs(float(y - quality.lab(full)[:, 0][m].mean())) < 8  # both take the scene's darkness
    assert float(y) < float(quality.lab(night)[:, 0][m].mean()) - 10


def test_scale_auto_node_reports_the_chosen_n_and_an_annotated_sheet(model: SinGANModel, tmp_path: Path):
    comp, mask = square(12)
    folder = tmp_path / "model"
    model.save(folder)
    TENSORS["q_comp"], TENSORS["q_mask"] = comp, mask
    g = Graph(registry=registry(), base_dir=tmp_path)
    m = g.add("LoadSinGAN", id="model", path="model")
    c = g.add("Tensor", id="comp", key="q_comp")
    k = g.add("Tensor", id="mask", key="q_mask")
    h = g.add("Harmonize", id="harm", model=m.model, composite=c.image, mask=k.mask, scale="auto",
              all_scales=True, min_ssim=0.5)
    g.output("image", h.image)
    g.output("sheet", h.all_scales)
    g.output("n", h.scale)
    out = g.run(device="cpu")
    options = {"colour": "light", "colour_strength": 0.7, "colour_contrast": 0.3, "mask_units": "subject",
               "radius": 0.1, "sigma": 0.08, "upsample": "field", "texture": 0.3, "keep_colour": 1.0,
               "keep_colour_mean": 1.0, "colour_cast": 0.3, "colour_light": 0.5, "field_size": 1.0,
               "feather": 0.0, "grain": 0.0}  # the node's defaults
    measured = measure_scales(model, comp, mask, seed=0, **options)
    n = choose_scale(measured, 0.5)
    assert out["n"] == n and n in valid_scales(model)
    assert torch.allclose(out["image"], measured[n].image, atol=1e-6)
    sheet = out["sheet"]
    tiles = 1 + len(valid_scales(model))  # the naive paste, then every n
    assert sheet.shape[-2] >= 256 + 14  # a size a person can judge (the subject's crop enlarged)
    assert torch.equal(sheet, scales_sheet(comp, mask, measured, n))
    assert tiles <= 4 or sheet.shape[-2] > 2 * 256


# -- harmonization training mode -------------------------------------------------------------------


def test_augmented_scene_has_foreign_regions_and_is_deterministic():
    real = tiny_scene(40, 48) * 2 - 1
    a, b, c = augment_scene(real, 1), augment_scene(real, 1), augment_scene(real, 2)
    assert torch.equal(a, b) and not torch.equal(a, c)
    changed = (a - real).abs().amax(dim=1) > 1e-6
    assert 0.005 < float(changed.float().mean()) < 0.9  # some regions, not the whole scene
    assert a.min() >= -1 and a.max() <= 1


def test_harmonize_mode_config_and_training():
    cfg = make_config("fast", "harmonize")
    fast = make_config("fast")
    assert cfg.harmonize_steps == 3 and cfg.rec_steps == 3 and fast.rec_steps == 6  # same cost per iteration
    assert make_config("fast", "harmonize", harmonize_steps=1).harmonize_steps == 1
    # standard-mode cache keys ignore the new fields (models trained before keep their keys)
    assert fast.fingerprint() == replace(fast, harmonize_weight=5.0).fingerprint() != cfg.fingerprint()
    with pytest.raises(ValueError, match="mode"):
        make_config("fast", "bogus")
    small = {"iterations": 3, "min_size": 12, "max_size": 28}
    plain = train_singan(tiny_scene(), make_config("fast", **small), seed=0)
    harm = train_singan(tiny_scene(), make_config("fast", "harmonize", **small), seed=0)
    assert harm.meta["config"]["harmonize_steps"] == 3
    w_plain = plain.generators[-1].state_dict()
    w_harm = harm.generators[-1].state_dict()
    assert any(not torch.equal(w_plain[k], w_harm[k]) for k in w_plain)


def test_structure_upsample_keeps_the_subjects_detail(model: SinGANModel):
    comp, mask = square(16)
    comp = comp.clone()
    comp[..., 10:26:2, 20:36] = 0.2  # stripes: fine detail inside the subject
    common = {"generator": None, "mask_units": "subject", "radius": 0.1, "sigma": 0.08}

    def run(upsample: str, **kw) -> torch.Tensor:
        common["generator"] = torch.Generator().manual_seed(0)
        return harmonize(model, comp, mask, 1, upsample=upsample, **common, **kw).image

    detail, structure = run("detail"), run("structure", texture=0.0)
    assert quality.gradient_correlation(structure, comp, mask) > quality.gradient_correlation(detail, comp, mask)
    assert quality.subject_ssim(structure, comp, mask) > quality.subject_ssim(detail, comp, mask)
    textured = run("structure", texture=1.0)
    assert torch.allclose(textured, detail, atol=1e-5)  # texture 1 keeps the whole change: detail mode


def test_relight_takes_part_of_the_scenes_light_and_keeps_the_subjects_hues():
    warm, mask = grey_with_patch((0.9, 0.5, 0.3))
    dark_blue = torch.where(mask.bool(), warm, torch.tensor([0.1, 0.15, 0.35]).view(1, 3, 1, 1))
    lit = relight_to_surroundings(dark_blue, mask, strength=0.7)
    before = quality.colour_gap(dark_blue, mask).mean
    assert quality.colour_gap(lit, mask, surroundings=dark_blue).mean < 0.7 * before
    inside = mask.bool().expand_as(lit)
    assert lit[inside].mean() < dark_blue[inside].mean()  # darker, as under the scene's light
    r, b = lit[:, 0][mask[:, 0].bool()].mean(), lit[:, 2][mask[:, 0].bool()].mean()
    assert r / b > 0.1 / 0.35  # warmer than its blue surroundings: part of its own colour stays
    assert quality.gradient_correlation(lit, dark_blue, mask) > 0.95  # its texture is only re-lit
    assert torch.equal(lit[~inside], dark_blue[~inside])
    assert torch.equal(relight_to_surroundings(dark_blue, mask, strength=0.0), dark_blue)


def test_relight_per_shot_does_not_follow_a_moving_background(model: SinGANModel, tmp_path: Path):
    comp, mask = square(16)
    comp = comp.clone()
    comp[..., 10:26, 20:36] = torch.tensor([0.9, 0.6, 0.5]).view(1, 3, 1, 1)  # a skin-toned subject
    stripes = (torch.arange(64) % 8 < 4).float().view(1, 1, 1, -1) * torch.tensor([0.6, 0.3, 0.1]).view(1, 3, 1, 1)
    clip = torch.cat([torch.where(mask.bool(), comp, 0.2 + torch.roll(stripes, 2 * t, dims=-1)) for t in range(4)])
    folder = tmp_path / "model"
    model.save(folder)
    TENSORS["f_clip"], TENSORS["f_mask"] = clip, mask
    subject = quality.binary(mask)
    flicker = {}
    for per in ("shot", "frame"):
        g = Graph(registry=registry(), base_dir=tmp_path)
        m = g.add("LoadSinGAN", id="model", path="model")
        c = g.add("Tensor", id="comp", key="f_clip")
        k = g.add("Tensor", id="mask", key="f_mask")
        h = g.add("Harmonize", id="harm", model=m.model, composite=c.image, mask=k.mask, scale=model.N,
                  relight_per=per, keep_colour=0.0, texture=0.0, change_per="frame")
        g.output("image", h.image)
        flicker[per] = quality.flicker(g.run(device="cpu")["image"], subject)
    assert flicker["frame"] > 0.005  # the ring's light changes frame by frame, and so does the subject
    assert flicker["shot"] < 0.5 * flicker["frame"]


def test_change_per_shot_keeps_a_still_subject_still_over_a_moving_background(model: SinGANModel, tmp_path: Path):
    comp, mask = square(16)
    stripes = (torch.arange(64) % 8 < 4).float().view(1, 1, 1, -1) * torch.tensor([0.6, 0.3, 0.1]).view(1, 3, 1, 1)
    clip = torch.cat([torch.where(mask.bool(), comp, 0.2 + torch.roll(stripes, 2 * t, dims=-1)) for t in range(4)])
    moving = torch.cat([torch.roll(mask, t, dims=-1) for t in range(4)])
    folder = tmp_path / "model"
    model.save(folder)
    TENSORS["s_clip"], TENSORS["s_mask"], TENSORS["s_moving"] = clip, mask, moving
    out = {}
    for per in ("shot", "frame"):
        for key in ("s_mask", "s_moving"):
            g = Graph(registry=registry(), base_dir=tmp_path)
            m = g.add("LoadSinGAN", id="model", path="model")
            c = g.add("Tensor", id="comp", key="s_clip")
            k = g.add("Tensor", id="mask", key=key)
            h = g.add("Harmonize", id="harm", model=m.model, composite=c.image, mask=k.mask, scale=1, change_per=per)
            g.output("image", h.image)
            g.output("soft", h.mask)
            out[per, key] = g.run(device="cpu")
    shot, frame = out["shot", "s_mask"], out["frame", "s_mask"]
    assert torch.allclose(shot["image"][:1], frame["image"][:1], atol=1e-5)  # the first frame is the same
    subject = quality.binary(mask)
    assert quality.flicker(frame["image"], subject) > 1e-3  # per frame, SinGAN's change follows the background
    assert quality.flicker(shot["image"], subject) < 1e-6  # the subject stays put, and so does its harmonization
    region = (shot["soft"] > 0).float()
    assert quality.flicker(shot["image"], region) <= quality.flicker(clip, region) + 1e-6
    assert torch.equal(out["shot", "s_moving"]["image"], out["frame", "s_moving"]["image"])  # a moving subject: per frame


# -- upsample field: smooth light/colour fields, a thin feather, matched grain, a partial relight -----


def textured_subject(size: int = 64, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A skin-toned disc with fine stripes (its detail) on a grey scene, and its mask."""
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    mask = (((yy - size / 2) ** 2 + (xx - size / 2) ** 2) < (size / 4) ** 2).float()[None, None]
    stripes = 0.15 * (xx % 4 < 2).float()[None, None]
    skin = (torch.tensor([0.8, 0.55, 0.45]).view(1, 3, 1, 1) - stripes).clamp(0, 1)
    scene = (0.4 + 0.02 * torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(seed))).clamp(0, 1)
    return torch.where(mask.bool(), skin, scene), mask


def high_pass(x: torch.Tensor) -> torch.Tensor:
    return x - blur(x, 1.5)


def test_light_field_takes_the_targets_light_and_keeps_the_sources_detail():
    comp, mask = textured_subject()
    g = torch.Generator().manual_seed(1)
    blotches = blur(torch.rand(1, 3, 64, 64, generator=g), 2.0)  # SinGAN's redrawn blotches and new detail
    target = (0.6 * blur(comp, 3.0) + 0.3 * (blotches - blotches.mean()) + 0.1).clamp(0, 1)
    gain, offset = light_field(comp, target, mask, sigma=6.0)
    out = gain * comp + offset
    m = mask.bool().expand_as(comp)
    corr = torch.corrcoef(torch.stack([high_pass(out)[m], high_pass(comp)[m]]))[0, 1]
    assert corr > 0.97  # the subject's own stripes, not the target's blotches
    assert abs(float(out[m].mean() - target[m].mean())) < 0.02  # the target's light and colour
    assert abs(float(out[m].mean() - comp[m].mean())) > 0.1
    far = blur(mask, 6.0) <= 1e-3
    assert bool(far.any()) and torch.equal(gain[far], torch.ones_like(gain[far]))  # identity far away


def test_field_upsample_reaches_the_scene_only_in_a_thin_feather(model: SinGANModel):
    comp, mask = square(16)
    kw = {"generator": None, "mask_units": "subject", "radius": 0.1, "sigma": 0.08}
    res = {}
    for up in ("field", "structure"):
        kw["generator"] = torch.Generator().manual_seed(0)
        res[up] = harmonize(model, comp, mask, 1, upsample=up, feather=0.1, **kw)
    field = res["field"]
    changed = (field.image != comp).any(dim=1, keepdim=True)
    assert bool((changed & mask.bool()).any())
    reach = torch.nn.functional.max_pool2d(mask, 2 * 3 + 1, stride=1, padding=3)  # 1.5 × feather (1.6 px) + 1
    assert not bool((changed & (reach == 0)).any())  # beyond the feather: bit-identical to the composite
    assert bool((field.mask > 0).sum() < (res["structure"].mask > 0).sum())  # thinner than the soft-mask zone
    assert torch.equal(field.image[(field.mask == 0).expand_as(comp)], comp[(field.mask == 0).expand_as(comp)])
    hard = harmonize(model, comp, mask, 1, upsample="field", feather=0.0, generator=torch.Generator().manual_seed(0),
                     mask_units="subject")
    assert not bool(((hard.image != comp).any(dim=1, keepdim=True) & ~mask.bool()).any())  # 0: the alpha only


def test_field_upsample_keeps_the_subjects_detail_and_changes_its_light(model: SinGANModel):
    comp, mask = textured_subject(64)
    out = {}
    for up in ("field", "detail"):
        out[up] = harmonize(model, comp, mask, model.N - 1, upsample=up, generator=torch.Generator().manual_seed(0),
                            mask_units="subject", radius=0.1, sigma=0.08, field_size=0.5).image
    m = mask.bool().expand_as(comp)

    def kept(x: torch.Tensor) -> float:
        return float(torch.corrcoef(torch.stack([high_pass(x)[m], high_pass(comp)[m]]))[0, 1])

    assert kept(out["field"]) > 0.95 and kept(out["field"]) > kept(out["detail"])  # the stripes, not redrawn ones
    assert float((out["field"] - comp)[m].abs().mean()) > 0.01  # it did change the subject's light and colour
    assert torch.equal(out["field"][~m], comp[~m])  # feather 0: only the paste's alpha changes


def test_matched_grain_gives_a_clean_subject_the_scenes_grain_and_a_busy_one_none():
    comp, mask = textured_subject()
    noisy = comp + (1 - mask) * 0.08 * torch.randn(comp.shape, generator=torch.Generator().manual_seed(2))
    clean = torch.where(mask.bool(), torch.full_like(comp, 0.6), noisy)
    g1, g2 = (matched_grain(clean, noisy, mask, 1.0, torch.Generator().manual_seed(0)) for _ in range(2))
    assert torch.equal(g1, g2)  # seeded
    level = float(g1[mask.bool()].std())
    ring_level = float(high_pass(noisy.mean(dim=1, keepdim=True))[quality.ring(mask).bool()].std())
    assert 0.5 * ring_level < level < 1.5 * ring_level
    busy = torch.where(mask.bool(), 0.5 + 0.3 * torch.randn(comp.shape, generator=torch.Generator().manual_seed(3)),
                       noisy).clamp(0, 1)
    assert float(matched_grain(busy, noisy, mask, 1.0, torch.Generator().manual_seed(0)).abs().max()) == 0


def test_partial_light_keeps_a_lit_subject_off_a_dark_rings_level():
    skin, mask = grey_with_patch((0.85, 0.6, 0.5))
    night = torch.where(mask.bool(), skin, torch.tensor([0.02, 0.03, 0.08]).view(1, 3, 1, 1))
    m = mask[:, 0].bool()

    def lightness(x: torch.Tensor) -> float:
        return float(quality.lab(x)[:, 0][m].mean())

    full = relight_to_surroundings(night, mask, strength=0.7, cast=0.3)
    part = relight_to_surroundings(night, mask, strength=0.7, cast=0.3, light=0.3)
    assert torch.equal(relight_to_surroundings(night, mask, strength=0.7, cast=0.3, light=None), full)
    y_ring = float(quality.lab(night)[:, 0][quality.ring(mask)[:, 0].bool()].mean())
    assert y_ring < lightness(full) < lightness(part) < lightness(night)  # darker, but not the sky's darkness
    y = torch.tensor([0.2126, 0.7152, 0.0722]).view(1, 3, 1, 1)

    def luminance(x: torch.Tensor, region: torch.Tensor) -> float:
        linear = torch.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)
        return float((linear * y).sum(1, keepdim=True)[region.bool()].mean())

    inside, ring = quality.binary(mask), quality.ring(mask)
    taken = luminance(part, inside) / luminance(night, inside)
    assert taken == pytest.approx((luminance(night, ring) / luminance(night, inside)) ** 0.3, rel=0.15)


def test_highlight_share_sees_a_face_washed_to_white_beyond_the_colour_step():
    face, mask = grey_with_patch((0.85, 0.7, 0.6))  # a lit face: L ≈ 77, its texture around that
    lit = torch.where(mask.bool(), (face * 1.05).clamp(0, 1), face)  # the colour step: a little more light
    washed = torch.where(mask.bool(), (face * 1.3).clamp(0, 1), face)  # SinGAN's n = 1 light on the past film
    share = quality.highlight_share
    assert share(face, mask) < 0.05 and share(washed, mask) > 0.5
    f = quality.figures(washed, face, mask, prepared=lit)
    assert f.highlight == pytest.approx(share(washed, mask) - share(lit, mask))
    assert quality.figures(lit, face, mask, prepared=lit).highlight == 0
    assert quality.figures(face, face, mask).highlight == 0  # default: counted beyond the naive paste
    assert quality.light_gap(face, mask).mean > quality.light_gap(torch.full_like(face, 0.75), mask).mean


def test_choose_scale_refuses_an_n_that_washes_the_subject_out():
    """The past film (issue 10): n = 1 kept SSIM and colour but took the face to white; auto took it."""
    img = torch.zeros(1, 3, 4, 4)
    measured = {1: ScaleResult(img, _figures(0.67, 0.90, highlight=0.067)),
                2: ScaleResult(img, _figures(0.96, 0.99, highlight=-0.015)),
                3: ScaleResult(img, _figures(0.80, 0.97, highlight=0.009))}
    assert choose_scale(measured) == 2  # no light sensitivity measured: the smallest n that keeps it
    assert choose_scale(measured, max_highlight=1.0) == 1  # the rule before the guard
    washed = {1: ScaleResult(img, _figures(0.5, 0.9, highlight=0.3)), 2: ScaleResult(img, _figures(0.6, 0.9, highlight=0.1))}
    assert choose_scale(washed) == 2  # none passes: the least washed out


def test_auto_measures_highlights_beyond_the_colour_step(model: SinGANModel):
    comp, mask = grey_with_patch((0.9, 0.75, 0.65), size=48, patch=16)
    options = {"colour": "light", "colour_strength": 0.7, "colour_cast": 0.3, "colour_light": 0.5,
               "mask_units": "subject", "radius": 0.1, "sigma": 0.08, "upsample": "field", "keep_colour": 1.0}
    measured = measure_scales(model, comp, mask, seed=0, **options)
    prepared = prepare_colour(comp, mask, **options)
    for r in measured.values():
        expected = quality.highlight_share(r.image, mask) - quality.highlight_share(prepared, mask)
        assert r.figures.highlight == pytest.approx(expected)


def test_light_sensitivity_is_how_much_of_the_subjects_own_light_passes_through():
    comp, mask = grey_with_patch((0.6, 0.45, 0.4))
    probes = torch.cat([torch.where(mask.bool(), comp * g, comp) for g in (0.6, 1.4)])
    sens = light_sensitivity
    assert sens(comp, comp, probes, probes, mask) == pytest.approx(1.0, abs=1e-4)  # passed through
    assert sens(comp, comp, probes, comp.expand_as(probes), mask) == 0  # the scene's light whatever came in
    half = torch.where(mask.bool(), (comp + probes) / 2, probes)
    assert 0.3 < sens(comp, comp, probes, half, mask) < 0.7


def test_choose_scale_takes_the_n_whose_light_follows_the_scene():
    """The past film (issue 10, measured): n = 1 washes the face out, n = 2 only undoes the colour step
    (its light follows the photo's: 0.42), n = 3–5 take the scene's light (0.31–0.38)."""
    img = torch.zeros(1, 3, 4, 4)
    figures = {1: (0.90, 0.067, 0.58), 2: (0.99, -0.015, 0.42), 3: (0.97, 0.009, 0.38), 4: (0.96, 0.016, 0.31),
               5: (0.97, 0.006, 0.33)}
    measured = {n: ScaleResult(img, _figures(0.8, ssim, highlight=hi, sensitivity=s))
                for n, (ssim, hi, s) in figures.items()}
    assert choose_scale(measured) == 3  # within 0.1 of the least (n = 4): the smallest such n
    assert choose_scale(measured, light_tolerance=0.0) == 4
    assert choose_scale(measured, light_tolerance=10.0) == 2  # highlight guard alone
    assert choose_scale(measured, max_highlight=1.0, light_tolerance=10.0) == 1  # the rule before (washed out)
    night = {1: ScaleResult(img, _figures(0.8, 0.99, sensitivity=0.16)), 2: ScaleResult(img, _figures(0.8, 0.99, sensitivity=0.30))}
    assert choose_scale(night) == 1  # the future film: n = 1 stays


def test_measure_scales_reports_a_light_sensitivity_per_n(model: SinGANModel):
    comp, mask = grey_with_patch((0.8, 0.5, 0.3), size=48, patch=16)
    options = {"colour": "light", "colour_strength": 0.7, "colour_cast": 0.3, "colour_light": 0.5,
               "mask_units": "subject", "radius": 0.1, "sigma": 0.08, "upsample": "field", "keep_colour": 1.0}
    a = measure_scales(model, comp, mask, seed=0, **options)
    b = measure_scales(model, comp, mask, seed=0, **options)
    for n in a:
        s = a[n].figures.light_sensitivity
        assert 0 <= s < 1.5 and s == b[n].figures.light_sensitivity  # measured, deterministic
        # the colour step alone takes colour_light = 0.5 of the ring's brightness ratio: part of the light stays
        assert s > 0.05


def test_choose_scale_can_refuse_an_n_where_singan_drew_something_else():
    """The fair set's rocket (issue 10, ninth wave): at n = 1 SinGAN, never having seen the rocket, draws
    the night sky in its place (its own output's SSIM with what it was given 0.32-0.49); the light
    fields then carry the sky's light, which the light sensitivity reads as the strongest harmonization."""
    img = torch.zeros(1, 3, 4, 4)
    figures = {1: (0.10, 0.49), 2: (0.30, 0.59), 3: (0.31, 0.74), 4: (0.36, 0.85)}
    measured = {n: ScaleResult(img, _figures(0.8, 0.99, sensitivity=s, singan=k)) for n, (s, k) in figures.items()}
    assert choose_scale(measured) == 3  # the default guard, 0.7
    assert choose_scale(measured, min_singan_ssim=0.0) == 1  # off: the light sensitivity alone
    assert choose_scale(measured, min_singan_ssim=0.9) == 4  # none keeps it: the closest
    unmeasured = {n: ScaleResult(img, _figures(0.8, 0.99, sensitivity=s)) for n, (s, _k) in figures.items()}
    assert choose_scale(unmeasured, min_singan_ssim=0.7) == 1  # not measured: no guard


def test_measure_scales_reports_how_much_of_the_subject_singan_itself_kept(model: SinGANModel):
    comp, mask = grey_with_patch((0.8, 0.5, 0.3), size=48, patch=16)
    options = {"colour": "light", "colour_strength": 0.7, "colour_cast": 0.3, "colour_light": 0.5,
               "mask_units": "subject", "radius": 0.1, "sigma": 0.08, "upsample": "field", "keep_colour": 1.0}
    measured = measure_scales(model, comp, mask, seed=0, **options)
    size = model.sizes[-1]
    given = resize_to(prepare_colour(comp, mask, **options), size)
    for n, r in measured.items():
        g = torch.Generator()
        g.manual_seed(0)
        generated = harmonize(model, comp, mask, n, generator=g, **options).generated
        expected = quality.subject_ssim(generated, given, resize_to(mask, size))
        assert r.figures.singan_ssim == pytest.approx(expected, abs=1e-6)
        assert -1 <= r.figures.singan_ssim <= 1
    # the finest n changes least of what it was given
    assert measured[max(measured)].figures.singan_ssim > measured[min(measured)].figures.singan_ssim
