"""The colour step alone (no SinGAN): Harmonize's re-light vs classical colour constancy (issue 10).

Harmonize re-lights the subject before SinGAN (``colour: light``: von Kries gains from the mean
of a ring of scene around it). On the fair ground truth (``benchmarks/harmonize.py --unseen``)
that step alone scored a lower fMSE than the whole node, so the colour step decides much of the
figures. This benchmark measures colour steps alone, quickly (no model, about 30 s on 2 cores),
on the harmonization benchmark's own ground-truth cases (``past``, ``future``, ``face``; in place
and moved) and shows them on its real-task composites (the pasted astronaut and cat), where no
truth exists and a person judges:

- ``naive``; ``ColorMatch mean/std`` (the classical baseline, Lab, reference = outside the mask);
- ``relight`` (ring, strength 0.7, full cast: ``harmonize.py``'s "relight alone");
- ``Harmonize colour step``: the node's own colour step with its default params (what SinGAN gets);
- **shades of gray** (Finlayson & Trezzi 2004, colour constancy): the illuminant of the subject and
  of the scene (the frame outside the subject, and outside the original object in the moved cases,
  which would leak the truth) estimated as the Minkowski p-norm of their linear RGB, and the
  subject multiplied by their ratio (von Kries). ``full``: colour and brightness; ``light``: the
  brightness of that ratio only, the colour cast taken from the ring as the node does (0.3 of it).

Figures: fMSE (0–255²) and the colour gap closed (``quality.gap_closed``) per case, their means in
place / moved; on the real task the subject's mean change vs the naive paste in CIE L and in a/b
(negative a: toward green) over the subject and over its head (top 30 % of its box), which is where
a person sees a greened or washed-out face. Sheets: ``out/bench_colour_step/`` (real task and each
ground-truth case).

    python benchmarks/colour_step.py                 # table + benchmarks/results/colour_step.json
    python benchmarks/colour_step.py --quick         # toy sizes (smoke test; JSON under out/)
    python benchmarks/colour_step.py --table         # the stored table
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nodeflow.atomic import write_json_atomic  # noqa: E402
from nodeflow.image_files import write_image  # noqa: E402
from nodeflow.nodes.singan import quality  # noqa: E402
from nodeflow.nodes.singan.colour_prep import (  # noqa: E402
    LUMA,
    _to_linear,
    apply_gains,
    relight_gains,
    relight_to_surroundings,
)
from nodeflow.nodes.singan.harmonize import contact_sheet, prepare_colour  # noqa: E402
from nodeflow.nodes.singan.nodes import Harmonize  # noqa: E402


def _harmonize_bench():
    """benchmarks/harmonize.py: its cases, composites and figures are this benchmark's (one definition)."""
    spec = importlib.util.spec_from_file_location("bench_harmonize", ROOT / "benchmarks" / "harmonize.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


H = _harmonize_bench()
RESULTS = ROOT / "benchmarks" / "results" / "colour_step.json"
SHEETS = ROOT / "out" / "bench_colour_step"
SCENES = ("past", "future", "face")
P_NORMS = (6, 8, 12)
HEAD = 0.3
"""The head: this top share of the subject's box (the real task's subjects stand upright)."""

Step = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
"""(composite (1, 3, H, W), subject mask (1, 1, H, W), scene region (1, 1, H, W)) -> the recoloured composite."""


def illuminant(rgb: torch.Tensor, region: torch.Tensor, p: float) -> torch.Tensor:
    """Shades-of-gray illuminant estimate ``(B, 3, 1, 1)``: the p-norm of ``region``'s linear RGB
    (p = 1: grey world, p → ∞: white patch)."""
    lin = _to_linear(rgb.clamp(0, 1))
    w = region.expand_as(lin[:, :1])
    total = w.sum(dim=(2, 3), keepdim=True).clamp_min(1e-6)
    return ((lin ** p * w).sum(dim=(2, 3), keepdim=True) / total) ** (1 / p)


def shades_of_gray(rgb: torch.Tensor, mask: torch.Tensor, scene: torch.Tensor, p: float, *,
                   colour: bool = True) -> torch.Tensor:
    """The subject re-lit by the ratio of the scene's illuminant to its own (von Kries). ``colour``
    False: only that ratio's brightness, the colour cast from the ring as Harmonize takes it."""
    own, lit = illuminant(rgb, quality.binary(mask), p), illuminant(rgb, scene, p)
    if colour:
        return apply_gains(rgb, mask, lit.clamp_min(1e-4) / own.clamp_min(1e-4))
    y = LUMA.to(rgb)
    bright = (lit * y).sum(dim=1, keepdim=True) / (own * y).sum(dim=1, keepdim=True).clamp_min(1e-4)
    params = Harmonize.Params()
    cast = relight_gains(rgb, mask, strength=params.colour_strength, cast=params.colour_cast, light=0.0)
    return apply_gains(rgb, mask, bright * cast)


def node_colour_step(rgb: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Harmonize's colour step with the node's default params (what its SinGAN stage is given)."""
    p = Harmonize.Params()
    return prepare_colour(rgb, mask, colour=p.colour, colour_strength=p.colour_strength,
                          colour_contrast=p.colour_contrast, colour_cast=p.colour_cast, colour_light=p.colour_light)


def steps() -> dict[str, Step]:
    out: dict[str, Step] = {
        "naive": lambda c, m, s: c,
        "ColorMatch mean/std": lambda c, m, s: H.colour_match(c, m, "mean_std"),
        "relight": lambda c, m, s: relight_to_surroundings(c, m, strength=0.7),
        "Harmonize colour step": lambda c, m, s: node_colour_step(c, m),
    }
    for p in P_NORMS:
        out[f"shades of gray p{p} full"] = lambda c, m, s, p=p: shades_of_gray(c, m, s, p)
        out[f"shades of gray p{p} light"] = lambda c, m, s, p=p: shades_of_gray(c, m, s, p, colour=False)
    return out


def head_region(mask: torch.Tensor) -> torch.Tensor:
    """The subject's pixels in the top :data:`HEAD` of its box."""
    box = quality.subject_box(mask)
    head = torch.zeros_like(mask)
    head[..., box.y0:box.y0 + max(1, round(HEAD * (box.y1 - box.y0))), :] = 1
    return quality.binary(mask) * head


def lab_change(image: torch.Tensor, naive: torch.Tensor, region: torch.Tensor) -> dict[str, float]:
    """Mean CIE L, a, b of ``image`` minus the naive paste's over ``region``."""
    w = region[:, 0] > 0.5
    d = (quality.lab(image) - quality.lab(naive))[:, :, w[0]].mean(dim=2)[0]
    return {"dL": float(d[0]), "da": float(d[1]), "db": float(d[2])}


def run_scene(name: str, quick: bool, sheets: Path) -> dict[str, Any]:
    inp = H.build_inputs(name, quick)
    scene = inp["scene"][:, :3]
    original = quality.binary(inp["gt_mask"])
    methods = steps()
    out: dict[str, Any] = {"ground_truth": {}, "real": {}}
    for case, comp, truth, where in H.gt_cases(name, scene, inp["gt_mask"], inp["coffee"][:, :3]):
        around = (1 - torch.maximum(quality.binary(where), original))  # the scene, never the object itself
        rows, pics = {}, {"truth": truth}
        for label, step in methods.items():
            img = step(comp[:, :3], where, around)
            closed = quality.gap_closed(img, comp[:, :3], truth, where)
            rows[label] = {"fmse": quality.foreground_mse(img, truth, where), "gap_closed": closed.mean}
            pics[label] = img
        out["ground_truth"][case] = rows
        write_image(contact_sheet([H.quality_crop(p, where) for p in pics.values()], list(pics), columns=4),
                    sheets / f"gt_{case.replace('/', '_').replace('-', '_')}.png")
    tiles, labels = [], []
    for i in range(len(H.SUBJECTS) if name not in H.GT_ONLY else 0):
        comp, mask = inp[f"comp{i}"][:, :3], inp[f"mask{i}"]
        full = mask.expand(1, 1, *comp.shape[-2:])
        rows = {}
        for label, step in methods.items():
            img = step(comp, full, 1 - quality.binary(full))
            rows[label] = {"subject": lab_change(img, comp, quality.binary(full)),
                           "head": lab_change(img, comp, head_region(full))}
            tiles.append(H.quality_crop(img, full))
            labels.append(f"{name} {i} {label}")
        out["real"][f"{name}/{i}"] = rows
    if tiles:
        width = max(t.shape[-1] for t in tiles)
        tiles = [F.pad(t, (0, width - t.shape[-1])) for t in tiles]
        write_image(contact_sheet(tiles, labels, columns=len(methods)), sheets / f"real_{name}.png")
    return out


def summary(results: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Per method: mean fMSE and colour gap closed in place / moved over every stored scene's cases."""
    gt = {c: r for s in results["scenes"].values() for c, r in s["ground_truth"].items()}
    out: dict[str, dict[str, float]] = {}
    for method in next(iter(gt.values())):
        place = [r[method] for c, r in gt.items() if "moved" not in c]
        moved = [r[method] for c, r in gt.items() if "moved" in c]
        out[method] = {"fmse_in_place": H._mean([r["fmse"] for r in place]),
                       "fmse_moved": H._mean([r["fmse"] for r in moved]),
                       "closed_in_place": H._mean([r["gap_closed"] for r in place]),
                       "closed_moved": H._mean([r["gap_closed"] for r in moved]),
                       "cases": len(place) + len(moved)}
    return out


def table(results: dict[str, Any]) -> str:
    lines = [f"ground truth ({', '.join(results['scenes'])}), means in place / moved:",
             f"{'method':28s} {'fMSE':>15s} {'gap closed':>15s}"]
    for method, s in summary(results).items():
        lines.append(f"{method:28s} {s['fmse_in_place']:7.0f} {s['fmse_moved']:7.0f} "
                     f"{100 * s['closed_in_place']:6.0f} % {100 * s['closed_moved']:4.0f} %")
    real = {k: v for s in results["scenes"].values() for k, v in s["real"].items()}
    if real:
        lines.append("real task: the subject's / its head's change vs the naive paste (CIE L; a: − = greener):")
        lines.append(f"{'method':28s} " + " ".join(f"{k:>22s}" for k in real))
        for method in next(iter(real.values())):
            lines.append(f"{method:28s} " + " ".join(
                f"L{v[method]['subject']['dL']:+5.1f} a{v[method]['subject']['da']:+5.1f}"
                f" hd a{v[method]['head']['da']:+5.1f}" for v in real.values()))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="toy sizes (a smoke test; JSON and sheets under out/)")
    ap.add_argument("--scenes", nargs="+", default=list(SCENES), choices=SCENES)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--sheets", type=Path, default=None, help=f"folder for the sheets (default {SHEETS})")
    ap.add_argument("--table", action="store_true", help="print the stored table only")
    args = ap.parse_args(argv)
    path = args.out or (SHEETS.with_name("colour_step_quick.json") if args.quick else RESULTS)
    if args.table:
        print(table(json.loads(path.read_text())))
        return 0
    sheets = args.sheets or (SHEETS.with_name("bench_colour_step_quick") if args.quick else SHEETS)
    sheets.mkdir(parents=True, exist_ok=True)
    results = {"scenes": {name: run_scene(name, args.quick, sheets) for name in args.scenes}}
    results["summary"] = summary(results)
    write_json_atomic(path, results, indent=1)
    print(table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
