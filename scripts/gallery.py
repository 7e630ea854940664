"""Regenerate the README gallery from real outputs: naive | harmonized | relight alone | auto without the ninth
wave's guard; all-scales sheet.

Runs each demo graph (graphs/past_film.json, graphs/future_film.json) for its first frame only,
through the Python API, with the sinks removed (the demo's own out/ files are not touched) and the
Harmonize node's annotated all-scales sheet switched on. Models come from the disk cache when
the demo already ran (same content hash), else they are trained (minutes). Writes small PNGs to
docs/gallery/:

    .venv/bin/python scripts/gallery.py            # or: bash scripts/gallery.sh
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from nodeflow.graph import Graph  # noqa: E402
from nodeflow.image_files import write_image  # noqa: E402
from nodeflow.nodes.singan.colour_prep import relight_to_surroundings  # noqa: E402
from nodeflow.nodes.singan.harmonize import contact_sheet  # noqa: E402

GALLERY = ROOT / "docs" / "gallery"
WITHOUT_GUARD = {"min_singan_ssim": 0.0}
"""Harmonize's defaults with ``auto``'s rule before the guard on SinGAN's own output (issue 10, ninth wave):
an n may be chosen where SinGAN drew the scene in the subject's place (n = 1 on the night film)."""


def fit(image: torch.Tensor, width: int) -> torch.Tensor:
    """Resize ``(1, 3, h, w)`` to ``width`` px wide (keeps the aspect)."""
    h, w = image.shape[-2:]
    size = (max(1, round(h * width / w)), width)
    return F.interpolate(image[:1, :3], size=size, mode="bicubic", align_corners=False, antialias=True).clamp(0, 1)


def render(name: str, device: str, width: int) -> list[Path]:
    g = Graph.load(ROOT / "graphs" / f"{name}.json")
    for node_id in list(g.spec.nodes):
        if g.node_class(node_id).sink:
            g.remove(node_id)
    g.spec.outputs.clear()
    g.set("harmonize", all_scales=True)
    g.output("naive", g.node("paste").image)
    g.output("paste_mask", g.node("paste").mask)
    g.output("harmonized", g.node("harmonize").image)
    g.output("sheet", g.node("harmonize").all_scales)
    g.output("n", g.node("harmonize").scale)
    out = g.run(outputs=["naive", "paste_mask", "harmonized", "sheet", "n"], frames=range(1), device=device)
    n = out["n"][0] if isinstance(out["n"], list) else out["n"]  # per-frame outputs come back per batch
    g.set("harmonize", all_scales=False, **WITHOUT_GUARD)
    old = g.run(outputs=["harmonized", "n"], frames=range(1), device=device)
    n_old = old["n"][0] if isinstance(old["n"], list) else old["n"]
    relit = relight_to_surroundings(out["naive"][:1, :3], out["paste_mask"][:1], strength=0.7, cast=0.3)
    pair = contact_sheet([fit(out["naive"], width), fit(out["harmonized"], width), fit(relit, width),
                          fit(old["harmonized"], width)],
                         ["naive paste", f"harmonized (n = {n})", "relight, cast 0.3 alone (no SinGAN)",
                          f"auto without the SinGAN-kept guard (n = {n_old})"], columns=2)
    GALLERY.mkdir(parents=True, exist_ok=True)
    paths = [GALLERY / f"{name}_pair.png", GALLERY / f"{name}_scales.png"]
    write_image(pair, paths[0])
    sheet = out["sheet"][:1, :3]
    write_image(fit(sheet, min(sheet.shape[-1], 1000)), paths[1])
    return paths


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--graphs", nargs="+", default=["past_film", "future_film"])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--width", type=int, default=384, help="width of each frame in the pair")
    args = ap.parse_args(argv)
    for name in args.graphs:
        for path in render(name, args.device, args.width):
            print(path.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
