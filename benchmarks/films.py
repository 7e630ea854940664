"""Wall time of the demo graphs as a new user meets them: first run, cached re-run, a quick still.

Each graph runs through the CLI (a subprocess, as `make demo` does) with a fresh, empty
``NODEFLOW_CACHE_DIR``, so the first run pays for every training; the second run reuses the disk
cache; ``--frames 0:1`` then renders one still from that cache. Targets: first run <= 10 min on 2
cores, cached re-run <= 30 s.

    python benchmarks/films.py                       # both graphs, --threads 2
    python benchmarks/films.py --graphs past_film --threads 1
    python benchmarks/films.py --cache /tmp/films-cache --output-dir .   # keep the cache and outputs

The JSON records the load average before each run: figures measured on a busy machine are slower.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from nodeflow.atomic import write_json_atomic  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "films.json"
TARGETS = {"first": 600.0, "cached": 30.0}


def run(graph: Path, out_dir: Path, cache: Path, threads: int, extra: list[str]) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "nodeflow.cli", "--threads", str(threads), "run", str(graph),
           "--output-dir", str(out_dir), *extra]
    env = {**os.environ, "NODEFLOW_CACHE_DIR": str(cache), "OMP_NUM_THREADS": str(threads)}
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        print(proc.stdout[-2000:], proc.stderr[-2000:], sep="\n")
    return {"seconds": round(seconds, 1), "exit": proc.returncode, "load_before": round(load, 2),
            "args": extra}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--graphs", nargs="+", default=["past_film", "future_film"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cache", type=Path, help="keep each graph's disk cache in DIR/<graph> (must be new; default: temp)")
    ap.add_argument("--output-dir", type=Path, help="where the graphs write their files (default: a temp one)")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    for name in args.graphs:
        if args.cache and (args.cache / name).exists() and any((args.cache / name).iterdir()):
            print(f"{args.cache / name} is not empty: a first run would not train")
            return 2
    results: dict[str, Any] = {}
    for name in args.graphs:
        graph = ROOT / "graphs" / f"{name}.json"
        with tempfile.TemporaryDirectory(prefix=f"films-{name}-") as tmp:
            cache = args.cache / name if args.cache else Path(tmp) / "cache"
            out_dir = args.output_dir or Path(tmp) / "out"
            results[name] = {"first": run(graph, out_dir, cache, args.threads, []),
                             "cached": run(graph, out_dir, cache, args.threads, []),
                             "still": run(graph, out_dir, cache, args.threads, ["--frames", "0:1"])}
        print(f"{name}: " + ", ".join(f"{k} {v['seconds']:.1f} s (exit {v['exit']}, load {v['load_before']})"
                                      for k, v in results[name].items()))
    print(f"\n{'graph':12} {'first run':>10} {'target':>7} {'cached':>8} {'target':>7} {'still':>7}")
    for name, r in results.items():
        print(f"{name:12} {r['first']['seconds']:9.1f}s {TARGETS['first']:6.0f}s {r['cached']['seconds']:7.1f}s "
              f"{TARGETS['cached']:6.0f}s {r['still']['seconds']:6.1f}s")
    payload = {"threads": args.threads, "cpus": os.cpu_count(), "results": results}
    write_json_atomic(args.out, payload)
    print(f"wrote {args.out}")
    return 0 if all(v["exit"] == 0 for r in results.values() for v in r.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
