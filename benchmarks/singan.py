"""SinGAN training speed and quality, both presets, plus harmonization flicker on a short clip.

For each (preset, size) it trains on a scikit-image scene (``coffee``, 400×600, as the issue's
reference timings: 128 px -> 6 reference scales, 250 px -> 8) and records per-scale seconds,
total seconds and the reconstruction RMSE (pyramid fed its fixed noise vs the finest real, in
[-1, 1] units, as the reference's noise-amplitude RMSE). Flicker: a pasted object drifting over
the scene for a few frames is harmonized with one model and fixed noise; the mean |Δ| between
consecutive frames inside the mask is compared with the naive composite's (and with noise
redrawn per frame, what fixed noise avoids).

Results are merged into the JSON file (``--out``), so runs can be done one at a time::

    python benchmarks/singan.py --quick                       # smoke run, ~3 min (singan_quick.json)
    python benchmarks/singan.py --runs fast@128 fast@250      # the fast preset at full length
    python benchmarks/singan.py --runs faithful@128           # hours on a CPU (--resume after a kill)
    python benchmarks/singan.py --device cuda --runs faithful@250 fast@250   # on a GPU
    python benchmarks/singan.py --runs faithful@250 --faithful-iterations 200   # lower bound
    python benchmarks/singan.py --runs fast@128 --set iterations=160 rec_steps=6   # a variant
    python benchmarks/singan.py --flicker-only                # flicker from a saved fast@128 model
    python benchmarks/singan.py --table                       # print the table of what is stored

CPU conditions distort timings: the JSON records thread count, load average and the share of
CPU time stolen by the hypervisor during each run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from nodeflow.atomic import write_json_atomic  # noqa: E402
from nodeflow.devices import resolve_device  # noqa: E402
from nodeflow.nodes.singan.generate import reconstruct, rmse  # noqa: E402
from nodeflow.nodes.singan.handle import SinGANModel  # noqa: E402
from nodeflow.nodes.singan.harmonize import harmonize  # noqa: E402
from nodeflow.nodes.singan.pyramid import plan_pyramid  # noqa: E402
from nodeflow.nodes.singan.train import TrainProgress, make_config, train_singan  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "singan.json"
MODELS = Path(tempfile.gettempdir()) / "nodeflow-singan-bench"


def scene(name: str = "coffee") -> torch.Tensor:
    from skimage import data

    arr = getattr(data, name)()
    t = torch.from_numpy(arr).float() / 255.0
    if t.ndim == 2:
        t = t[..., None].expand(-1, -1, 3)
    return t[..., :3].permute(2, 0, 1)[None].contiguous()


def cpu_times() -> tuple[float, float]:
    """(total, steal) jiffies from /proc/stat (0, 0 where unavailable)."""
    try:
        fields = [float(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except OSError:
        return 0.0, 0.0
    return sum(fields), (fields[7] if len(fields) > 7 else 0.0)


def conditions() -> dict[str, Any]:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0, 0, 0)
    return {"threads": torch.get_num_threads(), "cpus": os.cpu_count(), "loadavg": list(load),
            "torch": torch.__version__, "python": platform.python_version(), "machine": platform.processor()}


def patch_swd(samples: torch.Tensor, real: torch.Tensor, patch: int = 7, projections: int = 256,
              max_patches: int = 20000, seed: int = 0) -> float:
    """Sliced Wasserstein distance between the 7×7 patch distributions of samples and the real image.

    A realism check next to the reconstruction RMSE (lower = the samples' local statistics are
    closer to the scene's): ``(S, 3, h, w)`` and ``(1, 3, h, w)`` in [0, 1].
    """
    g = torch.Generator().manual_seed(seed)

    def patches(x: torch.Tensor) -> torch.Tensor:
        p = F.unfold(x.float(), patch).transpose(1, 2).reshape(-1, x.shape[1] * patch * patch)
        if p.shape[0] > max_patches:
            p = p[torch.randperm(p.shape[0], generator=g)[:max_patches]]
        return p

    a, b = patches(samples), patches(real)
    n = min(a.shape[0], b.shape[0])
    a = a[torch.randperm(a.shape[0], generator=g)[:n]]
    b = b[torch.randperm(b.shape[0], generator=g)[:n]]
    dirs = torch.randn(a.shape[1], projections, generator=g)
    dirs = dirs / dirs.norm(dim=0, keepdim=True)
    pa = (a @ dirs).sort(dim=0).values
    pb = (b @ dirs).sort(dim=0).values
    return float((pa - pb).abs().mean())


def sample_quality(model: SinGANModel, count: int = 8, seed: int = 0) -> dict[str, float]:
    """Patch SWD of random samples vs the scene, and their diversity (mean per-pixel std)."""
    from nodeflow.nodes.singan.applications import sample

    if model.first_scale:
        return {}
    samples = sample(model, count, generator=torch.Generator().manual_seed(seed)).cpu()
    real = ((model.reals[-1] + 1) / 2).clamp(0, 1).cpu()
    return {"samples_patch_swd": patch_swd(samples, real), "samples_diversity": float(samples.std(dim=0).mean())}


def run_training(preset: str, size: int, iterations: int | None, seed: int, image: str, key: str,
                 resume: bool = False, settings: dict[str, Any] | None = None,
                 device: torch.device | None = None, mode: str = "standard") -> dict[str, Any]:
    img = scene(image)
    overrides: dict[str, Any] = {**(settings or {}), "max_size": size}
    if iterations is not None:
        overrides.update(iterations=iterations)
    cfg = make_config(preset, mode, **overrides)
    plan = plan_pyramid(img.shape[2], img.shape[3], min_size=cfg.min_size, max_size=size,
                        scale_factor=cfg.scale_factor)
    print(f"== {preset}@{size}: {plan.stop_scale + 1} scales {plan.sizes[0]}…{plan.finest}, "
          f"{cfg.iterations} it/scale, {cfg.d_steps}D+{cfg.g_steps}G, concurrent {cfg.concurrent}", flush=True)
    before = conditions()
    t0, s0 = cpu_times()
    start = time.perf_counter()
    last = [start]

    def progress(p: TrainProgress) -> None:
        now = time.perf_counter()
        if now - last[0] > 30:
            print(f"   {p.done}/{p.total} {p.message} ({now - start:.0f} s)", flush=True)
            last[0] = now

    # Checkpointed per scale: with --resume a killed faithful run (hours on a CPU) goes on at its
    # next scale; the total is then the sum of the scales' own times, which the checkpoints keep.
    checkpoints = MODELS / f"{key}.checkpoints"
    if not resume:
        shutil.rmtree(checkpoints, ignore_errors=True)
    model = train_singan(img, cfg, seed=seed, progress=progress, log=lambda m: print("  ", m, flush=True),
                         checkpoint_dir=checkpoints, device=device or torch.device("cpu"))
    seconds = float(model.meta["seconds"])
    resumed = seconds > time.perf_counter() - start + 1
    shutil.rmtree(checkpoints, ignore_errors=True)
    t1, s1 = cpu_times()
    with torch.no_grad():
        rec = reconstruct(model)
    assert isinstance(rec, torch.Tensor)
    quality = sample_quality(model)
    folder = MODELS / key
    if folder.exists():
        for f in folder.iterdir():
            f.unlink()
    model.save(folder)
    return {
        "preset": preset, "mode": mode, "size": size, "image": image, "seed": seed, "settings": settings or {},
        "scales": model.num_scales, "sizes": [list(s) for s in model.sizes],
        "iterations": cfg.iterations, "d_steps": cfg.d_steps, "g_steps": cfg.g_steps,
        "concurrent": cfg.concurrent, "scale_factor_init": cfg.scale_factor,
        "seconds": seconds, "resumed": resumed, "seconds_per_scale": model.meta["seconds_per_scale"],
        "rmse": rmse(rec, model.reals[-1]), "rmse_per_scale": model.meta["rmse_per_scale"],
        "rmse_at_finest_per_scale": model.meta["rmse_at_finest_per_scale"],
        **quality,
        "device": str(device or "cpu"),
        "gpu": torch.cuda.get_device_name(device) if device is not None and device.type == "cuda" else None,
        "steal_share": (s1 - s0) / (t1 - t0) if t1 > t0 else None,
        "conditions_before": before, "conditions_after": conditions(),
        "model_folder": str(folder),
    }


def clip(model: SinGANModel, frames: int = 8, obj: str = "astronaut", motion: int = 1, grain: float = 0.0,
         seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A pasted object over the training scene, drifting ``motion`` training px per frame, with
    per-frame Gaussian film grain of std ``grain``: ``(T, 3, h, w)``, ``(T, 1, h, w)``."""
    h, w = model.sizes[-1]
    bg = ((model.reals[-1] + 1) / 2).clamp(0, 1).cpu()
    src = scene(obj)
    oh, ow = max(8, h // 3), max(8, w // 5)
    patch = F.interpolate(src[:, :, 40:300, 150:330], size=(oh, ow), mode="area")
    g = torch.Generator().manual_seed(seed)
    comps, masks = [], []
    for t in range(frames):
        y, x = h // 2 - oh // 2, w // 3 + motion * t
        comp = bg.clone()
        comp[:, :, y:y + oh, x:x + ow] = patch
        if grain:
            comp = (comp + grain * torch.randn(comp.shape, generator=g)).clamp(0, 1)
        m = torch.zeros(1, 1, h, w)
        m[:, :, y:y + oh, x:x + ow] = 1
        comps.append(comp)
        masks.append(m)
    return torch.cat(comps), torch.cat(masks)


def flicker(model: SinGANModel, n: int | None = None, frames: int = 8, seed: int = 0) -> dict[str, Any]:
    """Mean |Δ| between consecutive frames inside the soft mask, for two clips: a pasted object
    moving 1 px/frame, and a static one under per-frame film grain (σ 0.02)."""
    model = model.to("cpu")
    n = n or max(1, (model.N + 1) // 2)  # a middle injection scale

    def mean_delta(x: torch.Tensor, region: torch.Tensor) -> float:
        d = (x[1:] - x[:-1]).abs().mean(dim=1, keepdim=True)
        r = torch.maximum(region[1:], region[:-1])
        return float((d * r).sum() / r.sum().clamp_min(1))

    out: dict[str, Any] = {"n": n, "frames": frames, "size": list(model.sizes[-1]),
                           "mask_region": "soft mask > 0 (dilated + blurred)"}
    for name, kwargs in (("moving", {"motion": 1}), ("grain", {"motion": 0, "grain": 0.02})):
        comps, masks = clip(model, frames, **kwargs)
        start = time.perf_counter()
        fixed = harmonize(model, comps, masks, n, generator=torch.Generator().manual_seed(seed))
        seconds = time.perf_counter() - start
        redrawn = torch.cat([harmonize(model, comps[t:t + 1], masks[t:t + 1], n,
                                       generator=torch.Generator().manual_seed(seed + 1 + t)).image
                             for t in range(frames)])
        region = (fixed.mask > 0).float()
        out[name] = {"naive": mean_delta(comps, region), "harmonized_fixed_noise": mean_delta(fixed.image, region),
                     "harmonized_noise_per_frame": mean_delta(redrawn, region),
                     "change_vs_naive": float((fixed.image - comps).abs().mean(dim=1, keepdim=True)[region > 0].mean()),
                     "seconds_per_frame": seconds / frames}
    return out


def parse_settings(items: list[str]) -> dict[str, Any]:
    """``["iterations=160", "lr_drop=0.9"]`` -> TrainConfig overrides, each checked against its field."""
    from dataclasses import fields

    from nodeflow.nodes.singan.train import TrainConfig

    types = {f.name: f.type for f in fields(TrainConfig)}
    out: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or name not in types or name in ("preset", "max_size"):
            raise SystemExit(f"--set {item!r}: expected FIELD=VALUE with FIELD one of "
                             f"{', '.join(sorted(set(types) - {'preset', 'max_size'}))}")
        kind = types[name] if isinstance(types[name], str) else types[name].__name__
        out[name] = {"int": int, "float": float, "bool": lambda v: v.lower() in ("1", "true", "yes")}[kind](value)
    return out


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.exists() else {"runs": {}, "flicker": None}


def store(path: Path, runs: dict[str, Any] | None = None, flicker_result: dict[str, Any] | None = None,
          ) -> dict[str, Any]:
    """Merge this process's entries into what is on disk now (other runs may have stored theirs)."""
    current = load(path)
    current["runs"].update(runs or {})
    if flicker_result is not None:
        current["flicker"] = flicker_result
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, current, indent=1)
    return current


def table(results: dict[str, Any]) -> str:
    width = max([20, *(len(k) for k in results["runs"])])
    lines = [f"{'run':<{width}} scales  it/scale  total s   per-scale s (coarse->fine)            RMSE    "
             "samples: patch SWD  diversity   steal", "-" * (110 + width)]
    for key, r in sorted(results["runs"].items()):
        per = " ".join(f"{s:.0f}" if s is not None else "-" for s in r["seconds_per_scale"])
        steal = f"{100 * r['steal_share']:.0f}%" if r.get("steal_share") is not None else "?"
        swd = f"{r['samples_patch_swd']:.4f}" if r.get("samples_patch_swd") is not None else "-"
        div = f"{r['samples_diversity']:.4f}" if r.get("samples_diversity") is not None else "-"
        lines.append(f"{key:<{width}} {r['scales']:>6}  {r['iterations']:>8}  {r['seconds']:>7.0f}   {per:<36}  "
                     f"{r['rmse']:.4f}  {swd:>18}  {div:>9}   {steal}")
    runs = results["runs"]
    for size in (128, 250):
        fast, faith = runs.get(f"fast@{size}"), runs.get(f"faithful@{size}")
        if fast and faith:
            lines.append(f"fast/faithful RMSE at {size} px: {fast['rmse'] / faith['rmse']:.3f} "
                         f"(faithful at {faith['iterations']} it/scale), time ratio "
                         f"{fast['seconds'] / faith['seconds']:.3f}")
    fl = results.get("flicker")
    if fl and "moving" in fl:
        lines.append(f"flicker: mean |Δ| between consecutive frames inside the soft mask, n={fl['n']}, "
                     f"{fl['frames']} frames at {fl['size']} ({fl.get('model', '?')} model)")
        for name, label in (("moving", "object moving 1 px/frame"), ("grain", "static object, film grain σ 0.02")):
            c = fl[name]
            lines.append(f"  {label:<34} naive {c['naive']:.4f}  harmonized {c['harmonized_fixed_noise']:.4f} "
                         f"(fixed noise)  {c['harmonized_noise_per_frame']:.4f} (noise redrawn per frame); "
                         f"mean change vs naive {c['change_vs_naive']:.4f}; {c['seconds_per_frame']:.3f} s/frame")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="short smoke run (few iterations, 128 px)")
    ap.add_argument("--full", action="store_true", help="fast@128, fast@250, faithful@128, faithful@250 "
                    "(faithful@250 with --faithful-iterations), then flicker")
    ap.add_argument("--runs", nargs="*", default=[], help="preset@size entries, e.g. fast@128")
    ap.add_argument("--iterations", type=int, help="override iterations per scale for every run")
    ap.add_argument("--faithful-iterations", type=int, default=None,
                    help="iterations per scale for faithful@250 (the full 2000 takes ~7 h on 2 CPU cores)")
    ap.add_argument("--flicker-only", action="store_true", help="only the flicker measurement")
    ap.add_argument("--flicker-model", default="fast@128", help="which stored model to harmonize with")
    ap.add_argument("--table", action="store_true", help="print the stored table and exit")
    ap.add_argument("--quality-only", action="store_true",
                    help="recompute the samples' patch SWD/diversity of the stored runs' saved models")
    ap.add_argument("--device", default="cpu", help="cpu | cuda[:N] | auto (training device)")
    ap.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    ap.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE",
                    help="override TrainConfig fields for every run, e.g. --set iterations=160 rec_steps=6 "
                         "(the run is stored under a key that names them)")
    ap.add_argument("--resume", action="store_true",
                    help="go on from the per-scale checkpoints of an interrupted run (default: start afresh)")
    ap.add_argument("--mode", default="standard", choices=("standard", "harmonize"),
                    help="TrainSinGAN mode (harmonize: the ConSinGAN-style harmonization training; key suffix -harmonize)")
    ap.add_argument("--image", default="coffee", help="scikit-image scene")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None,
                    help=f"results JSON (default {RESULTS.relative_to(ROOT)}; --quick: singan_quick.json)")
    args = ap.parse_args(argv)
    if args.out is None:
        args.out = RESULTS.with_name("singan_quick.json") if args.quick else RESULTS
    if args.threads:
        torch.set_num_threads(args.threads)
    settings = parse_settings(args.set)
    device = resolve_device(args.device)
    results = load(args.out)
    if args.table:
        print(table(results))
        return 0
    if args.quality_only:
        updated = {}
        for key, entry in results["runs"].items():
            folder = Path(entry["model_folder"])
            if folder.exists():
                updated[key] = {**entry, **sample_quality(SinGANModel.load(folder))}
        print(table(store(args.out, updated)))
        return 0
    runs: list[tuple[str, int, int | None]] = []
    if args.quick:
        runs = [("fast", 128, 40), ("faithful", 128, 8)]
    elif args.full:
        runs = [("fast", 128, None), ("fast", 250, None), ("faithful", 128, None),
                ("faithful", 250, args.faithful_iterations)]
    for entry in args.runs:
        preset, _, size = entry.partition("@")
        its = args.faithful_iterations if (preset == "faithful" and size == "250") else None
        runs.append((preset, int(size), its))
    if args.flicker_only:
        runs = []
    for preset, size, its in runs:
        its = args.iterations if args.iterations is not None else its
        key = f"{preset}@{size}" + ("-harmonize" if args.mode != "standard" else "") + ("-quick" if args.quick else "")
        if settings:
            key += "[" + ",".join(f"{k}={v}" for k, v in settings.items()) + "]"
        results = store(args.out, {key: run_training(preset, size, its, args.seed, args.image, key, args.resume,
                                                     settings, device, args.mode)})
    if runs or args.flicker_only:
        name = args.flicker_model + ("-quick" if args.quick else "")
        folder = MODELS / name
        if folder.exists():
            fl = flicker(SinGANModel.load(folder))
            fl["model"] = name
            results = store(args.out, flicker_result=fl)
    print(table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
