"""scripts/torch_choice.py: which torch build set-up installs, from a fake pip index answer (no network)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "torch_choice.py"
CPU_URL = "https://download.pytorch.org/whl/cpu"


def report(version: str, requires: list[str], url: str = "https://files.example/torch.whl") -> str:
    """What ``pip install --dry-run --no-deps --report -`` prints for torch."""
    return json.dumps({"version": "1", "install": [{
        "download_info": {"url": url}, "is_direct": False, "requested": True,
        "metadata": {"name": "torch", "version": version, "requires_dist": requires}}]})


PYPI_LINUX = report("2.13.0", ["filelock", "nvidia-cuda-runtime-cu12==12.8.90; platform_system == \"Linux\"",
                               "nvidia-cudnn-cu12==9.10.2.21; platform_system == \"Linux\"", "sympy>=1.13.3"])
LOCAL_CPU = report("2.13.0+cpu", ["filelock", "sympy>=1.13.3"], url="file:///opt/wheels/torch-2.13.0%2Bcpu.whl")
MAC = report("2.13.0", ["filelock", "sympy>=1.13.3"])


def run(stdin: str, *args: str) -> tuple[list[str], str]:
    proc = subprocess.run([sys.executable, str(SCRIPT), *args], input=stdin, capture_output=True, text=True,
                          timeout=60, check=True)
    return proc.stdout.split(), proc.stderr


@pytest.mark.parametrize(("answer", "cuda", "platform", "expected", "says"), [
    (PYPI_LINUX, "no", "linux", ["--extra-index-url", CPU_URL], "offers a CUDA build (2.13.0)"),
    (PYPI_LINUX, "yes", "linux", [], "CUDA machine"),
    (LOCAL_CPU, "no", "linux", [], "offers a CPU build (2.13.0+cpu)"),  # this machine: no network needed
    (LOCAL_CPU, "yes", "linux", [], "CUDA machine"),
    (MAC, "no", "darwin", [], "offers a CPU build"),
    (PYPI_LINUX, "no", "darwin", [], "darwin: PyPI's torch is the CPU build"),
    ("", "no", "linux", [], "could not ask the configured index"),  # pip too old or the index unreachable
    ("not json", "no", "linux", [], "could not ask the configured index"),
])
def test_decision(answer, cuda, platform, expected, says):
    args, reason = run(answer, "--cuda", cuda, "--platform", platform)
    assert args == expected
    assert says in reason


def test_cpu_index_is_overridable_and_can_be_disabled(monkeypatch):
    args, _ = run(PYPI_LINUX, "--cuda", "no", "--platform", "linux", "--cpu-index", "https://mirror.example/cpu")
    assert args == ["--extra-index-url", "https://mirror.example/cpu"]
    args, reason = run(PYPI_LINUX, "--cuda", "no", "--platform", "linux", "--cpu-index", "")
    assert args == [] and "fallback is disabled" in reason


def test_a_cu_local_version_counts_as_cuda():
    args, _ = run(report("2.13.0+cu128", []), "--cuda", "no", "--platform", "linux")
    assert args == ["--extra-index-url", CPU_URL]
