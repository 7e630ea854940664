"""Which torch build scripts/setup.sh installs: the decision, kept apart so it can be tested offline.

    python scripts/torch_choice.py --cuda auto|yes|no [--cpu-index URL] < pip-report.json

Reads the JSON that ``pip install --dry-run --no-deps --report - torch==PIN`` printed (what the
*configured* index would install; no download of the wheel itself) and prints the extra pip
arguments for the real install, one per line:

- a CUDA machine, or a configured index that already offers a CPU build (a ``+cpu`` version,
  or a wheel that needs no ``nvidia-*`` packages: macOS, Windows, this machine's wheel folder):
  nothing extra, the configured index is used as is;
- otherwise (Linux without CUDA, where plain PyPI's torch is the CUDA build of several GB):
  ``--extra-index-url`` PyTorch's CPU wheel index (``--cpu-index``, default below; empty to
  disable), so the ``+cpu`` build of the same pinned version wins. setup.sh retries with the
  configured index alone if that index cannot be reached.

The reason goes to stderr so setup.sh can say what it did.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

CPU_INDEX = "https://download.pytorch.org/whl/cpu"


@dataclass(frozen=True)
class Offer:
    """What the configured index would install for the pinned torch."""

    version: str
    url: str
    requires: tuple[str, ...]

    @property
    def is_cuda_build(self) -> bool:
        if "+cpu" in self.version:
            return False
        return "+cu" in self.version or any(r.lower().startswith("nvidia-") for r in self.requires)


def parse_report(text: str) -> Offer | None:
    """The torch entry of a ``pip install --report`` JSON, or None if there is none (pip failed)."""
    try:
        report = json.loads(text)
    except (json.JSONDecodeError, TypeError):
        return None
    for item in report.get("install", []):
        meta = item.get("metadata", {})
        if str(meta.get("name", "")).lower() == "torch":
            return Offer(str(meta.get("version", "")), str(item.get("download_info", {}).get("url", "")),
                         tuple(meta.get("requires_dist") or ()))
    return None


def has_cuda() -> bool:
    """An NVIDIA driver is present (the CUDA build would be usable)."""
    if Path("/proc/driver/nvidia/version").exists():
        return True
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return False
    try:
        return subprocess.run([smi, "-L"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def choose(offer: Offer | None, *, cuda: bool, platform: str = sys.platform,
           cpu_index: str = CPU_INDEX) -> tuple[list[str], str]:
    """(extra pip arguments, reason)."""
    if cuda:
        return [], "CUDA machine: the configured index's torch (on PyPI the CUDA build)"
    if offer is None:
        return [], "could not ask the configured index what it offers; installing from it as is"
    if not offer.is_cuda_build:
        return [], f"the configured index offers a CPU build ({offer.version})"
    if not platform.startswith("linux"):
        return [], f"{platform}: PyPI's torch is the CPU build"
    if not cpu_index:
        return [], (f"no CUDA, but the configured index offers a CUDA build ({offer.version}) and the CPU "
                    "index fallback is disabled (NODEFLOW_TORCH_CPU_INDEX is empty)")
    return ["--extra-index-url", cpu_index], (f"no CUDA and the configured index offers a CUDA build "
                                              f"({offer.version}): adding the CPU wheel index {cpu_index}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cuda", choices=["auto", "yes", "no"], default="auto")
    parser.add_argument("--cpu-index", default=os.environ.get("NODEFLOW_TORCH_CPU_INDEX", CPU_INDEX))
    parser.add_argument("--platform", default=sys.platform)
    args = parser.parse_args(argv)
    cuda = has_cuda() if args.cuda == "auto" else args.cuda == "yes"
    extra, reason = choose(parse_report(sys.stdin.read()), cuda=cuda, platform=args.platform,
                           cpu_index=args.cpu_index)
    print(f"torch: {reason}", file=sys.stderr)
    for arg in extra:
        print(arg)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
