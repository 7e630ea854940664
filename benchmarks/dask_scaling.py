"""Dask scaling: frames/s of a CPU-bound graph on 1 vs 2 worker processes (and the local executor).

    python benchmarks/dask_scaling.py [--frames 48] [--size 256] [--model-size 128] [--workers 1 2] [--rounds 1]
                                      [--json benchmarks/results/dask_scaling.json]

The graph is the past-film pipeline over a real video file: LoadVideo (a B&W clip) -> Colorize
(Pix2Pix) -> AlphaOver (a cut-out person) -> Harmonize (SinGAN) -> a sink that only counts. The
models are trained first (tiny: their quality does not matter here, their inference cost does)
and cached, so every run measures the per-frame work. Each worker is one process with one torch
thread; the local executor gets one thread too. "Steady" frames/s counts from the first batch
done to the last (a worker's first task also loads torch and the models); "run" is the whole
run. Efficiency = speed-up / workers. Target: >= 1.8x with 2 workers on 2 free cores.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import tempfile
import time
from pathlib import Path

import torch

from nodeflow.atomic import write_text_atomic
from nodeflow.events import FramesDone
from nodeflow.graph import Graph
from nodeflow.node import Input, Node
from nodeflow.registry import default_registry
from nodeflow.session import Session
from nodeflow.types import IMAGE


class CountFrames(Node):
    """Sink that only counts (runs in the client process: keeps the serial part small)."""

    sink = True
    inputs = (Input("image", IMAGE),)

    def run(self, ctx, image):
        return {}


def write_clip(folder: Path, frames: int, size: int) -> Path:
    g = Graph(base_dir=folder)
    still = g.add("SampleImage", name="camera", max_size=256)
    pan = g.add("CameraMove", image=still.image, frames=frames, width=size, height=size, start_zoom=1.0,
                end_zoom=1.4, end_x=0.56)
    g.add("SaveVideo", image=pan.image, path="film.mp4", fps=24, overwrite=True)
    g.run(device="cpu", output_dir=folder)
    return folder / "film.mp4"


def pipeline(folder: Path, clip: Path, session: Session, model_size: int) -> Graph:
    g = Graph(base_dir=folder, registry=session.registry, session=session)
    film = g.add("LoadVideo", id="film", path=str(clip))
    still = g.add("LoadVideoFrame", id="film_still", path=str(clip), frame=0)
    colorizer = g.add("TrainPix2Pix", id="colorizer", mode="colorization", dataroot=str(ASSETS / "trainA"),
                      generator="unet_64", ngf=16, ndf=16, load_size=80, crop_size=64, batch_size=4,
                      niter=1, niter_decay=1, seed=0)
    colour = g.add("Colorize", id="colour", image=film.image, model=colorizer.model)
    colour_still = g.add("Colorize", id="colour_still", image=still.image, model=colorizer.model)
    photo = g.add("SampleImage", id="photo", name="astronaut", max_size=200)
    person = g.add("Crop", id="person", image=photo.image, units="relative", width=0.7, x=0, y=0)
    cut = g.add("CutOut", id="cut", image=person.image, method="grabcut", border=0.08, border_sides="no_bottom")
    subject = g.add("SetAlpha", id="subject", image=person.image, mask=cut.mask)
    paste = g.add("AlphaOver", id="paste", background=colour.image, foreground=subject.image, scale=0.45, x=0.8,
                  y=0.66)
    harmonizer = g.add("TrainSinGAN", id="harmonizer", scene=colour_still.image, preset="fast",
                       max_size=model_size, iterations=10, seed=0)
    harmonize = g.add("Harmonize", id="harmonize", composite=paste.image, mask=paste.mask,
                      model=harmonizer.model, scale=2, seed=0)
    g.add("CountFrames", id="sink", image=harmonize.image)
    return g


ASSETS = Path(__file__).resolve().parent.parent / "graphs" / "assets" / "photo2painting"


def timed_run(g: Graph, executor: str, batch_size: int, scheduler: str | None) -> dict[str, float]:
    marks: list[tuple[float, int]] = []

    def on_event(event: object) -> None:
        if isinstance(event, FramesDone):
            marks.append((time.perf_counter(), event.done))

    plan = g.session.plan(g.spec, base_dir=g.base_dir, output_dir=g.base_dir)
    t0 = time.perf_counter()
    g.session.run_plan(plan, device="cpu", batch_size=batch_size, listeners=[on_event], executor=executor,
                       scheduler=scheduler)
    total = time.perf_counter() - t0
    frames = marks[-1][1]
    (t_first, n_first), (t_last, _) = marks[0], marks[-1]
    steady = (frames - n_first) / (t_last - t_first) if t_last > t_first else float("nan")
    return {"run_s": total, "run_fps": frames / total, "steady_fps": steady}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--size", type=int, default=256, help="frame width and height")
    parser.add_argument("--model-size", type=int, default=128, help="SinGAN's finest scale (Harmonize's cost)")
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rounds", type=int, default=1, help="runs per configuration (best kept)")
    parser.add_argument("--json", default="benchmarks/results/dask_scaling.json")
    args = parser.parse_args()

    import dask
    from distributed import LocalCluster

    from nodeflow.execute_dask import WORKER_ENV

    torch.set_num_threads(1)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="nodeflow-dask-bench-") as tmp:
        folder = Path(tmp)
        clip = write_clip(folder, args.frames, args.size)
        registry = default_registry()
        registry.register(CountFrames)
        session = Session(registry=registry, cache_dir=folder / "cache")
        g = pipeline(folder, clip, session, args.model_size)
        g.run(device="cpu", frames=range(1))  # trains and caches the models; warms the local caches
        rows: list[dict[str, object]] = []
        runs = [timed_run(g, "local", args.batch_size, None) for _ in range(args.rounds)]
        rows.append({"executor": "local", "workers": 1, **max(runs, key=lambda r: r["steady_fps"])})
        for n in args.workers:
            t0 = time.perf_counter()
            with dask.config.set({"distributed.nanny.pre-spawn-environ": WORKER_ENV}), LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                              dashboard_address=":0", silence_logs=logging.ERROR) as cluster:
                startup = time.perf_counter() - t0
                runs = [timed_run(g, "dask", args.batch_size, cluster.scheduler_address)
                        for _ in range(args.rounds)]
            rows.append({"executor": "dask", "workers": n, "startup_s": startup,
                         **max(runs, key=lambda r: r["steady_fps"])})

    base = next((r for r in rows if r["executor"] == "dask" and r["workers"] == 1), rows[0])
    for r in rows:
        r["speedup"] = r["steady_fps"] / base["steady_fps"]
        r["efficiency"] = r["speedup"] / r["workers"]
    print(f"Dask scaling: {args.frames} frames of {args.size}x{args.size}, LoadVideo -> Colorize -> AlphaOver -> "
          f"Harmonize, batch {args.batch_size}, 1 torch thread per process; {os.cpu_count()} cores, "
          f"load average {load:.1f} at start ({platform.machine()}, torch {torch.__version__})")
    print(f"{'executor':<9} {'workers':>7} {'run s':>7} {'run f/s':>8} {'steady f/s':>10} {'speed-up':>8} "
          f"{'efficiency':>10}")
    for r in rows:
        print(f"{r['executor']:<9} {r['workers']:>7} {r['run_s']:>7.1f} {r['run_fps']:>8.2f} "
              f"{r['steady_fps']:>10.2f} {r['speedup']:>7.2f}x {r['efficiency']:>9.0%}")
    two = next((r for r in rows if r["executor"] == "dask" and r["workers"] == 2), None)
    if two is not None:
        print(f"target >= 1.8x with 2 workers: {'met' if two['speedup'] >= 1.8 else 'NOT met'} "
              f"({two['speedup']:.2f}x; load average {load:.1f} on {os.cpu_count()} cores)")
    result = {"frames": args.frames, "size": args.size, "batch_size": args.batch_size, "cores": os.cpu_count(),
              "load_average_at_start": load, "torch": torch.__version__, "rows": rows}
    write_text_atomic(args.json, json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
