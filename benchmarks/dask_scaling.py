"""Dask scaling: frames/s of a CPU-bound graph on 1 vs 2 worker processes (and the local executor).

    python benchmarks/dask_scaling.py [--frames 48] [--size 256] [--model-size 128] [--workers 1 2] [--rounds 3]
                                      [--json benchmarks/results/dask_scaling.json]

The graph is the past-film pipeline over a real video file: LoadVideo (a B&W clip) -> Colorize
(Pix2Pix) -> AlphaOver (a cut-out person) -> Harmonize (SinGAN) -> a sink that only counts. The
models are trained first (tiny: their quality does not matter here, their inference cost does)
and cached, so every run measures the per-frame work. Each worker is one process with one torch
thread; the local executor gets one thread too. "Steady" frames/s counts from the first batch
done to the last (a worker's first task also loads torch and the models); "run" is the whole
run, "start" the cluster's start-up. Configurations are measured in interleaved rounds (so a
burst of load from other processes hits them alike) and the median is reported, with the best.
Efficiency = speed-up / workers. Target: >= 1.8x with 2 workers on 2 free cores.

A control graph (LoadVideo -> a node that sleeps per frame -> count) is measured alike: it
needs no CPU, so its speed-up shows what the executor itself allows when the cores are busy
with other work (a shared machine), apart from how much CPU the workers get.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

from nodeflow.atomic import write_json_atomic
from nodeflow.events import FramesDone
from nodeflow.graph import Graph
from nodeflow.node import Input, Node, Output
from nodeflow.params import NodeParams
from nodeflow.registry import default_registry
from nodeflow.session import Session
from nodeflow.types import IMAGE


class CountFrames(Node):
    """Sink that only counts (runs in the client process: keeps the serial part small)."""

    sink = True
    inputs = (Input("image", IMAGE),)

    def run(self, ctx, image):
        return {}


class Wait(Node):
    """Sleeps per frame: a control whose scaling cannot be limited by busy cores, only by the executor."""

    inputs = (Input("image", IMAGE),)
    outputs = (Output("image", IMAGE),)

    class Params(NodeParams):
        seconds: float = 0.1

    def run(self, ctx, image):
        time.sleep(self.params.seconds * image.shape[0])
        return {"image": image}


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
    colorizer = g.add("LoadPix2Pix", id="colorizer", path=str(ASSETS / "colorizer"))  # the demo's shipped one
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


ASSETS = Path(__file__).resolve().parent.parent / "graphs" / "assets"


def control(folder: Path, clip: Path, session: Session, seconds: float) -> Graph:
    g = Graph(base_dir=folder, registry=session.registry, session=session)
    film = g.add("LoadVideo", id="film", path=str(clip))
    g.add("CountFrames", id="sink", image=g.add("Wait", id="wait", image=film.image, seconds=seconds).image)
    return g


def timed_run(make: Callable[[], Graph], executor: str, batch_size: int, scheduler: str | None) -> dict[str, float]:
    """One run in a fresh session (models from the disk cache, no per-batch results in memory)."""
    g = make()
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
    parser.add_argument("--rounds", type=int, default=3, help="interleaved runs per configuration (median)")
    parser.add_argument("--control-sleep", type=float, default=0.1, help="seconds per frame of the control graph")
    parser.add_argument("--json", default="benchmarks/results/dask_scaling.json")
    args = parser.parse_args()

    import dask
    import dask_scaling as me  # this file by its module name (a worker cannot import __main__)
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
        registry.register(me.Wait)  # by its module's name, so that worker processes can import it

        def session() -> Session:
            return Session(registry=registry, cache_dir=folder / "cache")

        graphs: dict[str, Callable[[], Graph]] = {
            "pipeline": lambda: pipeline(folder, clip, session(), args.model_size),
            f"control: sleep {args.control_sleep:g} s/frame": lambda: control(folder, clip, session(),
                                                                            args.control_sleep),
        }
        graphs["pipeline"]().run(device="cpu", frames=range(1))  # trains the models once, into the disk cache
        configs: list[tuple[str, int, str | None]] = [("local", 1, None)]
        startup: dict[int, float] = {}
        with contextlib.ExitStack() as stack:
            for n in args.workers:  # every cluster up before measuring; rounds interleave the configs
                t0 = time.perf_counter()
                with dask.config.set({"distributed.nanny.pre-spawn-environ": WORKER_ENV}):
                    cluster = stack.enter_context(LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                                               host="127.0.0.1", dashboard_address=":0",
                                                               silence_logs=logging.ERROR))
                startup[n] = time.perf_counter() - t0
                configs.append(("dask", n, cluster.scheduler_address))
            runs: dict[tuple[str, str, int], list[dict[str, float]]] = {
                (name, e, n): [] for name in graphs for e, n, _ in configs}
            for _ in range(args.rounds):
                for name, make in graphs.items():
                    for executor, n, address in configs:
                        runs[(name, executor, n)].append(timed_run(make, executor, args.batch_size, address))

    rows: list[dict[str, object]] = []
    for (name, executor, n), measured in runs.items():
        rows.append({"graph": name, "executor": executor, "workers": n,
                     "startup_s": startup.get(n) if executor == "dask" else 0.0,
                     "run_s": statistics.median(r["run_s"] for r in measured),
                     "steady_fps": statistics.median(r["steady_fps"] for r in measured),
                     "best_steady_fps": max(r["steady_fps"] for r in measured), "rounds": measured})
    for r in rows:
        base = next(b for b in rows if b["graph"] == r["graph"] and b["executor"] == "dask" and b["workers"] == 1)
        r["speedup"] = r["steady_fps"] / base["steady_fps"]
        r["best_speedup"] = r["best_steady_fps"] / base["best_steady_fps"]
        r["efficiency"] = r["speedup"] / r["workers"]
    print(f"Dask scaling: {args.frames} frames of {args.size}x{args.size}, batch {args.batch_size}, 1 torch thread "
          f"per process, median of {args.rounds} interleaved rounds; {os.cpu_count()} cores, load average "
          f"{load:.1f} at start ({platform.machine()}, torch {torch.__version__})")
    print("pipeline = LoadVideo -> Colorize -> AlphaOver -> Harmonize -> count; speed-up vs dask with 1 worker")
    print(f"{'graph':<30} {'executor':<8} {'workers':>7} {'start s':>7} {'run s':>6} {'steady f/s':>10} "
          f"{'best f/s':>8} {'speed-up':>8} {'best':>6} {'effic.':>6}")
    for r in rows:
        print(f"{r['graph']:<30} {r['executor']:<8} {r['workers']:>7} {r['startup_s']:>7.1f} {r['run_s']:>6.1f} "
              f"{r['steady_fps']:>10.2f} {r['best_steady_fps']:>8.2f} {r['speedup']:>7.2f}x "
              f"{r['best_speedup']:>5.2f}x {r['efficiency']:>6.0%}")
    two = next((r for r in rows if r["graph"] == "pipeline" and r["executor"] == "dask" and r["workers"] == 2), None)
    if two is not None:
        print(f"target >= 1.8x with 2 workers (pipeline): {'met' if two['speedup'] >= 1.8 else 'NOT met'} "
              f"({two['speedup']:.2f}x median, {two['best_speedup']:.2f}x best; load average {load:.1f} "
              f"on {os.cpu_count()} cores)")
    load_end = os.getloadavg()[0]
    print(f"load average at the end: {load_end:.1f} (other processes share the cores: figures under load)")
    result = {"frames": args.frames, "size": args.size, "batch_size": args.batch_size, "cores": os.cpu_count(),
              "load_average_at_start": load,
              "load_average_at_end": load_end, "torch": torch.__version__, "rows": rows}
    write_json_atomic(args.json, result)


if __name__ == "__main__":
    main()
