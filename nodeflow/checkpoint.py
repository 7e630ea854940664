"""Safe checkpoint files: weights-only loading, atomic saving.

Every checkpoint nodeflow reads goes through :func:`load_checkpoint`, which uses
``torch.load(..., weights_only=True)``: tensors, numbers, strings and containers load; a file
that needs pickle to run code (a pickled module, a custom class) is refused with an error that
names the file, unless the caller opts in with ``allow_pickle=True`` (``--allow-pickle``) for a
file they trust. Our own checkpoints are safetensors (weights) plus a JSON of options.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import torch

from nodeflow.atomic import atomic_path, write_text_atomic
from nodeflow.errors import NodeflowError


class UnsafeCheckpointError(NodeflowError):
    """A checkpoint that can only be read by unpickling arbitrary objects."""

    exit_code = 2


def load_checkpoint(path: str | Path, *, map_location: str | torch.device = "cpu",
                    allow_pickle: bool = False) -> Any:
    """Load a ``torch.save`` file without running code from it (unless ``allow_pickle``)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        if not allow_pickle:
            raise UnsafeCheckpointError(
                f"{path} is not a weights-only checkpoint: loading it would unpickle arbitrary objects "
                f"({str(exc).splitlines()[0][:200]}). Refused; re-save it as a state dict, or pass "
                f"allow_pickle / --allow-pickle if you trust where it came from") from None
    return torch.load(path, map_location=map_location, weights_only=False)


def save_safetensors(path: str | Path, tensors: dict[str, torch.Tensor],
                     metadata: dict[str, str] | None = None) -> None:
    """Write ``tensors`` (contiguous CPU copies) as safetensors, atomically."""
    from safetensors.torch import save_file

    clean = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    with atomic_path(path) as tmp:
        save_file(clean, str(tmp), metadata=metadata)


def load_safetensors(path: str | Path, device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(path), device=str(device))


def save_json(path: str | Path, data: Any) -> None:
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def load_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))
