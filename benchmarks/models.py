"""Model-node throughput: Colorize (Pix2Pix unet_256, L -> ab) and Stylize (CycleGAN resnet_9blocks).

    python benchmarks/models.py [--device auto] [--ngf N] [--iters N] [--sizes 256,512] [--batches 1,8]
                                [--json benchmarks/results/models.json]

Frames/s at each frame size and batch size, measured three ways on the same frames:

- ``forward``: the bare generator on ready-made network input (the ceiling);
- ``node``: the node's ``run`` called directly (Lab conversion / [-1, 1] mapping, padding, alpha);
- ``engine``: a graph run (frame source -> Colorize/Stylize -> null sink) through the executor.

``overhead`` = 1 - engine / forward (target <= 5 %); ``engine cost`` = 1 - engine / node is what the
executor itself adds. Each is the best of ``--rounds`` interleaved measurements. Random weights:
speed does not depend on them. The default run is short on a CPU (ngf 8, best of 2 measurements of 1 batch);
on CUDA it uses the real width (ngf 64), 10 batches and fp16 autocast, as the nodes do.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import torch
from pydantic import Field

from nodeflow.atomic import write_json_atomic
from nodeflow.context import RunContext
from nodeflow.devices import resolve_device
from nodeflow.graph import Graph
from nodeflow.node import Input, Node, Output
from nodeflow.nodes.cyclegan import NODES as CYCLEGAN_NODES
from nodeflow.nodes.cyclegan.handle import CycleGANHandle
from nodeflow.nodes.cyclegan.nodes import Stylize
from nodeflow.nodes.gan.inference import autocast
from nodeflow.nodes.gan.lab import lightness_norm
from nodeflow.nodes.pix2pix import NODES as PIX2PIX_NODES
from nodeflow.nodes.pix2pix.handle import Pix2PixHandle
from nodeflow.nodes.pix2pix.networks import GeneratorSpec
from nodeflow.nodes.pix2pix.nodes import Colorize
from nodeflow.params import NodeParams
from nodeflow.registry import Registry
from nodeflow.session import Session
from nodeflow.types import IMAGE

_FRAMES: dict[tuple[int, str], torch.Tensor] = {}


def bench_frames(size: int, device: torch.device, n: int = 8) -> torch.Tensor:
    """``n`` gray ``(3, size, size)`` frames on ``device`` (made once: the source must cost nothing)."""
    key = (size, str(device))
    if key not in _FRAMES:
        g = torch.Generator().manual_seed(size)
        gray = torch.rand(n, 1, size, size, generator=g)
        _FRAMES[key] = gray.expand(-1, 3, -1, -1).contiguous().to(device)
    return _FRAMES[key]


class BenchFrames(Node):
    """Frame source handing out pre-made frames (no decoding cost)."""

    frame_source = True
    outputs = (Output("image", IMAGE),)

    class Params(NodeParams):
        count: int = Field(8, ge=1)
        size: int = Field(256, ge=8)
        salt: int = Field(0, description="changes the cache key, so every timed run computes")

    def frame_count(self, ctx) -> int:
        return self.params.count

    def run(self, ctx) -> dict:
        return {"image": bench_frames(self.params.size, ctx.device)[:len(ctx.frames)]}


class NullSink(Node):
    """Consumes frames; waits for the device so that timings include the work."""

    sink = True
    inputs = (Input("image", IMAGE),)

    def run(self, ctx, image) -> dict:
        if image.is_cuda:
            torch.cuda.synchronize(image.device)
        return {}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn, iters: int, warmup: int, device: torch.device) -> float:
    """Seconds per call of ``fn`` after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    sync(device)
    t0 = time.perf_counter()
    for _ in range(iters):
        fn()
    sync(device)
    return (time.perf_counter() - t0) / iters


def make_models(ngf: int, device: torch.device, folder: Path) -> dict[str, dict]:
    torch.manual_seed(0)
    color_spec = GeneratorSpec("unet_256", 1, 2, ngf, "batch", dropout=True)
    colorizer = Pix2PixHandle(color_spec.build("normal").to(device), color_spec, mode="colorization")
    style_spec = GeneratorSpec("resnet_9blocks", 3, 3, ngf, "instance")
    stylizer = CycleGANHandle(style_spec.build("normal").to(device), style_spec)
    (folder / "colorizer").mkdir()
    colorizer.save(folder / "colorizer")
    (folder / "stylizer").mkdir()
    stylizer.save(folder / "stylizer")
    return {
        "Colorize": dict(handle=colorizer, net=colorizer.net, node=Colorize, loader="LoadPix2Pix",
                         folder=folder / "colorizer", params={"resolution": "full"},
                         net_input=lightness_norm),
        "Stylize": dict(handle=stylizer, net=stylizer.nets["AtoB"], node=Stylize, loader="LoadCycleGAN",
                        folder=folder / "stylizer", params={},
                        net_input=lambda frames: frames * 2 - 1),
    }


def measure(name: str, m: dict, size: int, batch: int, iters: int, rounds: int, device: torch.device,
            precision: str, registry: Registry) -> dict:
    """Best of ``rounds`` interleaved measurements (a shared machine's noise only ever slows a run)."""
    frames = bench_frames(size, device)[:batch]
    x = m["net_input"](frames)
    net = m["net"]

    def forward() -> None:
        with torch.no_grad(), autocast(device, precision):
            net(x)

    node = m["node"](m["node"].Params(**m["params"], precision=precision))
    ctx = RunContext(node_id="bench", node_type=name, device=device, seed=0, frames=tuple(range(batch)))

    def direct() -> None:
        node.run(ctx, image=frames, model=m["handle"])

    session = Session(registry=registry)
    g = Graph(registry=registry, session=session)
    g.add("BenchFrames", id="src", count=batch, size=size)
    g.add(m["loader"], id="load", path=str(m["folder"]))
    g.add(name, id="model_node", image=g.node("src").image, model=g.node("load").model, precision=precision,
          **m["params"])
    g.add("NullSink", id="sink", image=g.node("model_node").image)
    g.run(device=str(device), batch_size=batch)  # loads the model once (kept in the session), warms up
    g.set("src", count=batch * iters)

    salt = iter(range(1, 1 << 30))

    def engine() -> None:  # a fresh source key each time: no cached frames, the model stays loaded
        g.set("src", salt=next(salt))
        g.run(device=str(device), batch_size=batch)

    forward()
    direct()
    times: dict[str, list[float]] = {"forward": [], "node": [], "engine": []}
    for _ in range(rounds):
        times["forward"].append(timed(forward, iters, 0, device))
        times["node"].append(timed(direct, iters, 0, device))
        times["engine"].append(timed(engine, 1, 0, device) / iters)
    row = {"model": name, "size": size, "batch": batch}
    for way, ts in times.items():
        row[f"{way}_fps"] = batch / min(ts)
    row["overhead"] = 1 - row["engine_fps"] / row["forward_fps"]
    row["engine_cost"] = 1 - row["engine_fps"] / row["node_fps"]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--ngf", type=int, default=0, help="generator width (default: 64 on CUDA, 8 on CPU)")
    parser.add_argument("--iters", type=int, default=0, help="batches per measurement (default: 10 on CUDA, 1 on CPU)")
    parser.add_argument("--rounds", type=int, default=0, help="measurements per way, the best counts "
                                                              "(default: 3 on CUDA, 2 on CPU)")
    parser.add_argument("--sizes", default="256,512")
    parser.add_argument("--batches", default="1,8")
    parser.add_argument("--precision", default="auto", choices=["auto", "fp32", "fp16", "bf16"])
    parser.add_argument("--threads", type=int, default=0,
                        help="CPU threads (default: 1 on CPU, where a shared box's idle-spinning threads distort "
                             "timings; torch's default otherwise)")
    parser.add_argument("--json", default="benchmarks/results/models.json")
    args = parser.parse_args()

    device = resolve_device(args.device)
    cuda = device.type == "cuda"
    if args.threads or not cuda:
        torch.set_num_threads(args.threads or 1)
    ngf = args.ngf or (64 if cuda else 8)
    iters = args.iters or (10 if cuda else 1)
    args.rounds = args.rounds or (3 if cuda else 2)
    registry = Registry()
    for cls in (*PIX2PIX_NODES, *CYCLEGAN_NODES, BenchFrames, NullSink):
        registry.register(cls)

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        models = make_models(ngf, device, Path(tmp))
        for name, m in models.items():
            for size in (int(s) for s in args.sizes.split(",")):
                for batch in (int(b) for b in args.batches.split(",")):
                    rows.append(measure(name, m, size, batch, iters, args.rounds, device, args.precision,
                                        registry))

    print(f"device {device} ({torch.get_num_threads()} threads), ngf {ngf}, best of {args.rounds} x {iters} "
          f"batches, precision {args.precision}")
    head = f"{'node':9} {'size':>5} {'batch':>5} {'forward f/s':>12} {'node f/s':>10} {'engine f/s':>11} " \
           f"{'overhead':>9} {'engine cost':>12}"
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['model']:9} {r['size']:>5} {r['batch']:>5} {r['forward_fps']:>12.2f} {r['node_fps']:>10.2f} "
              f"{r['engine_fps']:>11.2f} {r['overhead']:>9.1%} {r['engine_cost']:>12.1%}")
    result = {"benchmark": "models", "device": str(device), "gpu": torch.cuda.get_device_name(device) if cuda
              else None, "cpu": platform.processor() or platform.machine(), "threads": torch.get_num_threads(),
              "torch": torch.__version__, "ngf": ngf, "iters": iters, "rounds": args.rounds, "precision": args.precision,
              "target_overhead": 0.05, "rows": rows}
    if args.json:
        path = Path(args.json)
        write_json_atomic(path, result)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
