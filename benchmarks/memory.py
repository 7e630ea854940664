"""Peak memory over the clip length: a compositing graph at 10, 1 000 and 10 000 frames.

    python benchmarks/memory.py [--sizes 10,1000,10000] [--width 160] [--device auto]
                                [--json benchmarks/results/memory.json]
    python benchmarks/memory.py --old-defaults --sizes 10,1000 --json benchmarks/results/memory_old_defaults.json

The graph is what a user renders: a pan over a photo (CameraMove), a cut-out pasted on it
(AlphaOver), a blur, with the session's caches at their defaults (ON) and the outputs
summarised as the CLI does. Each size runs in a fresh subprocess; its peak RSS comes from the
kernel (``wait4``) and, on CUDA, its peak allocated GPU memory from torch. Target: peak at
10 000 frames / peak at 10 frames <= 1.2. Prints a table and writes JSON.

``--old-defaults`` shows what the engine did before per-batch results got their own budget: every
batch of every time-varying node in the 2 GiB memory LRU and the outputs concatenated over the clip.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

TARGET_RATIO = 1.2


def build_graph(frames: int, width: int):
    from nodeflow.graph import Graph

    g = Graph(base_dir=Path.cwd())
    photo = g.add("SampleImage", id="photo", name="astronaut", max_size=4 * width)
    move = g.add("CameraMove", id="move", image=photo.image, frames=frames, width=width,
                 height=width * 3 // 4, end_zoom=2.0)
    cat = g.add("SampleImage", id="cat", name="logo", max_size=width // 2)
    comp = g.add("AlphaOver", id="comp", background=move.image, foreground=cat.image, x=0.3, y=0.6)
    soft = g.add("Blur", id="soft", image=comp.image, size=1.0)
    g.output("film", soft.image)
    return g


def child(frames: int, width: int, device: str, batch_size: int, old_defaults: bool) -> None:
    """Render once and print what the parent cannot see from outside (time, CUDA peak)."""
    import torch

    from nodeflow.session import Session

    g = build_graph(frames, width)
    # default budgets: the cache is on (old defaults: per-batch results in the main 2 GiB budget)
    session = Session(registry=g.registry, frame_memory_bytes=2 << 30 if old_defaults else 0)
    if old_defaults:
        session.frame_memory = session.memory
    plan = session.plan(g.spec, base_dir=g.base_dir)
    t0 = time.perf_counter()
    out = session.run_plan(plan, device=device, batch_size=batch_size, collect_outputs=old_defaults)
    seconds = time.perf_counter() - t0
    cuda = torch.cuda.max_memory_allocated() if torch.cuda.is_available() else None
    film = out["film"]
    shape = list(film.shape)
    print(json.dumps({"frames": shape[0], "shape": shape, "seconds": seconds,
                      "cuda_peak_bytes": cuda, "memory_entries": len(session.memory),
                      "memory_bytes": session.memory.bytes, "frame_memory_entries": 0 if old_defaults else len(session.frame_memory)}))


def measure(frames: int, args: argparse.Namespace) -> dict:
    cmd = [sys.executable, __file__, "--child", str(frames), "--width", str(args.width),
           "--device", args.device, "--batch-size", str(args.batch_size)]
    if args.old_defaults:
        cmd.append("--old-defaults")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")})
    out = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{frames} frames: child failed ({proc.returncode})")
    row = json.loads(out.strip().splitlines()[-1])
    row["peak_rss_bytes"] = usage.ru_maxrss * 1024  # Linux reports KiB
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10,1000,10000")
    parser.add_argument("--width", type=int, default=160, help="frame width in px (height 3/4 of it)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--json", default="benchmarks/results/memory.json")
    parser.add_argument("--old-defaults", action="store_true",
                        help="per-batch results in the main memory budget, outputs concatenated (before)")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        import torch

        torch.set_num_threads(1)
        child(args.child, args.width, args.device, args.batch_size, args.old_defaults)
        return

    sizes = [int(s) for s in args.sizes.split(",")]
    rows = [measure(n, args) for n in sizes]
    base = rows[0]["peak_rss_bytes"]
    print(f"memory benchmark: CameraMove + AlphaOver + Blur, {args.width}x{args.width * 3 // 4} px, "
          f"batch {args.batch_size}, cache on{' (old defaults)' if args.old_defaults else ''} "
          f"({platform.machine()}, device {args.device})")
    print(f"{'frames':>8} {'peak RSS MiB':>13} {'ratio':>7} {'CUDA peak MiB':>14} {'cache entries':>14} {'s':>8}")
    for r in rows:
        cuda = f"{r['cuda_peak_bytes'] / 2**20:.1f}" if r["cuda_peak_bytes"] is not None else "-"
        r["ratio"] = r["peak_rss_bytes"] / base
        print(f"{r['frames']:>8} {r['peak_rss_bytes'] / 2**20:>13.1f} {r['ratio']:>7.3f} {cuda:>14} "
              f"{r['memory_entries'] + r['frame_memory_entries']:>14} {r['seconds']:>8.1f}")
    ratio = rows[-1]["peak_rss_bytes"] / base
    cuda_ok = True
    if rows[0]["cuda_peak_bytes"]:
        cuda_ok = rows[-1]["cuda_peak_bytes"] / rows[0]["cuda_peak_bytes"] <= TARGET_RATIO
    ok = ratio <= TARGET_RATIO and cuda_ok
    print(f"peak RSS {sizes[-1]} / {sizes[0]} frames = {ratio:.3f} (target <= {TARGET_RATIO}): "
          f"{'PASS' if ok else 'FAIL'}")

    from nodeflow.atomic import write_json_atomic

    result = {"graph": "SampleImage -> CameraMove -> AlphaOver(logo) -> Blur", "width": args.width,
              "batch_size": args.batch_size, "device": args.device, "old_defaults": args.old_defaults,
              "rows": rows,
              "ratio": ratio, "target_ratio": TARGET_RATIO, "pass": ok}
    write_json_atomic(args.json, result)
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
