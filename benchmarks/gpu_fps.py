"""Frames per second of Colorize, Stylize and Harmonize at a video frame size (default 1280×720).

Each node runs as in a graph (its ``run`` on a batch of frames, on ``--device``), with networks of
the reference architectures at random weights (speed does not depend on the weights): Colorize
with the reference colorization U-Net (``unet_256``, 64 filters, L -> ab), Stylize with the
reference CycleGAN generator (``resnet_9blocks``, 64 filters) at full resolution, Harmonize with a
SinGAN pyramid of the ``faithful`` layout at 250 px (injection at n = N - 2). After a warm-up
batch, ``--repeats`` batches are timed (CUDA synchronised); fps = frames / seconds. A table is
printed and the JSON written (``--out``, default ``benchmarks/results/gpu_fps_<device>.json``)::

    python benchmarks/gpu_fps.py --device cuda                  # on a GPU: 1280×720
    python benchmarks/gpu_fps.py --device cpu --size 320x180    # CPU smoke run
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from nodeflow.atomic import write_json_atomic  # noqa: E402
from nodeflow.context import RunContext  # noqa: E402
from nodeflow.devices import resolve_device  # noqa: E402


def _ctx(name: str, device: torch.device, frames: int, out: Path) -> RunContext:
    return RunContext(name, name, device, seed=0, frames=tuple(range(frames)), frame_count=frames,
                      base_dir=out, output_dir=out)


def colorize_case(device: torch.device) -> tuple[Any, dict[str, Any]]:
    from nodeflow.nodes.pix2pix.handle import Pix2PixHandle
    from nodeflow.nodes.pix2pix.networks import GeneratorSpec
    from nodeflow.nodes.pix2pix.nodes import Colorize

    spec = GeneratorSpec("unet_256", input_nc=1, output_nc=2, ngf=64)
    handle = Pix2PixHandle(spec.build(), spec).to(device)
    return Colorize(Colorize.Params(resolution="full")), {"model": handle}


def stylize_case(device: torch.device) -> tuple[Any, dict[str, Any]]:
    from nodeflow.nodes.cyclegan.handle import CycleGANHandle
    from nodeflow.nodes.cyclegan.nodes import Stylize
    from nodeflow.nodes.pix2pix.networks import GeneratorSpec

    spec = GeneratorSpec("resnet_9blocks", ngf=64, norm="instance")
    handle = CycleGANHandle(spec.build(), spec).to(device)
    return Stylize(Stylize.Params(resolution="full")), {"model": handle}


def singan_model(device: torch.device, size: tuple[int, int]) -> Any:
    """A pyramid of the faithful preset's layout for a frame of ``size`` (random weights)."""
    from nodeflow.nodes.singan.handle import SinGANModel
    from nodeflow.nodes.singan.networks import Generator, block_widths, scale_width
    from nodeflow.nodes.singan.pyramid import build_pyramid, plan_pyramid

    plan = plan_pyramid(*size, max_size=250, scale_factor=0.75)
    g = torch.Generator().manual_seed(0)
    scene = torch.rand((1, 3, *size), generator=g) * 2 - 1
    reals = [r.float() for r in build_pyramid(scene, plan)]
    gens, zs = [], []
    for k, (h, w) in enumerate(plan.sizes):
        net = Generator(block_widths(*scale_width(k)), nc=3, ker=3)
        gens.append(net)
        zs.append(torch.zeros((1, 3, h + 2 * net.pad, w + 2 * net.pad)))
    model = SinGANModel(generators=gens, z_rec=zs, noise_amp=[1.0] + [0.1] * plan.stop_scale, reals=reals,
                        scale_factor=plan.scale_factor)
    return model.to(device)


def harmonize_case(device: torch.device, size: tuple[int, int], frames: int) -> tuple[Any, dict[str, Any]]:
    from nodeflow.nodes.singan.nodes import Harmonize

    model = singan_model(device, size)
    h, w = size
    mask = torch.zeros((1, 1, h, w), device=device)
    mask[..., h // 3: 2 * h // 3, w // 3: w // 2] = 1
    return Harmonize(Harmonize.Params(scale=max(1, model.N - 2))), {"model": model, "mask": mask}


def measure(name: str, node: Any, extra: dict[str, Any], frames: torch.Tensor, repeats: int,
            device: torch.device, out: Path) -> dict[str, Any]:
    image_key = "composite" if name == "Harmonize" else "image"
    ctx = _ctx(name, device, frames.shape[0], out)

    def once() -> None:
        with torch.inference_mode():
            result = node.run(ctx, **{image_key: frames, **extra})
        assert result["image"].shape[-2:] == frames.shape[-2:]
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    t0 = time.perf_counter()
    once()
    warmup = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        once()
        times.append(time.perf_counter() - t0)
    best, median = min(times), sorted(times)[len(times) // 2]
    return {"node": name, "frames_per_batch": int(frames.shape[0]), "repeats": repeats,
            "warmup_s": round(warmup, 4), "median_batch_s": round(median, 4),
            "fps": round(frames.shape[0] / median, 2), "fps_best": round(frames.shape[0] / best, 2)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="auto", help="cpu | cuda[:N] | auto")
    ap.add_argument("--size", default="1280x720", help="frame size WxH")
    ap.add_argument("--frames", type=int, default=8, help="frames per batch (the CLI's --batch-size)")
    ap.add_argument("--repeats", type=int, default=5, help="timed batches per node")
    ap.add_argument("--nodes", nargs="*", default=["Colorize", "Stylize", "Harmonize"])
    ap.add_argument("--threads", type=int, help="torch CPU threads")
    ap.add_argument("--out", type=Path, help="JSON file (default benchmarks/results/gpu_fps_<device>.json)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    w, h = (int(v) for v in args.size.lower().split("x"))
    out = args.out or ROOT / "benchmarks" / "results" / f"gpu_fps_{device.type}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    g = torch.Generator().manual_seed(0)
    gray = torch.rand((args.frames, 1, h, w), generator=g).expand(-1, 3, -1, -1).contiguous().to(device)
    cases = {"Colorize": lambda: colorize_case(device), "Stylize": lambda: stylize_case(device),
             "Harmonize": lambda: harmonize_case(device, (h, w), args.frames)}
    rows: list[dict[str, Any]] = []
    for name in args.nodes:
        print(f"[gpu_fps] {name} at {w}x{h}, {args.frames} frames x {args.repeats} on {device} …", flush=True)
        try:
            node, extra = cases[name]()
            rows.append({**measure(name, node, extra, gray, args.repeats, device, out.parent), "status": "ok"})
        except Exception as exc:  # one failing node must not hide the others' figures
            rows.append({"node": name, "status": "failed", "error": f"{type(exc).__name__}: {exc}"})
        if device.type == "cuda":
            rows[-1]["max_memory_gib"] = round(torch.cuda.max_memory_allocated(device) / 2**30, 2)
            torch.cuda.reset_peak_memory_stats(device)
    record = {
        "device": str(device), "device_name": torch.cuda.get_device_name(device) if device.type == "cuda"
        else platform.processor() or platform.machine(), "size": [w, h], "torch": torch.__version__,
        "threads": torch.get_num_threads(), "load_average": list(os.getloadavg()), "time": time.time(),
        "rows": rows,
    }
    write_json_atomic(out, record)
    print(f"\n{'node':<10} {'status':<7} {'fps':>8} {'batch s':>9}")
    for r in rows:
        fps = r.get("fps", math.nan)
        print(f"{r['node']:<10} {r['status']:<7} {fps:>8.2f} {r.get('median_batch_s', math.nan):>9.3f}")
    print(f"wrote {out}")
    return 0 if all(r["status"] == "ok" for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
