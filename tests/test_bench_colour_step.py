"""benchmarks/colour_step.py: the shades-of-gray step undoes an illuminant change exactly where the
subject shares its scene's statistics, and a quick run stores every method's figures."""

from __future__ import annotations

import json
import math
import runpy
from pathlib import Path
from types import SimpleNamespace

import torch

from nodeflow.nodes.singan.colour_prep import _to_linear, _to_srgb

ROOT = Path(__file__).resolve().parent.parent
bench = SimpleNamespace(**runpy.run_path(str(ROOT / "benchmarks" / "colour_step.py"), run_name="bench_colour_step"))


def test_shades_of_gray_undoes_a_cast_on_a_subject_like_its_scene():
    """A 4-periodic texture; the subject is an aligned 8×8 block of it under a warm light (linear-RGB
    gains): its p-norm illuminant is the scene's times those gains, so the ratio takes them back out."""
    tile = torch.rand(1, 3, 4, 4, generator=torch.Generator().manual_seed(0)) * 0.6 + 0.2
    scene = tile.repeat(1, 1, 8, 8)
    mask = torch.zeros(1, 1, 32, 32)
    mask[..., 8:16, 12:20] = 1
    gains = torch.tensor([1.3, 1.0, 0.7]).view(1, 3, 1, 1)
    comp = mask * _to_srgb(_to_linear(scene) * gains) + (1 - mask) * scene
    assert (comp - scene).abs().max() > 0.05
    out = bench.shades_of_gray(comp, mask, 1 - mask, 8)
    assert (out - scene).abs().max() < 1e-4
    light_only = bench.shades_of_gray(comp, mask, 1 - mask, 8, colour=False)
    assert (light_only - scene).abs().max() > 0.02  # the cast is the node's ring share (0.3), not undone


def test_quick_run_stores_every_method(tmp_path):
    out = tmp_path / "c.json"
    sheets = tmp_path / "sheets"
    assert bench.main(["--quick", "--scenes", "future", "--out", str(out), "--sheets", str(sheets)]) == 0
    assert (sheets / "real_future.png").exists() and len(list(sheets.glob("gt_*.png"))) == 6
    stored = json.loads(out.read_text())
    methods = set(bench.steps())
    assert set(stored["summary"]) == methods
    naive = stored["summary"]["naive"]
    assert naive["cases"] == 6 and naive["closed_in_place"] == 0 and naive["fmse_in_place"] > 0
    step = stored["summary"]["Harmonize colour step"]
    assert step["fmse_in_place"] != naive["fmse_in_place"] and not math.isnan(step["closed_in_place"])
    real = stored["scenes"]["future"]["real"]
    assert len(real) == len(bench.H.SUBJECTS)
    measured = [r for r in real.values() if not math.isnan(r["naive"]["subject"]["dL"])]  # toy GrabCut: some empty
    assert measured and all(r["naive"]["subject"] == {"dL": 0.0, "da": 0.0, "db": 0.0} for r in measured)
    assert all(r["Harmonize colour step"]["subject"]["dL"] != 0 for r in measured)
