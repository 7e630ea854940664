"""Harmonization quality figures: colour gap, subject kept, flicker, ground-truth error.

What each number answers:

- **colour gap** — does the subject's colour sit in the scene? The distance between the subject's
  CIE Lab mean (and std) and those of a ring of scene around it. The ring is always measured on
  the *naive* composite (the scene as it really is there), so a method cannot shrink the gap by
  repainting the surroundings. A subject may rightly differ from its surroundings (an orange suit
  under the scene's light stays orange): the gap is a proxy, the ground-truth error the arbiter.
- **subject kept** — is the person still recognisable? SSIM of the luminance inside the subject's
  box against the naive paste, and the correlation of their gradient magnitudes (edges kept).
- **colour kept** — is the subject still its own colours (an orange suit orange, a face skin-
  toned)? The colour gap alone rewards painting the subject in its surroundings' colours, i.e.
  erasing it (issue 10: a grey-green ghost scored as a win). Two figures inside the subject
  against the naive paste: the correlation of the CIE Lab a/b channels (each centred, so a
  global cast of the scene's light is allowed; a hue turned or replaced by the scene's pattern is
  not) and the ratio of the mean chroma (colour drained to grey or not).
- **halo** — is the scene next to the subject still the scene? Lab ΔE against the naive paste in
  the ring (the blend zone reaches into the scene; at low n SinGAN can repaint it as a haze).
- **highlights** — is the subject washed out? The share of its pixels pushed to near white (CIE L ≥
  90, where a face's detail is gone) beyond the share the colour step alone leaves (issue 10: at
  n = 1 on the past film SinGAN's light took 9 % of the astronaut, most of the face, to near white;
  the colour step 2 %, the naive paste 0.4 %).
- **light gap** — does the subject take the scene's light? The CIE L mean and std distance between
  the subject and the ring (the colour gap's lightness part alone): an orange suit may rightly stay
  orange under the scene's light, but not lit like another scene.
- **colour gap closed** (needs the truth) — of the gap the colour shift added, the share a method
  removes: ``1 − ‖g − g_truth‖ / ‖g_naive − g_truth‖`` on the Lab gap vectors g = subject − ring
  (means; and stds). Its zero is the truth's own gap, not 0: the colour gap's ideal of 0 scores a
  subject that rightly keeps its own colour as a failure and camouflage as a win (issue 10:
  ColorMatch had the best gap and the worst ground truth; rank correlation with fMSE −0.35).
- **truth-free candidates**, checked against the ground truth by the benchmark: the gap's a/b part
  (``ab_gap``), the cast of the near-neutral pixels (``cast_gap``), the distance of the subject's
  colours to the scene's (``scene_distance``); the contrast gap is ``light_gap``'s std.
- **flicker** — mean |Δ| between consecutive frames inside a region.
- **foreground MSE / PSNR** — on a composite made from a real photo (iHarmony4-style), how close a
  method brings the shifted region back to the original, on the 0–255 scale iHarmony4 reports.

Images are ``(B, 3, H, W)`` in [0, 1], masks ``(B or 1, 1, H, W)``; figures are averaged over B.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import kornia
import torch
import torch.nn.functional as F


class Box(NamedTuple):
    y0: int
    y1: int
    x0: int
    x1: int


def binary(mask: torch.Tensor) -> torch.Tensor:
    """The subject: alpha above one half (any alpha > 0 where nothing reaches one half)."""
    m = (mask > 0.5).float()
    return m if bool(m.any()) else (mask > 0).float()


def subject_box(mask: torch.Tensor, margin: float = 0.0) -> Box:
    """Bounding box of the subject over all frames, grown by ``margin`` × its size, clipped."""
    m = binary(mask).amax(dim=(0, 1))
    ys, xs = torch.nonzero(m, as_tuple=True)
    if ys.numel() == 0:  # nothing pasted: the whole frame
        return Box(0, m.shape[0], 0, m.shape[1])
    y0, y1, x0, x1 = int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1
    H, W = m.shape
    dy = max(round(margin * (y1 - y0)), (min(7, H) - (y1 - y0) + 1) // 2)  # at least 7 px for SSIM
    dx = max(round(margin * (x1 - x0)), (min(7, W) - (x1 - x0) + 1) // 2)
    return Box(max(0, y0 - dy), min(H, y1 + dy), max(0, x0 - dx), min(W, x1 + dx))


def ring_width(mask: torch.Tensor) -> int:
    """A ring a quarter of the subject's linear size wide (at least 3 px): scale-free."""
    area = float(binary(mask[:1]).sum())
    return max(3, round(0.25 * math.sqrt(area)))


def ring(mask: torch.Tensor, width: int | None = None) -> torch.Tensor:
    """Scene pixels within ``width`` px of the subject, skipping the 2 px at its edge (matte blur)."""
    m = binary(mask)
    width = width or ring_width(mask)
    near = F.max_pool2d(m, 2 * (width + 2) + 1, stride=1, padding=width + 2)
    edge = F.max_pool2d(m, 2 * 2 + 1, stride=1, padding=2)
    return (near - edge).clamp(0, 1)


def lab(rgb: torch.Tensor) -> torch.Tensor:
    """CIE Lab in its own units (L 0–100, a/b about ±100)."""
    return kornia.color.rgb_to_lab(rgb.clamp(0, 1))


def _mean_std(x: torch.Tensor, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    total = w.sum(dim=(2, 3)).clamp_min(1e-6)
    mean = (x * w).sum(dim=(2, 3)) / total
    var = ((x - mean[..., None, None]) ** 2 * w).sum(dim=(2, 3)) / total
    return mean, var.clamp_min(0).sqrt()


class ColourGap(NamedTuple):
    mean: float
    """Euclidean distance of the Lab means (ΔE-like units)."""
    std: float
    """Euclidean distance of the Lab standard deviations."""


def colour_gap(image: torch.Tensor, mask: torch.Tensor, surroundings: torch.Tensor | None = None,
               width: int | None = None) -> ColourGap:
    """Lab mean/std distance between the subject in ``image`` and the ring around it.

    ``surroundings``: the image the ring is read from (the naive composite; default ``image``).
    """
    return ColourGap(*_lab_gap(image, mask, surroundings, width, slice(None)))


def _gap_vectors(image: torch.Tensor, mask: torch.Tensor, surroundings: torch.Tensor | None, width: int | None,
                 channels: slice) -> tuple[torch.Tensor, torch.Tensor]:
    """Subject minus ring, per frame: the Lab ``channels``' means and stds, each ``(B, C)``."""
    m = binary(mask).expand(image.shape[0], -1, -1, -1)
    r = ring(mask, width).expand_as(m)
    ms, ss = _mean_std(lab(image[:, :3])[:, channels], m)
    mr, sr = _mean_std(lab((surroundings if surroundings is not None else image)[:, :3])[:, channels], r)
    return ms - mr, ss - sr


def _lab_gap(image: torch.Tensor, mask: torch.Tensor, surroundings: torch.Tensor | None, width: int | None,
             channels: slice) -> tuple[float, float]:
    """Distances of the Lab ``channels``' means and stds between the subject and the ring around it."""
    dm, ds = _gap_vectors(image, mask, surroundings, width, channels)
    return float(dm.norm(dim=1).mean()), float(ds.norm(dim=1).mean())


GAP_FLOOR = 1.0
"""Lab distance (about one just-noticeable difference) below which a shift added no gap to close."""


class GapClosed(NamedTuple):
    mean: float
    """Share of the Lab-mean gap the shift added that is removed (1 = the truth's own gap, 0 = naive's)."""
    std: float
    """The same on the Lab standard deviations (contrast per channel)."""
    size: float
    """The same on the gap's size alone, ``1 − |‖g‖ − ‖g_truth‖| / |‖g_naive‖ − ‖g_truth‖|``: blind to
    a shift that turns the gap's direction without changing its length (kept to show why not)."""


def gap_closed(image: torch.Tensor, naive: torch.Tensor, truth: torch.Tensor, mask: torch.Tensor,
               floor: float = GAP_FLOOR) -> GapClosed:
    """How much of the colour gap the shift added ``image`` removes, with the truth's own gap as the zero.

    Why: the colour gap's ideal is 0, but a subject may rightly differ from its ring (an orange suit
    stays orange); where the truth is known its own subject-to-ring gap is the right target. On the
    Lab gap *vectors* g = subject − ring (means, stds; the ring read on ``naive``, the truth's on
    ``truth``): ``1 − ‖g − g_truth‖ / ‖g_naive − g_truth‖``. Negative = further off than the naive
    paste. NaN where the shift added less than ``floor`` (nothing measurable to close); frames average.
    """
    gm, gs = _gap_vectors(image, mask, naive, None, slice(None))
    nm, ns = _gap_vectors(naive, mask, naive, None, slice(None))
    tm, ts = _gap_vectors(truth, mask, truth, None, slice(None))

    def closed(err: torch.Tensor, added: torch.Tensor) -> float:
        share = torch.where(added >= floor, 1 - err / added.clamp_min(floor), torch.full_like(added, math.nan))
        return float(share.nanmean()) if bool((added >= floor).any()) else math.nan

    size = (gm.norm(dim=1) - tm.norm(dim=1)).abs(), (nm.norm(dim=1) - tm.norm(dim=1)).abs()
    return GapClosed(closed((gm - tm).norm(dim=1), (nm - tm).norm(dim=1)),
                     closed((gs - ts).norm(dim=1), (ns - ts).norm(dim=1)), closed(*size))


NEUTRAL_SHARE = 0.25
"""The share of a region's pixels, lowest Lab chroma first, that :func:`cast_gap` reads its cast on."""


def _cast(lab_image: torch.Tensor, region: torch.Tensor, share: float) -> torch.Tensor:
    """Mean a/b ``(B, 2)`` of the ``share`` least chromatic pixels of ``region`` (its near-neutrals)."""
    out = []
    for x, r in zip(lab_image, region.expand(lab_image.shape[0], -1, -1, -1), strict=True):
        ab = x[1:, r[0] > 0.5]
        if ab.shape[1] == 0:  # an empty ring (the subject fills the frame): no cast to read
            out.append(torch.full((2,), math.nan))
            continue
        k = max(1, round(share * ab.shape[1]))
        idx = ab.norm(dim=0).topk(k, largest=False).indices
        out.append(ab[:, idx].mean(dim=1))
    return torch.stack(out)


def cast_gap(image: torch.Tensor, mask: torch.Tensor, surroundings: torch.Tensor | None = None,
             share: float = NEUTRAL_SHARE) -> float:
    """Lab a/b distance between the colour cast of the subject's near-neutral pixels and the ring's.

    Why: grey-world on the greys — a light's cast shows on what is nearly neutral, while the subject's
    own saturated colours (an orange suit) are left out; a candidate truth-free colour figure.
    """
    m = binary(mask).expand(image.shape[0], -1, -1, -1)
    r = (ring(mask) > 0.5).float().expand_as(m)
    cs = _cast(lab(image[:, :3]), m, share)
    cr = _cast(lab((surroundings if surroundings is not None else image)[:, :3]), r, share)
    return float((cs - cr).norm(dim=1).mean())


def scene_distance(image: torch.Tensor, mask: torch.Tensor, surroundings: torch.Tensor | None = None,
                   samples: int = 2048) -> float:
    """Mean Lab distance from the subject's pixels to the nearest colour of the scene outside it.

    Why: a subject lit by the scene's light should be made of colours the scene has somewhere (not
    only in the ring); a candidate truth-free figure. Both sides subsampled by a fixed stride to at
    most ``samples`` pixels (deterministic).
    """
    m = binary(mask).expand(image.shape[0], -1, -1, -1)
    li, ls = lab(image[:, :3]), lab((surroundings if surroundings is not None else image)[:, :3])
    out = []
    for x, y, s in zip(li, ls, m, strict=True):
        sub, scene = x[:, s[0] > 0.5].T, y[:, s[0] <= 0.5].T
        if sub.shape[0] == 0 or scene.shape[0] == 0:
            out.append(torch.tensor(math.nan))
            continue
        sub = sub[::max(1, sub.shape[0] // samples)]
        scene = scene[::max(1, scene.shape[0] // samples)]
        out.append(torch.cdist(sub, scene).amin(dim=1).mean())
    return float(torch.stack(out).mean())


class LightGap(NamedTuple):
    mean: float
    """|CIE L mean of the subject − the ring's| (L units)."""
    std: float
    """|CIE L std of the subject − the ring's|."""


def light_gap(image: torch.Tensor, mask: torch.Tensor, surroundings: torch.Tensor | None = None) -> LightGap:
    """The colour gap's lightness part: subject vs the ring (read on ``surroundings``, default ``image``).

    Why apart: the full Lab gap rewards painting the subject the scene's colour (ColorMatch: the best
    gap, the worst ground truth); the light a subject takes from its scene is the part that should close.
    """
    return LightGap(*_lab_gap(image, mask, surroundings, None, slice(0, 1)))


def ab_gap(image: torch.Tensor, mask: torch.Tensor, surroundings: torch.Tensor | None = None) -> float:
    """The colour gap's chromatic part: the a/b mean distance, subject vs ring (the light apart)."""
    return _lab_gap(image, mask, surroundings, None, slice(1, 3))[0]


NEAR_WHITE = 90.0
"""CIE L from which a subject's pixel counts as near white (washed out: its detail is clipped away)."""


def highlight_share(image: torch.Tensor, mask: torch.Tensor, level: float = NEAR_WHITE) -> float:
    """Share of the subject's pixels at CIE L ≥ ``level`` (0–1, averaged over frames)."""
    m = binary(mask).expand(image.shape[0], -1, -1, -1)
    hi = (lab(image[:, :3])[:, :1] >= level).float()
    return float(((hi * m).sum(dim=(1, 2, 3)) / m.sum(dim=(1, 2, 3)).clamp_min(1)).mean())


def _luma(rgb: torch.Tensor, box: Box) -> torch.Tensor:
    return kornia.color.rgb_to_grayscale(rgb[:, :3, box.y0:box.y1, box.x0:box.x1].clamp(0, 1))


def subject_ssim(image: torch.Tensor, naive: torch.Tensor, mask: torch.Tensor, window: int = 7) -> float:
    """Mean SSIM of the luminance over the subject's box (``image`` vs the naive paste)."""
    box = subject_box(mask)
    a, b = _luma(image, box), _luma(naive, box)
    win = max(3, (min(window, *a.shape[-2:]) - 1) // 2 * 2 + 1)
    return float(kornia.metrics.ssim(a, b, win, padding="same").mean())


def gradient_correlation(image: torch.Tensor, naive: torch.Tensor, mask: torch.Tensor) -> float:
    """Pearson correlation of the luminance gradient magnitudes in the subject's box: edges kept (1) or not."""
    box = subject_box(mask)
    ga = kornia.filters.sobel(_luma(image, box)).flatten(1)
    gb = kornia.filters.sobel(_luma(naive, box)).flatten(1)
    ga, gb = ga - ga.mean(dim=1, keepdim=True), gb - gb.mean(dim=1, keepdim=True)
    den = (ga.norm(dim=1) * gb.norm(dim=1)).clamp_min(1e-12)
    return float(((ga * gb).sum(dim=1) / den).mean())


def flicker(frames: torch.Tensor, region: torch.Tensor) -> float:
    """Mean |Δ| (0–1 units, averaged over channels) between consecutive frames inside ``region``."""
    d = (frames[1:, :3] - frames[:-1, :3]).abs().mean(dim=1, keepdim=True)
    r = region.expand(frames.shape[0], -1, -1, -1)
    r = torch.maximum(r[1:], r[:-1])
    return float((d * r).sum() / r.sum().clamp_min(1))


def foreground_mse(image: torch.Tensor, truth: torch.Tensor, mask: torch.Tensor) -> float:
    """iHarmony4's fMSE: squared error on the 0–255 scale, averaged over the foreground's pixels."""
    m = binary(mask).expand(image.shape[0], -1, -1, -1)
    err = ((image[:, :3] - truth[:, :3]) * 255).pow(2).mean(dim=1, keepdim=True)
    return float((err * m).sum() / m.sum().clamp_min(1))


def psnr(mse_255: float) -> float:
    return float("inf") if mse_255 <= 0 else 10 * math.log10(255.0 ** 2 / mse_255)


class ColourKept(NamedTuple):
    ab_corr: float
    """Correlation of the subject's centred Lab a/b with the naive paste's (1 = same hue pattern)."""
    chroma: float
    """The subject's mean Lab chroma relative to the naive paste's (1 = as colourful, 0 = grey)."""


CHROMA_FLOOR = 2.0
"""Lab chroma below which a subject counts as grey: its ratio is read against this floor."""


def colour_kept(image: torch.Tensor, naive: torch.Tensor, mask: torch.Tensor) -> ColourKept:
    """Are the subject's own colours still there? a/b correlation and chroma ratio vs the naive paste."""
    m = binary(mask).expand(image.shape[0], -1, -1, -1)
    total = m.sum(dim=(2, 3)).clamp_min(1)
    ab_i, ab_n = lab(image[:, :3])[:, 1:], lab(naive[:, :3])[:, 1:]

    def centred(ab: torch.Tensor) -> torch.Tensor:
        return (ab - ((ab * m).sum(dim=(2, 3)) / total)[..., None, None]) * m

    ci, cn = centred(ab_i), centred(ab_n)
    den = (ci.pow(2).sum(dim=(1, 2, 3)) * cn.pow(2).sum(dim=(1, 2, 3))).sqrt()
    corr = torch.where(den > 1e-6, (ci * cn).sum(dim=(1, 2, 3)) / den.clamp_min(1e-6), torch.ones_like(den))

    def chroma(ab: torch.Tensor) -> torch.Tensor:
        return (ab.pow(2).sum(dim=1, keepdim=True).sqrt() * m).sum(dim=(2, 3))[:, 0] / total[:, 0]

    ratio = chroma(ab_i).clamp_min(CHROMA_FLOOR) / chroma(ab_n).clamp_min(CHROMA_FLOOR)
    return ColourKept(float(corr.mean()), float(ratio.mean()))


def halo(image: torch.Tensor, naive: torch.Tensor, mask: torch.Tensor) -> float:
    """Mean Lab ΔE between ``image`` and the naive paste in the ring around the subject: how much
    of the scene next to the subject a method repainted (a haze or halo; 0 = untouched)."""
    r = ring(mask).expand(image.shape[0], -1, -1, -1)
    de = (lab(image[:, :3]) - lab(naive[:, :3])).norm(dim=1, keepdim=True)
    return float((de * r).sum() / r.sum().clamp_min(1))


class Figures(NamedTuple):
    """One method's figures on one composite."""

    gap_mean: float
    gap_std: float
    gap_rel: float
    """Mean gap relative to the naive paste's (1 = unchanged, 0 = closed)."""
    ssim: float
    grad_corr: float
    ab_corr: float = 1.0
    """Colour kept: a/b correlation with the naive paste (see :func:`colour_kept`)."""
    chroma: float = 1.0
    """Colour kept: chroma relative to the naive paste."""
    halo: float = 0.0
    """Scene kept: Lab ΔE of the ring around the subject vs the naive paste (see :func:`halo`)."""
    highlight: float = 0.0
    """Washed out: the share of the subject at near white minus the colour step's (:func:`highlight_share`)."""
    light_gap: float = math.nan
    """The subject's CIE L mean vs the ring's (:func:`light_gap`), L units."""
    light_sensitivity: float = math.nan
    """The share of a change of the subject's own light that harmonization passes through (0 = the
    scene's light decides; measured by ``harmonize.measure_scales``, NaN where not measured)."""
    singan_ssim: float = math.nan
    """SinGAN's own output vs the composite it was given, luminance SSIM in the subject's box at
    training size: does the pyramid still hold the subject (1) or draw something else there (low)?
    Measured by ``harmonize.measure_scales``, NaN where not measured."""


def figures(image: torch.Tensor, naive: torch.Tensor, mask: torch.Tensor,
            naive_gap: ColourGap | None = None, prepared: torch.Tensor | None = None) -> Figures:
    """Colour gap (absolute and relative to naive), subject-kept and colour-kept figures of ``image``.

    ``prepared``: the colour step's result alone, which ``highlight`` is counted beyond (default the
    naive paste).
    """
    base = naive_gap or colour_gap(naive, mask)
    gap = colour_gap(image, mask, surroundings=naive)
    kept = colour_kept(image, naive, mask)
    washed = highlight_share(image, mask) - highlight_share(naive if prepared is None else prepared, mask)
    return Figures(gap.mean, gap.std, gap.mean / max(base.mean, 1e-6), subject_ssim(image, naive, mask),
                   gradient_correlation(image, naive, mask), kept.ab_corr, kept.chroma, halo(image, naive, mask),
                   washed, light_gap(image, mask, surroundings=naive).mean)


__all__ = ["Box", "ColourGap", "ColourKept", "Figures", "GapClosed", "LightGap", "ab_gap", "cast_gap", "colour_gap", "colour_kept",
           "figures", "flicker", "foreground_mse", "gap_closed", "gradient_correlation", "halo", "highlight_share",
           "light_gap", "psnr", "ring", "scene_distance", "subject_box", "subject_ssim"]
