"""Dask scaling: frames/s of a CPU-bound graph on 1 vs 2 worker processes (and the local executor),
and where each process's CPU goes.

    python benchmarks/dask_scaling.py [--frames 48] [--size 256] [--model-size 128] [--batch-size 2 8]
                                      [--workers 1 2] [--rounds 3] [--json benchmarks/results/dask_scaling.json]

The graph is the past-film pipeline over a real video file: LoadVideo (a B&W clip) -> Colorize
(Pix2Pix) -> AlphaOver (a cut-out person) -> Harmonize (SinGAN) -> a sink that only counts. The
models are trained first (tiny: their quality does not matter here, their inference cost does)
and cached, so every run measures the per-frame work. Each worker is one process with one torch
thread; the local executor gets one thread too. Clusters are started as the executor starts its
own (``nodeflow.execute_dask.local_cluster_config``: Dask's housekeeping slowed down).

"Steady" frames/s counts from the end of the first round of tasks (one per worker: a worker's
first task also builds its node instances and opens the video) to the last batch done. "run" is
the whole run, "start" the cluster's start-up. Configurations are measured in interleaved rounds
(so a burst of load from other processes hits them alike) and the median is reported, with the
best. Efficiency = speed-up / workers. Target: >= 1.8x with 2 workers on 2 free cores.

Over the same steady window the CPU time of every process is read (``psutil``, per thread):
this process's main thread (the run loop and the sinks; for ``local`` all the nodes), its other
threads (Dask's scheduler, nannies and client comms run here with a local cluster), its children
(ffmpeg), and in each worker the task thread (the nodes), the rest of the worker (Dask's event
loop: tasks, results, events) and its ffmpeg. Divided by the frames, these depend much less on
the load from other processes than frames/s do (Dask's timed housekeeping still costs more per
frame when frames come slower); "allows" is the speed-up those CPU figures allow on ``cores``
free cores, min(workers, cores x node CPU / total CPU): with one worker its nodes have a core to
themselves, with more all the processes share the cores.

A control graph (LoadVideo -> a node that sleeps per frame -> count) is measured alike: it
needs no CPU, so its speed-up shows what the executor itself allows when the cores are busy
with other work (a shared machine), apart from how much CPU the workers get.

The machine ceiling (skip with ``--no-ceiling``) runs the pipeline with the local executor in two
independent processes at once (no Dask, nothing shared, each the whole clip) vs one alone: on a VM
two busy cores can slow each other, and no executor can scale beyond that figure.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
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


CPU_PARTS = ("client main", "client Dask", "client ffmpeg", "workers nodes", "workers Dask", "workers ffmpeg")
"""Where CPU time goes (see the module doc); the workers' parts are summed over the workers."""


def torch_threads() -> tuple[int, int]:
    """(intra-op, inter-op) torch threads of the process it runs in (called on each worker)."""
    return torch.get_num_threads(), torch.get_num_interop_threads()


def _children_cpu(proc: psutil.Process, skip: set[int]) -> float:
    """CPU seconds of a process's children (ffmpeg), those it waited for and those still running,
    leaving out the processes in ``skip`` and theirs (Dask workers, measured apart)."""
    times = proc.cpu_times()
    total = times.children_user + times.children_system
    with contextlib.suppress(psutil.Error):  # a reader's ffmpeg may end meanwhile
        for child in proc.children():
            if child.pid not in skip:
                total += sum(child.cpu_times()[:2]) + _children_cpu(child, skip)
    return total


class CpuMeter:
    """Cumulative CPU seconds per part (``CPU_PARTS``) of this process and of one cluster's workers.

    ``others``: the workers of the other clusters (children of this process too, left out)."""

    def __init__(self, worker_pids: list[int], others: set[int]):
        self.me = psutil.Process()
        self.main_thread = threading.main_thread().native_id
        self.workers = [psutil.Process(pid) for pid in worker_pids]
        self.skip = set(worker_pids) | others

    def read(self) -> dict[str, float]:
        parts = dict.fromkeys(CPU_PARTS, 0.0)
        for t in self.me.threads():
            parts["client main" if t.id == self.main_thread else "client Dask"] += t.user_time + t.system_time
        parts["client ffmpeg"] = _children_cpu(self.me, self.skip)
        for worker in self.workers:
            for t in worker.threads():  # a Dask worker's event loop is its main thread; tasks run in others
                parts["workers Dask" if t.id == worker.pid else "workers nodes"] += t.user_time + t.system_time
            parts["workers ffmpeg"] += _children_cpu(worker, self.skip)
        return parts


def timed_run(make: Callable[[], Graph], executor: str, batch_size: int, scheduler: str | None, warm: int,
              meter: CpuMeter) -> dict[str, Any]:
    """One run in a fresh session (models from the disk cache, no per-batch results in memory).

    The steady window starts when ``warm`` batches are done (the first round: one task per worker)."""
    g = make()
    marks: list[tuple[float, int]] = []
    cpu: list[dict[str, float]] = []
    events: dict[str, int] = {}

    def on_event(event: object) -> None:
        events[type(event).__name__] = events.get(type(event).__name__, 0) + 1
        if isinstance(event, FramesDone):
            marks.append((time.perf_counter(), event.done))
            if len(marks) == warm or event.done == event.total:
                cpu.append(meter.read())  # (a few ms, inside the window)

    plan = g.session.plan(g.spec, base_dir=g.base_dir, output_dir=g.base_dir)
    t0 = time.perf_counter()
    g.session.run_plan(plan, device="cpu", batch_size=batch_size, listeners=[on_event], executor=executor,
                       scheduler=scheduler)
    total = time.perf_counter() - t0
    frames = marks[-1][1]
    if len(marks) <= warm:
        raise SystemExit(f"{frames} frames in batches of {batch_size} make {len(marks)} batches: no steady window "
                         f"after the first {warm}; use more --frames")
    (t_first, n_first), (t_last, _) = marks[warm - 1], marks[-1]
    steady = (frames - n_first) / (t_last - t_first)
    per_frame = {k: 1000 * (cpu[-1][k] - cpu[0][k]) / (frames - n_first) for k in CPU_PARTS}
    return {"run_s": total, "run_fps": frames / total, "steady_fps": steady, "steady_frames": frames - n_first,
            "cpu_ms_per_frame": per_frame, "events": events}


def ceiling_child(folder: str, clip: str, model_size: int, batch_size: int, start: Any, out: Any) -> None:
    """One independent process rendering the whole clip with the local executor (1 torch thread)."""
    torch.set_num_threads(1)
    registry = default_registry()
    registry.register(CountFrames)
    make = lambda: pipeline(Path(folder), Path(clip), Session(registry=registry, cache_dir=Path(folder) / "cache"),  # noqa: E731
                            model_size)
    make().run(device="cpu", frames=range(1))  # models from the disk cache, imports warm
    start.wait()  # all processes measure at the same time
    out.put(timed_run(make, "local", batch_size, None, 1, CpuMeter([], set()))["steady_fps"])


def machine_ceiling(folder: Path, clip: Path, model_size: int, batch_size: int, rounds: int,
                    processes: int = 2) -> dict[str, Any]:
    """What the machine itself allows: frames/s of ``processes`` independent processes (no Dask, nothing
    shared) rendering the clip at the same time, vs one such process alone. Two busy cores of a VM can
    slow each other (shared caches, memory bandwidth, a host's hyper-threads); no executor beats this."""
    import multiprocessing as mp

    import dask_scaling as me  # by module name: a spawned child cannot import __main__'s functions otherwise

    ctx = mp.get_context("spawn")
    alone, together = [], []
    for _ in range(rounds):
        for n, into in ((1, alone), (processes, together)):
            start, out = ctx.Barrier(n), ctx.Queue()
            procs = [ctx.Process(target=me.ceiling_child, args=(str(folder), str(clip), model_size, batch_size,
                                                                 start, out)) for _ in range(n)]
            for p in procs:
                p.start()
            into.append(sum(out.get(timeout=600) for _ in procs))
            for p in procs:
                p.join()
    one, many = statistics.median(alone), statistics.median(together)
    return {"batch_size": batch_size, "processes": processes, "fps_one": one, "fps_together": many,
            "speedup": many / one, "rounds_one": alone, "rounds_together": together}


def node_part(row: dict[str, Any]) -> str:
    """The CPU part that is the nodes' own work for this row's executor."""
    return "client main" if row["executor"] == "local" else "workers nodes"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--size", type=int, default=256, help="frame width and height")
    parser.add_argument("--model-size", type=int, default=128, help="SinGAN's finest scale (Harmonize's cost)")
    parser.add_argument("--batch-size", type=int, nargs="+", default=[2, 8],
                        help="frames per batch (8 is the CLI's default)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rounds", type=int, default=3, help="interleaved runs per configuration (median)")
    parser.add_argument("--control-sleep", type=float, default=0.1, help="seconds per frame of the control graph")
    parser.add_argument("--dask-defaults", action="store_true",
                        help="start the clusters with Dask's default housekeeping (no QUIET_CONFIG: as before)")
    parser.add_argument("--no-ceiling", action="store_true",
                        help="skip the control of what the machine allows (independent processes, no Dask)")
    parser.add_argument("--json", default="benchmarks/results/dask_scaling.json")
    args = parser.parse_args()

    import dask
    import dask_scaling as me  # this file by its module name (a worker cannot import __main__)
    from distributed import Client, LocalCluster

    from nodeflow.execute_dask import (
        QUIET_CONFIG,
        batches_per_task,
        local_cluster_config,
        start_local_cluster,
    )

    torch.set_num_threads(1)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    cores = os.cpu_count() or 1
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
        clusters: list[tuple[int, str, list[int]]] = []
        startup: dict[int, float] = {}
        threads: dict[int, list[tuple[int, int]]] = {}
        with contextlib.ExitStack() as stack:
            for n in args.workers:  # every cluster up before measuring; rounds interleave the configs
                t0 = time.perf_counter()
                config = local_cluster_config()
                if args.dask_defaults:
                    config = {k: v for k, v in config.items() if k not in QUIET_CONFIG}
                with dask.config.set(config):
                    cluster = stack.enter_context(start_local_cluster(LocalCluster, n))
                    client = stack.enter_context(Client(cluster))
                startup[n] = time.perf_counter() - t0
                threads[n] = list(client.run(me.torch_threads).values())
                clusters.append((n, cluster.scheduler_address, list(client.run(os.getpid).values())))
            every = {pid for *_, pids in clusters for pid in pids}
            configs: list[tuple[str, int, str | None, CpuMeter]] = [("local", 1, None, CpuMeter([], every))]
            configs += [("dask", n, address, CpuMeter(pids, every)) for n, address, pids in clusters]
            runs: dict[tuple[str, int, str, int], list[dict[str, Any]]] = {
                (name, b, e, n): [] for name in graphs for b in args.batch_size for e, n, _, _ in configs}
            for _ in range(args.rounds):
                for name, make in graphs.items():
                    for b in args.batch_size:
                        for executor, n, address, meter in configs:
                            batches = -(-args.frames // b)
                            warm = 1 if executor == "local" else n * batches_per_task(b, batches, n)
                            runs[(name, b, executor, n)].append(timed_run(make, executor, b, address, warm, meter))
        ceiling = None if args.no_ceiling else machine_ceiling(folder, clip, args.model_size, max(args.batch_size),
                                                               args.rounds)

    rows: list[dict[str, Any]] = []
    for (name, b, executor, n), measured in runs.items():
        cpu = {k: statistics.median(r["cpu_ms_per_frame"][k] for r in measured) for k in CPU_PARTS}
        rows.append({"graph": name, "batch_size": b, "executor": executor, "workers": n,
                     "startup_s": startup.get(n) if executor == "dask" else 0.0,
                     "run_s": statistics.median(r["run_s"] for r in measured),
                     "steady_fps": statistics.median(r["steady_fps"] for r in measured),
                     "best_steady_fps": max(r["steady_fps"] for r in measured),
                     "cpu_ms_per_frame": cpu, "cpu_total_ms_per_frame": sum(cpu.values()), "rounds": measured})
    for r in rows:
        base = next(x for x in rows if x["graph"] == r["graph"] and x["batch_size"] == r["batch_size"]
                    and x["executor"] == "dask" and x["workers"] == 1)
        r["speedup"] = r["steady_fps"] / base["steady_fps"]
        r["best_speedup"] = r["best_steady_fps"] / base["best_steady_fps"]
        r["efficiency"] = r["speedup"] / r["workers"]
        nodes, total = r["cpu_ms_per_frame"][node_part(r)], r["cpu_total_ms_per_frame"]
        r["overhead_share"] = 1 - nodes / total if total > 0 else float("nan")
        r["cpu_allows_speedup"] = (min(r["workers"], cores * nodes / total)
                                   if total > 0 and r["executor"] == "dask" else float("nan"))
    print(f"Dask scaling: {args.frames} frames of {args.size}x{args.size}, 1 torch thread per process (workers: "
          f"{sorted(set(t for v in threads.values() for t in v))} intra-/inter-op), median of {args.rounds} "
          f"interleaved rounds; {cores} cores, load average {load:.1f} at start ({platform.machine()}, "
          f"torch {torch.__version__}){'; Dask default housekeeping' if args.dask_defaults else ''}")
    print("pipeline = LoadVideo -> Colorize -> AlphaOver -> Harmonize -> count; speed-up vs dask with 1 worker "
          "(same batch size); steady = after the first task of each worker")
    print(f"{'graph':<30} {'batch':>5} {'executor':<8} {'workers':>7} {'start s':>7} {'run s':>6} {'steady f/s':>10} "
          f"{'best f/s':>8} {'speed-up':>8} {'best':>6} {'effic.':>6} {'allows':>6}")
    for r in rows:
        print(f"{r['graph']:<30} {r['batch_size']:>5} {r['executor']:<8} {r['workers']:>7} {r['startup_s']:>7.1f} "
              f"{r['run_s']:>6.1f} {r['steady_fps']:>10.2f} {r['best_steady_fps']:>8.2f} {r['speedup']:>7.2f}x "
              f"{r['best_speedup']:>5.2f}x {r['efficiency']:>6.0%} {r['cpu_allows_speedup']:>5.2f}x")
    print("\nCPU ms per frame over the steady window (median), by process part; overhead = all but the nodes' own")
    print(f"{'graph':<30} {'batch':>5} {'executor':<8} {'workers':>7} " + " ".join(f"{k:>14}" for k in CPU_PARTS)
          + f" {'total':>7} {'overhead':>8}")
    for r in rows:
        print(f"{r['graph']:<30} {r['batch_size']:>5} {r['executor']:<8} {r['workers']:>7} "
              + " ".join(f"{r['cpu_ms_per_frame'][k]:>14.1f}" for k in CPU_PARTS)
              + f" {r['cpu_total_ms_per_frame']:>7.1f} {r['overhead_share']:>8.0%}")
    for b in args.batch_size:
        two = next((r for r in rows if r["graph"] == "pipeline" and r["batch_size"] == b and r["executor"] == "dask"
                    and r["workers"] == 2), None)
        if two is not None:
            print(f"target >= 1.8x with 2 workers (pipeline, batch {b}): "
                  f"{'met' if two['speedup'] >= 1.8 else 'NOT met'} ({two['speedup']:.2f}x median, "
                  f"{two['best_speedup']:.2f}x best; the CPU figures allow {two['cpu_allows_speedup']:.2f}x)")
    if ceiling is not None:
        print(f"machine ceiling (pipeline, local executor, batch {ceiling['batch_size']}): {ceiling['processes']} "
              f"independent processes at once {ceiling['fps_together']:.2f} f/s vs one alone {ceiling['fps_one']:.2f} "
              f"f/s = {ceiling['speedup']:.2f}x (no executor on this machine can scale beyond this)")
    load_end = os.getloadavg()[0]
    print(f"load average at start {load:.1f}, at the end {load_end:.1f} on {cores} cores "
          f"(above ~0.5 other processes share the cores: frames/s and speed-ups are figures under load)")
    result = {"frames": args.frames, "size": args.size, "batch_sizes": args.batch_size, "cores": cores,
              "load_average_at_start": load, "load_average_at_end": load_end, "torch": torch.__version__,
              "worker_torch_threads": {str(k): v for k, v in threads.items()},
              "dask_defaults": args.dask_defaults, "machine_ceiling": ceiling, "rows": rows}
    write_json_atomic(args.json, result)


if __name__ == "__main__":
    main()
