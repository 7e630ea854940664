"""Dask scaling: frames/s of a CPU-bound graph on 1 vs 2 worker processes (and the local executor),
how stable that figure is, and where each process's CPU goes.

    python benchmarks/dask_scaling.py [--frames 576] [--size 256] [--model-size 128] [--batch-size 2 8]
                                      [--workers 1 2] [--rounds 5] [--json benchmarks/results/dask_scaling.json]

The graph is the past-film pipeline over a real video file: LoadVideo (a B&W clip) -> Colorize
(Pix2Pix) -> AlphaOver (a cut-out person) -> Harmonize (SinGAN) -> a sink that only counts;
Harmonize decides on a reference still (the same paste on the clip's first frame, at the clip's
size), as in the shipped demo graphs, so no worker replays the run's first batch. The
models are trained first (tiny: their quality does not matter here, their inference cost does)
and cached, so every run measures the per-frame work. Each worker is one process with one torch
thread; the local executor gets one thread too. Clusters are started as the executor starts its
own (``nodeflow.execute_dask.local_cluster_config``: Dask's housekeeping slowed down).

Two rates per run, both from the run's ``FramesDone`` events (results arrive in frame order):

- **steady**: the least-squares slope of frames done over time between 25 % and 90 % of the clip.
  It leaves out each worker's first task (node instances made, the video opened) and the tail (with N tasks on 2
  workers the last one may run alone), the same window for every configuration. A slope over
  many tasks is not thrown off by one result that waited for its predecessor, as a rate between
  two marks is (with 48 frames that window held 4 tasks, and one round showed an impossible 2.6x).
- **clip**: what a user sees per frame: all the frames over the time from the end of the static
  nodes (models loaded, the photo cut out) to the last frame done. It includes the executor's
  per-run set-up (connecting, sending the models: ``setup s``), the first tasks and the tail;
  only the cluster's start-up and the static nodes, the same for every configuration, are left out.

Configurations are measured in interleaved rounds (so a burst of load from other processes hits
them alike); a speed-up is taken per round (2 workers / 1 worker of the same round), and the table
gives the median with its spread (min-max) over the rounds. Efficiency = speed-up / workers.
Target: >= 1.8x with 2 workers on 2 free cores: the median over the rounds of the clip rate's
speed-up (each batch size's line also says in how many rounds it was reached).

With runs of consecutive frames per worker (the executor's ``RUN_FRAMES``; 192 frames on 2
workers: 0-95 and 96-191) the results of the second worker's run wait for the first's and arrive
in a burst, so on 2 workers the *steady* slope no longer measures a rate (it is kept for
``--run-frames 0``, the alternating tasks before); the *clip* rate is the figure then.

Over the whole clip (from the executor's line before its first task, for ``local`` the end of
the static nodes, to the last frame; per-worker start-up included, alike for every
configuration) the CPU time of every process is read (``psutil``, per thread):
this process's main thread (the run loop and the sinks; for ``local`` all the nodes), its other
threads (Dask's scheduler, nannies and client comms run here with a local cluster), its children
(ffmpeg), and in each worker the task thread (the nodes), the rest of the worker (Dask's event
loop: tasks, results, events) and its ffmpeg. Divided by the frames, these depend much less on
the load from other processes than frames/s do (Dask's timed housekeeping still costs more per
frame when frames come slower); "allows" is the speed-up those CPU figures allow on ``cores``
free cores, min(workers, cores x node CPU / total CPU): with one worker its nodes have a core to
themselves, with more all the processes share the cores.

A control graph (LoadVideo -> a node that sleeps per frame -> count, at the largest batch size)
is measured alike: it needs no CPU, so its speed-up shows what the executor itself allows when the
cores are busy with other work (a shared machine), apart from how much CPU the workers get.

The machine ceiling (skip with ``--no-ceiling``) runs the pipeline with the local executor in two
independent processes at once (no Dask, nothing shared, each the whole clip) vs one alone: on a VM
two busy cores can slow each other, and no executor can scale beyond that figure. It is measured at
every batch size (how much two processes slow each other depends on the work's size: small batches
are bound more by shared caches and memory), and each speed-up is given as a share of the ceiling at
its own batch size.

The default clip is 576 frames (24 s of film): each worker's start-up (its node instances, the models,
opening the video, the seek to its first run) is paid once per run and is a share of the clip a
long render does not see; on 192 frames it still cost 5-8 % of the 2-worker clip rate (quiet
machine: clip 1.72-1.76x, 1.84x on 576 frames). ``--rounds 3 --no-control --no-ceiling --no-local``
takes about 5 min on a quiet 2-core machine; the full default 37-69 min (two hosts).
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

import numpy as np
import psutil
import torch

from nodeflow.atomic import write_json_atomic
from nodeflow.events import FramesDone, LogMessage, NodeFinished
from nodeflow.graph import Graph
from nodeflow.node import Input, Node, Output
from nodeflow.params import NodeParams
from nodeflow.registry import default_registry
from nodeflow.session import Session
from nodeflow.types import IMAGE

TARGET = 1.8
"""Speed-up wanted with 2 workers on 2 cores."""
WINDOW = (0.25, 0.9)
"""The steady window: frames done from this share of the clip to that one."""


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
    still_paste = g.add("AlphaOver", id="still_paste", background=colour_still.image, foreground=subject.image,
                        scale=0.45, x=0.8, y=0.66)  # the shot's reference, as the demo graphs wire it
    harmonize = g.add("Harmonize", id="harmonize", composite=paste.image, mask=paste.mask,
                      reference=still_paste.image, reference_mask=still_paste.mask,
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


def window_marks(frames: int, batch_size: int) -> tuple[int, int]:
    """The first and the last ``FramesDone.done`` inside the steady window (:data:`WINDOW`)."""
    done = [min(i + batch_size, frames) for i in range(0, frames, batch_size)]
    inside = [d for d in done if WINDOW[0] * frames <= d <= WINDOW[1] * frames]
    if len(inside) < 3:
        raise SystemExit(f"{frames} frames in batches of {batch_size}: {len(inside)} batches end inside the steady "
                         f"window ({WINDOW[0]:.0%}-{WINDOW[1]:.0%} of the clip); use more --frames")
    return inside[0], inside[-1]


def slope(marks: list[tuple[float, int]]) -> float:
    """Frames per second: least-squares slope of frames done over time."""
    t, done = np.array([m[0] for m in marks]), np.array([m[1] for m in marks], dtype=float)
    return float(np.polyfit(t - t[0], done, 1)[0])


def timed_run(make: Callable[[], Graph], executor: str, batch_size: int, scheduler: str | None,
              meter: CpuMeter, first_round: int = 1) -> dict[str, Any]:
    """One run in a fresh session (models from the disk cache, no per-batch results in memory).

    ``first_round``: batches in the first round of tasks, for the rate this benchmark gave before
    (``round_fps``: from the end of that round to the last batch; kept to compare)."""
    g = make()
    plan = g.session.plan(g.spec, base_dir=g.base_dir, output_dir=g.base_dir)
    static = {pn.id for pn in plan.static}
    total = plan.frame_count or 0
    lo, hi = window_marks(total, batch_size)
    marks: list[tuple[float, int]] = []
    cpu: dict[int, dict[str, float]] = {}
    times: dict[str, float] = {}
    events: dict[str, int] = {}

    def on_event(event: object) -> None:
        now = time.perf_counter()
        events[type(event).__name__] = events.get(type(event).__name__, 0) + 1
        if isinstance(event, NodeFinished) and event.node_id in static and not marks:
            times["static_done"] = now
            cpu[-1] = meter.read()  # local: the frames start here
        elif isinstance(event, LogMessage) and event.node_id is None and event.message.startswith("dask: ") \
                and "tasks of" in event.message:
            times["first_task"] = now  # the executor's line before it submits the first task
            cpu[-1] = meter.read()
        elif isinstance(event, FramesDone):
            marks.append((now, event.done))
            if event.done in (lo, hi, total):
                cpu[event.done] = meter.read()  # (a few ms, inside the window)

    cpu[-1] = meter.read()  # replaced when the static nodes end (they may all come from the cache: no event)
    t0 = time.perf_counter()
    g.session.run_plan(plan, device="cpu", batch_size=batch_size, listeners=[on_event], executor=executor,
                       scheduler=scheduler)
    run_s = time.perf_counter() - t0
    t_end, frames = marks[-1]
    begin = times.get("static_done", t0)
    steady = [m for m in marks if lo <= m[1] <= hi]
    per_frame = {k: 1000 * (cpu[total][k] - cpu[-1][k]) / total for k in CPU_PARTS}
    per_frame_steady = {k: 1000 * (cpu[hi][k] - cpu[lo][k]) / (hi - lo) for k in CPU_PARTS}
    (t_round, n_round) = marks[min(first_round, len(marks) - 1) - 1]
    return {"run_s": run_s, "steady_fps": slope(steady), "steady_frames": [lo, hi], "clip_fps": frames / (t_end - begin),
            "round_fps": (frames - n_round) / (t_end - t_round),
            "setup_s": times["first_task"] - begin if "first_task" in times else 0.0,
            "cpu_ms_per_frame": per_frame, "cpu_ms_per_frame_steady": per_frame_steady, "events": events}


def ceiling_child(folder: str, clip: str, model_size: int, batch_size: int, start: Any, out: Any) -> None:
    """One independent process rendering the whole clip with the local executor (1 torch thread)."""
    torch.set_num_threads(1)
    registry = default_registry()
    registry.register(CountFrames)
    make = lambda: pipeline(Path(folder), Path(clip), Session(registry=registry, cache_dir=Path(folder) / "cache"),  # noqa: E731
                            model_size)
    make().run(device="cpu", frames=range(1))  # models from the disk cache, imports warm
    start.wait()  # all processes measure at the same time
    run = timed_run(make, "local", batch_size, None, CpuMeter([], set()))
    out.put((run["steady_fps"], run["clip_fps"]))


def machine_ceiling(folder: Path, clip: Path, model_size: int, batch_size: int, rounds: int,
                    processes: int = 2) -> dict[str, Any]:
    """What the machine itself allows: frames/s of ``processes`` independent processes (no Dask, nothing
    shared) rendering the clip at the same time, vs one such process alone, per round (median, spread).
    Two busy cores of a VM can slow each other (shared caches, memory bandwidth, a host's hyper-threads);
    no executor beats this."""
    import multiprocessing as mp

    import dask_scaling as me  # by module name: a spawned child cannot import __main__'s functions otherwise

    ctx = mp.get_context("spawn")
    rates: dict[int, list[tuple[float, float]]] = {1: [], processes: []}
    for _ in range(rounds):
        for n in rates:
            start, out = ctx.Barrier(n), ctx.Queue()
            procs = [ctx.Process(target=me.ceiling_child, args=(str(folder), str(clip), model_size, batch_size,
                                                                 start, out)) for _ in range(n)]
            for p in procs:
                p.start()
            got = [out.get(timeout=600) for _ in procs]
            rates[n].append((sum(g[0] for g in got), sum(g[1] for g in got)))
            for p in procs:
                p.join()
    result: dict[str, Any] = {"batch_size": batch_size, "processes": processes, "rounds": rounds}
    for i, rate in enumerate(("steady", "clip")):
        ratios = [many[i] / one[i] for one, many in zip(rates[1], rates[processes], strict=True)]
        result[rate] = {"fps_one": statistics.median(r[i] for r in rates[1]),
                        "fps_together": statistics.median(r[i] for r in rates[processes]), **spread(ratios)}
    return result


def spread(values: list[float]) -> dict[str, Any]:
    """Median, min and max of per-round figures (and the figures)."""
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "rounds": values}


def node_part(row: dict[str, Any]) -> str:
    """The CPU part that is the nodes' own work for this row's executor."""
    return "client main" if row["executor"] == "local" else "workers nodes"


Config = tuple[str, int, str | None, CpuMeter]
"""(executor, workers, scheduler address, CPU meter)"""


def measure(args: argparse.Namespace, folder: Path, clip: Path) -> tuple[dict[tuple[str, int, str, int], list], dict]:
    """Every configuration's runs, in interleaved rounds, and facts about the clusters."""
    import dask
    import dask_scaling as me  # this file by its module name (a worker cannot import __main__)
    from distributed import Client, LocalCluster

    import nodeflow.execute_dask as execute_dask
    from nodeflow.execute_dask import (
        QUIET_CONFIG,
        batches_per_task,
        local_cluster_config,
        start_local_cluster,
    )

    registry = default_registry()
    registry.register(CountFrames)
    registry.register(me.Wait)  # by its module's name, so that worker processes can import it

    def session() -> Session:
        return Session(registry=registry, cache_dir=folder / "cache")

    control_name = f"control: sleep {args.control_sleep:g} s/frame"
    graphs: dict[str, Callable[[], Graph]] = {
        "pipeline": lambda: pipeline(folder, clip, session(), args.model_size),
        control_name: lambda: control(folder, clip, session(), args.control_sleep),
    }
    batch_sizes = {"pipeline": args.batch_size, control_name: [max(args.batch_size)]}
    if args.no_control:
        del graphs[control_name]
    graphs["pipeline"]().run(device="cpu", frames=range(1))  # trains the models once, into the disk cache
    clusters: list[tuple[int, str, list[int]]] = []
    facts: dict[str, Any] = {"startup_s": {}, "worker_torch_threads": {}}
    with contextlib.ExitStack() as stack:
        for n in args.workers:  # every cluster up before measuring; rounds interleave the configs
            t0 = time.perf_counter()
            config = local_cluster_config()
            if args.dask_defaults:
                config = {k: v for k, v in config.items() if k not in QUIET_CONFIG}
            with dask.config.set(config):
                cluster = stack.enter_context(start_local_cluster(LocalCluster, n))
                client = stack.enter_context(Client(cluster))
            facts["startup_s"][n] = time.perf_counter() - t0
            facts["worker_torch_threads"][str(n)] = list(client.run(me.torch_threads).values())
            clusters.append((n, cluster.scheduler_address, list(client.run(os.getpid).values())))
        for _, address, _ in clusters:  # workers import torch and the nodes, open ffmpeg once: start-up, not a run
            warm = graphs["pipeline"]()
            warm.session.run_plan(warm.session.plan(warm.spec, base_dir=folder, output_dir=folder), device="cpu",
                                  frames=range(16), batch_size=4, executor="dask", scheduler=address)
        every = {pid for *_, pids in clusters for pid in pids}
        configs: list[Config] = [] if args.no_local else [("local", 1, None, CpuMeter([], every))]
        configs += [("dask", n, address, CpuMeter(pids, every)) for n, address, pids in clusters]
        runs: dict[tuple[str, int, str, int], list[dict[str, Any]]] = {
            (name, b, e, n): [] for name in graphs for b in batch_sizes[name] for e, n, _, _ in configs}
        for r in range(args.rounds):
            for name, make in graphs.items():
                for b in batch_sizes[name]:
                    for executor, n, address, meter in configs:
                        first = 1 if executor == "local" else n * batches_per_task(b, -(-args.frames // b), n,
                                                                                  execute_dask.MIN_TASK_FRAMES)
                        runs[(name, b, executor, n)].append(timed_run(make, executor, b, address, meter, first))
            print(f"round {r + 1}/{args.rounds} done", flush=True)
    return runs, facts


def summarise(runs: dict[tuple[str, int, str, int], list[dict[str, Any]]], cores: int,
              startup: dict[int, float]) -> list[dict[str, Any]]:
    """One row per configuration: medians and per-round speed-ups vs Dask with 1 worker."""
    rows: list[dict[str, Any]] = []
    for (name, b, executor, n), measured in runs.items():
        cpu = {k: statistics.median(r["cpu_ms_per_frame"][k] for r in measured) for k in CPU_PARTS}
        base = runs.get((name, b, "dask", 1))
        row = {"graph": name, "batch_size": b, "executor": executor, "workers": n,
               "startup_s": startup.get(n, 0.0) if executor == "dask" else 0.0,
               "run_s": statistics.median(r["run_s"] for r in measured),
               "setup_s": statistics.median(r["setup_s"] for r in measured),
               "cpu_ms_per_frame": cpu, "cpu_total_ms_per_frame": sum(cpu.values()), "rounds": measured}
        for rate in ("steady", "clip", "round"):
            row[f"{rate}_fps"] = spread([r[f"{rate}_fps"] for r in measured])
            if base is not None:  # per round: the runs of one round were measured close in time
                row[f"{rate}_speedup"] = spread([r[f"{rate}_fps"] / one[f"{rate}_fps"]
                                                 for r, one in zip(measured, base, strict=True)])
        nodes, total = cpu[node_part(row)], row["cpu_total_ms_per_frame"]
        row["efficiency"] = row["clip_speedup"]["median"] / n if base is not None else float("nan")
        row["overhead_share"] = 1 - nodes / total if total > 0 else float("nan")
        # Shares of the clip's wall time: all the cores, and each node thread (idle gaps show here)
        row["cores_busy"] = statistics.median(sum(r["cpu_ms_per_frame"].values()) * r["clip_fps"] / (1000 * cores)
                                              for r in measured)
        row["nodes_busy"] = statistics.median(r["cpu_ms_per_frame"][node_part(row)] * r["clip_fps"] / (1000 * n)
                                              for r in measured)
        row["cpu_allows_speedup"] = (min(n, cores * nodes / total) if total > 0 and executor == "dask"
                                     else float("nan"))
        rows.append(row)
    return rows


def _range(s: dict[str, Any] | None, unit: str = "x") -> str:
    if s is None:
        return "-"
    return f"{s['median']:.2f}{unit} [{s['min']:.2f}-{s['max']:.2f}]"


def report(args: argparse.Namespace, rows: list[dict[str, Any]], ceilings: dict[int, dict[str, Any]], cores: int,
           load: float, threads: dict[str, Any]) -> None:
    print(f"\nDask scaling: {args.frames} frames of {args.size}x{args.size}, 1 torch thread per process (workers: "
          f"{sorted(set(tuple(t) for v in threads.values() for t in v))} intra-/inter-op), {args.rounds} interleaved "
          f"rounds: median [min-max]; {cores} cores, load average {load:.1f} at start ({platform.machine()}, "
          f"torch {torch.__version__}){'; Dask default housekeeping' if args.dask_defaults else ''}")
    print(f"pipeline = LoadVideo -> Colorize -> AlphaOver -> Harmonize -> count; steady = slope over "
          f"{WINDOW[0]:.0%}-{WINDOW[1]:.0%} of the clip, clip = all frames from the end of the static nodes; "
          "speed-up per round vs dask with 1 worker (same batch size); old window = this benchmark's rate "
          "before: from the end of the first round of tasks to the last batch (biased, see the module doc)")
    print(f"{'graph':<28} {'batch':>5} {'executor':<8} {'workers':>7} {'start s':>7} {'setup s':>7} {'run s':>6} "
          f"{'steady f/s':>22} {'steady speed-up':>22} {'clip speed-up':>22} {'old window':>22} {'effic.':>6} "
          f"{'allows':>6}")
    for r in rows:
        print(f"{r['graph']:<28} {r['batch_size']:>5} {r['executor']:<8} {r['workers']:>7} {r['startup_s']:>7.1f} "
              f"{r['setup_s']:>7.2f} {r['run_s']:>6.1f} {_range(r['steady_fps'], ''):>22} "
              f"{_range(r.get('steady_speedup')):>22} {_range(r.get('clip_speedup')):>22} "
              f"{_range(r.get('round_speedup')):>22} "
              f"{r['efficiency']:>6.0%} {r['cpu_allows_speedup']:>5.2f}x")
    print("\nCPU ms per frame over the clip (median), by process part; overhead = all but the nodes' own; "
          "busy = CPU used / wall time, of all the cores and of each node thread (a worker's task thread)")
    print(f"{'graph':<28} {'batch':>5} {'executor':<8} {'workers':>7} " + " ".join(f"{k:>14}" for k in CPU_PARTS)
          + f" {'total':>7} {'overhead':>8} {'cores busy':>10} {'nodes busy':>10}")
    for r in rows:
        print(f"{r['graph']:<28} {r['batch_size']:>5} {r['executor']:<8} {r['workers']:>7} "
              + " ".join(f"{r['cpu_ms_per_frame'][k]:>14.1f}" for k in CPU_PARTS)
              + f" {r['cpu_total_ms_per_frame']:>7.1f} {r['overhead_share']:>8.0%} {r['cores_busy']:>10.0%}"
              f" {r['nodes_busy']:>10.0%}")
    for ceiling in ceilings.values():
        for rate in ("steady", "clip"):
            c = ceiling[rate]
            print(f"machine ceiling ({rate}, pipeline, local executor, batch {ceiling['batch_size']}): "
                  f"{ceiling['processes']} independent processes at once {c['fps_together']:.2f} f/s vs one alone "
                  f"{c['fps_one']:.2f} f/s = {_range(c)} (no executor on this machine can scale beyond this)")
    for r in rows:
        if r["graph"] != "pipeline" or r["executor"] != "dask" or r["workers"] != 2:
            continue
        s = r["clip_speedup"]  # runs of frames per worker: the steady slope sees bursts (see the module doc)
        met = sum(v >= TARGET for v in s["rounds"])
        ceiling = ceilings.get(r["batch_size"])
        share = "" if ceiling is None else (
            f"; {r['steady_speedup']['median'] / ceiling['steady']['median']:.0%} of the machine ceiling, "
            f"clip {s['median'] / ceiling['clip']['median']:.0%}")
        print(f"target >= {TARGET}x with 2 workers (pipeline, batch {r['batch_size']}, median clip speed-up): "
              f"{'met' if s['median'] >= TARGET else 'NOT met'}: clip {_range(s)}, reached in {met} of "
              f"{len(s['rounds'])} rounds; steady {_range(r['steady_speedup'])}; the CPU figures allow "
              f"{r['cpu_allows_speedup']:.2f}x{share}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=576)
    parser.add_argument("--size", type=int, default=256, help="frame width and height")
    parser.add_argument("--model-size", type=int, default=128, help="SinGAN's finest scale (Harmonize's cost)")
    parser.add_argument("--batch-size", type=int, nargs="+", default=[2, 8],
                        help="frames per batch (8 is the CLI's default)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rounds", type=int, default=5, help="interleaved runs per configuration")
    parser.add_argument("--ceiling-rounds", type=int, default=3, help="rounds of the machine ceiling")
    parser.add_argument("--control-sleep", type=float, default=0.05, help="seconds per frame of the control graph")
    parser.add_argument("--no-control", action="store_true", help="skip the control graph")
    parser.add_argument("--no-local", action="store_true", help="skip the local executor's rows")
    parser.add_argument("--dask-defaults", action="store_true",
                        help="start the clusters with Dask's default housekeeping (no QUIET_CONFIG: as before)")
    parser.add_argument("--no-ceiling", action="store_true",
                        help="skip the control of what the machine allows (independent processes, no Dask)")
    parser.add_argument("--run-frames", type=int, default=None,
                        help="frames a worker computes in a row (default: the executor's RUN_FRAMES; 0: tasks "
                             "alternate between the workers, as before, each reader decoding the frames it skips)")
    parser.add_argument("--min-task-frames", type=int, default=None,
                        help="frames one task computes at least (default: the executor's MIN_TASK_FRAMES)")
    parser.add_argument("--json", default="benchmarks/results/dask_scaling.json")
    args = parser.parse_args()
    if 1 not in args.workers:
        parser.error("--workers must include 1 (the speed-ups are against one worker)")

    torch.set_num_threads(1)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if args.run_frames is not None:  # read by the executor in this process when a run starts
        import nodeflow.execute_dask as execute_dask

        execute_dask.RUN_FRAMES = args.run_frames
    if args.min_task_frames is not None:
        import nodeflow.execute_dask as execute_dask

        execute_dask.MIN_TASK_FRAMES = args.min_task_frames
    cores = os.cpu_count() or 1
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="nodeflow-dask-bench-") as tmp:
        folder = Path(tmp)
        clip = write_clip(folder, args.frames, args.size)
        runs, facts = measure(args, folder, clip)
        ceilings = {} if args.no_ceiling else {b: machine_ceiling(folder, clip, args.model_size, b, args.ceiling_rounds)
                                               for b in args.batch_size}
    rows = summarise(runs, cores, facts["startup_s"])
    report(args, rows, ceilings, cores, load, facts["worker_torch_threads"])
    load_end = os.getloadavg()[0]
    elapsed = time.perf_counter() - t0
    print(f"load average at start {load:.1f}, at the end {load_end:.1f} on {cores} cores (above ~0.5 other "
          f"processes share the cores: frames/s and speed-ups are figures under load); took {elapsed / 60:.1f} min")
    result = {"frames": args.frames, "size": args.size, "batch_sizes": args.batch_size, "rounds": args.rounds,
              "window": WINDOW, "cores": cores, "load_average_at_start": load, "load_average_at_end": load_end,
              "elapsed_s": elapsed, "torch": torch.__version__, "run_frames": args.run_frames,
              "min_task_frames": args.min_task_frames,
              "worker_torch_threads": facts["worker_torch_threads"], "dask_defaults": args.dask_defaults,
              "machine_ceiling": list(ceilings.values()), "rows": rows}
    write_json_atomic(args.json, result)


if __name__ == "__main__":
    main()
