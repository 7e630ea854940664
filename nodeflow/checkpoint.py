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
import re
from pathlib import Path
from typing import Any

import torch

from nodeflow.atomic import atomic_path, write_text_atomic
from nodeflow.errors import NodeError, NodeflowError


class UnsafeCheckpointError(NodeflowError):
    """A checkpoint that can only be read by unpickling arbitrary objects."""

    exit_code = 2
    hint = ("set allow_pickle: true on the node (or --set NODE.allow_pickle=true) only for a file from a "
            "source you trust: unpickling can run any program")

    def __init__(self, message: str):
        self.message = message
        super().__init__(f"{message} (hint: {self.hint})")


class CheckpointError(NodeError):
    """A model file that is damaged, truncated or not what it claims to be."""

    def __init__(self, message: str, *, field: str | None = "path", hint: str | None = None):
        super().__init__(message, field=field, hint=hint or "restore the file, or save/train the model again")


_GLOBAL = re.compile(r"(?:unsupported )?GLOBAL ([\w.]+)", re.IGNORECASE)


def load_checkpoint(path: str | Path, *, map_location: str | torch.device = "cpu",
                    allow_pickle: bool = False) -> Any:
    """Load a ``torch.save`` file without running code from it (unless ``allow_pickle``)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        needs = _GLOBAL.search(str(exc))
        if needs is None:  # not a class it would import: the bytes themselves are wrong
            raise CheckpointError(f"{path} is damaged or not a torch checkpoint "
                                  f"({_last_line(str(exc))})") from None
        if not allow_pickle:
            raise UnsafeCheckpointError(
                f"{path} is not a weights-only checkpoint: loading it would unpickle objects, importing "
                f"{needs.group(1)}, which can run code. Refused; re-save it as a plain state dict, or opt in") from None
    except RuntimeError as exc:
        raise CheckpointError(f"{path} is damaged or truncated ({str(exc).split('. ')[0][:160]})") from None
    except OSError:
        raise  # cannot be read at all (permissions, a folder): the caller says so, not "damaged"
    except Exception as exc:
        # (IndexError "pop from empty list", EOFError, UnicodeDecodeError, struct.error, …)
        raise CheckpointError(f"{path} is damaged or not a torch checkpoint "
                              f"({type(exc).__name__}: {_last_line(str(exc)) or 'unreadable'})") from None
    return torch.load(path, map_location=map_location, weights_only=False)


def _last_line(text: str) -> str:
    """The line of a library's message that says what was wrong (torch's start with advice)."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and "documentation" not in ln]
    return (lines[-1] if lines else text)[:200]


def save_safetensors(path: str | Path, tensors: dict[str, torch.Tensor],
                     metadata: dict[str, str] | None = None) -> None:
    """Write ``tensors`` (contiguous CPU copies) as safetensors, atomically."""
    from safetensors.torch import save_file

    clean = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    with atomic_path(path) as tmp:
        save_file(clean, str(tmp), metadata=metadata)


def check_safetensors(path: str | Path) -> None:
    """Raise :class:`CheckpointError` unless ``path`` holds a whole safetensors file: an 8-byte
    header length, a JSON header, and every tensor's bytes (a truncated download has fewer)."""
    path = Path(path)
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(8)
        n = int.from_bytes(head, "little") if len(head) == 8 else -1
        if n < 2 or 8 + n > size:
            raise CheckpointError(f"{path} is damaged or truncated: not a whole safetensors file "
                                  f"({size} bytes)")
        try:
            header = json.loads(f.read(n))
            end = max((int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"), default=0)
        except (ValueError, KeyError, TypeError, IndexError, AttributeError):
            raise CheckpointError(f"{path} is damaged: its safetensors header is not valid") from None
    if 8 + n + end > size:
        raise CheckpointError(f"{path} is truncated: {size} bytes of the {8 + n + end} its header describes",
                              hint="copy or download the file again, or save/train the model again")


def load_safetensors(path: str | Path, device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    """Read a safetensors file; a truncated or damaged one is a :class:`CheckpointError`."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    check_safetensors(path)
    try:
        return load_file(str(path), device=str(device))
    except SafetensorError as exc:
        raise CheckpointError(f"{path} is damaged (safetensors: {exc})") from None


def save_json(path: str | Path, data: Any) -> None:
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def load_json(path: str | Path) -> Any:
    """Read a model folder's options; text that is not JSON is a :class:`CheckpointError`."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{path} is damaged: not valid JSON ({exc.msg} at line {exc.lineno} "
                              f"column {exc.colno})",
                              hint="restore the model folder, or save/train the model again") from None
    except UnicodeDecodeError:
        raise CheckpointError(f"{path} is damaged: not UTF-8 text") from None
