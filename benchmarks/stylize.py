"""Does the stylizer's output read as the style while keeping the scene? Measured on held-out pictures.

The demo's painting domain is OpenCV's ``cv2.stylization`` of photos (``graphs/assets/make_training_data.py``),
so a held-out photo has a known "true painting": the filter applied to it. For each input:

- content kept: SSIM of the luminance and SSIM of Sobel edge maps, output vs input (1 = identical),
  next to the true painting's own luminance SSIM (what the filter itself keeps);
- colour statistics: distance of the output's Lab mean + std to the painting domain's (all of
  ``trainB``), next to the input's own distance (lower = moved toward the style);
- toward the true painting: mean |Δ| (RGB, 0-255) to ``cv2.stylization(input)``, output vs input.

    python benchmarks/stylize.py                                  # the shipped demo stylizer
    python benchmarks/stylize.py --model path/to/latest_net_G.pth --grid out/stylize_grid.png
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.colorize import _tensor, fit, shown_path  # noqa: E402
from nodeflow.atomic import write_json_atomic  # noqa: E402
from nodeflow.nodes.cyclegan.loading import load_cyclegan  # noqa: E402
from nodeflow.nodes.gan.inference import run_generator  # noqa: E402
from nodeflow.nodes.gan.lab import rgb_to_lab_norm  # noqa: E402
from nodeflow.types import luminance  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "stylize.json"
DEMO_MODEL = ROOT / "graphs" / "assets" / "stylizer"


def held_out() -> dict[str, torch.Tensor]:
    from skimage import data

    return {"chelsea": fit(_tensor(data.chelsea()), 192),
            "motorcycle_left": fit(_tensor(data.stereo_motorcycle()[0]), 192),
            "coins_as_rgb": fit(_tensor(np.repeat(data.coins()[..., None], 3, -1)), 192)}


def true_painting(rgb: torch.Tensor) -> torch.Tensor:
    import cv2

    arr = (rgb[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    out = cv2.cvtColor(cv2.stylization(cv2.cvtColor(arr, cv2.COLOR_RGB2BGR), sigma_s=60, sigma_r=0.45),
                       cv2.COLOR_BGR2RGB)
    return _tensor(out)


def lab_stats(rgb: torch.Tensor) -> torch.Tensor:
    """Lab mean and std (6 numbers, CIE units) over all pixels of ``(B, 3, H, W)``."""
    l_norm, ab = rgb_to_lab_norm(rgb)
    lab = torch.cat([(l_norm + 1) * 50, ab * 110], 1).permute(1, 0, 2, 3).reshape(3, -1)
    return torch.cat([lab.mean(1), lab.std(1)])


def domain_stats(folder: Path) -> torch.Tensor:
    from PIL import Image

    pixels = [_tensor(np.asarray(Image.open(p).convert("RGB"))).reshape(1, 3, 1, -1)
              for p in sorted(folder.glob("*.png"))]
    return lab_stats(torch.cat(pixels, dim=-1))


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    from skimage.metrics import structural_similarity

    return float(structural_similarity(a, b, data_range=max(float(b.max() - b.min()), 1e-6)))


def edges(y: torch.Tensor) -> np.ndarray:
    import kornia

    return kornia.filters.sobel(y)[0, 0].numpy()


def stylize(model: Any, rgb: torch.Tensor, direction: str) -> torch.Tensor:
    net, spec = model.generator(direction)
    x = (luminance(rgb) if spec.input_nc == 1 else rgb) * 2 - 1
    y = run_generator(net, x, multiple=spec.multiple, net_size=model.net_size, resolution="full")
    return ((y.expand(-1, 3, -1, -1) + 1) / 2).clamp(0, 1)


def measure(model: Any, style: torch.Tensor, direction: str) -> tuple[list[dict[str, Any]], list[torch.Tensor]]:
    rows, grid = [], []
    for name, rgb in held_out().items():
        out, target = stylize(model, rgb, direction), true_painting(rgb)
        y_in, y_out = luminance(rgb), luminance(out)
        rows.append({
            "set": name, "size": list(rgb.shape[-2:]),
            "ssim_luma": ssim(y_out[0, 0].numpy(), y_in[0, 0].numpy()),
            "ssim_edges": ssim(edges(y_out), edges(y_in)),
            "ssim_luma_true_painting": ssim(luminance(target)[0, 0].numpy(), y_in[0, 0].numpy()),
            "style_dist": float((lab_stats(out) - style).norm()),
            "style_dist_input": float((lab_stats(rgb) - style).norm()),
            "to_painting": float((out - target).abs().mean() * 255),
            "to_painting_input": float((rgb - target).abs().mean() * 255),
        })
        grid.append(torch.cat([rgb, out, target], dim=-1))
    return rows, grid


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", type=Path, default=DEMO_MODEL, help="anything LoadCycleGAN reads")
    ap.add_argument("--direction", default="AtoB")
    ap.add_argument("--style-domain", type=Path, default=ROOT / "out" / "datasets" / "painting" / "trainB",
                    help="folder of style images (make_training_data.py writes it)")
    ap.add_argument("--grid", type=Path, help="write input | stylized | true painting rows to this PNG")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    if not args.style_domain.is_dir():
        print(f"no style domain at {args.style_domain}: run graphs/assets/make_training_data.py first")
        return 2
    model = load_cyclegan(args.model)
    rows, grid = measure(model, domain_stats(args.style_domain), args.direction)
    print(f"{'set':16} {'SSIM luma':>9} {'(true p.)':>9} {'SSIM edges':>10} {'style dist':>10} {'(input)':>8} "
          f"{'to painting':>11} {'(input)':>8}")
    for r in rows:
        print(f"{r['set']:16} {r['ssim_luma']:9.3f} {r['ssim_luma_true_painting']:9.3f} {r['ssim_edges']:10.3f} "
              f"{r['style_dist']:10.2f} "
              f"{r['style_dist_input']:8.2f} {r['to_painting']:11.2f} {r['to_painting_input']:8.2f}")
    if args.grid:
        from nodeflow.image_files import write_image

        width = max(g.shape[-1] for g in grid)
        write_image(torch.cat([torch.nn.functional.pad(g, (0, width - g.shape[-1], 0, 4), value=1.0)
                               for g in grid], dim=-2), args.grid)
    payload = {"model": shown_path(args.model), "direction": args.direction, "results": rows}
    write_json_atomic(args.out, payload)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
