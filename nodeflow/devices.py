"""``--device auto|cpu|cuda[:N]|mps`` to a ``torch.device``, with clear errors."""

from __future__ import annotations

import re

import torch

from nodeflow.errors import NodeflowError


class DeviceError(NodeflowError):
    exit_code = 2


def resolve_device(spec: str | torch.device = "auto") -> torch.device:
    if isinstance(spec, torch.device):
        return spec
    spec = spec.strip().lower()
    if spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if spec == "cpu":
        return torch.device("cpu")
    m = re.fullmatch(r"cuda(?::(\d+))?", spec)
    if m:
        if not torch.cuda.is_available():
            raise DeviceError(f"--device {spec}: CUDA is not available (torch {torch.__version__}"
                              f"{', a CPU-only build' if torch.version.cuda is None else ''}); use --device cpu or auto")
        index = int(m.group(1) or 0)
        if index >= torch.cuda.device_count():
            raise DeviceError(f"--device {spec}: only {torch.cuda.device_count()} CUDA device(s) present")
        return torch.device("cuda", index)
    if spec == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise DeviceError("--device mps: Apple MPS is not available here; use --device cpu or auto")
        return torch.device("mps")
    raise DeviceError(f"--device {spec!r} is not one of auto, cpu, cuda, cuda:N, mps")
