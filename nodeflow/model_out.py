"""Where ``nodeflow train … --out DIR`` may save a model, and replacing DIR safely.

``--overwrite`` may replace an earlier *model folder* -- one nodeflow wrote, recognised by its
options/manifest file (JSON whose ``format`` names a registered handle kind, e.g.
``nodeflow-<kind>/1``) and nothing else in it but weights (``.json``/``.safetensors`` files).
It never replaces a folder holding anything else, nor one that is, holds or lies inside an
input of the training (the training images, the scene): those are refused before training.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from nodeflow.atomic import make_temp_dir, remove_stale_temps, temp_prefix
from nodeflow.errors import NodeflowError
from nodeflow.handles import HANDLE_CLASSES
from nodeflow.path_guard import InputGuard

MODEL_SUFFIXES = (".json", ".safetensors")


class OutputRefused(NodeflowError):
    """``--out`` names a place a model must not be written to (exit 2, like bad arguments)."""

    exit_code = 2

    def __init__(self, node_type: str, out: Path, why: str, hint: str):
        super().__init__(f"{node_type}, --out: refusing to write the model to {out}: {why} (hint: {hint})")


def _model_format(path: Path) -> str | None:
    """The ``format`` of a nodeflow model options file, else None."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    fmt = data.get("format") if isinstance(data, dict) else None
    if not isinstance(fmt, str) or not fmt.startswith("nodeflow-"):
        return None
    kinds = {getattr(cls, "kind", "").lower() for cls in HANDLE_CLASSES.values()}
    return fmt if fmt.removeprefix("nodeflow-").partition("/")[0].lower() in kinds else None


def foreign_entries(folder: Path) -> list[str]:
    """Names in ``folder`` that are not part of a nodeflow model folder (empty: it is one, or empty)."""
    entries = sorted(os.scandir(folder), key=lambda e: e.name)
    foreign = [e.name for e in entries
               if e.is_symlink() or not e.is_file(follow_symlinks=False) or not e.name.endswith(MODEL_SUFFIXES)]
    if foreign or not entries:
        return foreign
    if not any(_model_format(Path(e.path)) for e in entries if e.name.endswith(".json")):
        return [e.name for e in entries]  # weights-like files, but no nodeflow options among them
    return []


def check_model_out(node_type: str, out: Path, inputs: list[Path], overwrite: bool) -> None:
    """Refuse an ``--out`` that would lose data; see the module docstring."""
    why = InputGuard.of(inputs).clash(out, pattern=False)
    if why:
        raise OutputRefused(node_type, out, why, "choose a folder outside the training inputs, e.g. models/NAME")
    if out.is_symlink() or (os.path.lexists(out) and not out.is_dir()):
        raise OutputRefused(node_type, out, "it exists and is not a folder",
                            "give a new folder name; nodeflow never replaces a file it did not write")
    if not out.is_dir() or not any(out.iterdir()):
        return
    if not overwrite:
        raise OutputRefused(node_type, out, "it exists and is not empty",
                            "pass --overwrite to replace an earlier model, or choose another folder")
    foreign = foreign_entries(out)
    if foreign:
        shown = ", ".join(foreign[:3]) + (f", … ({len(foreign)} in all)" if len(foreign) > 3 else "")
        raise OutputRefused(node_type, out, f"it holds files nodeflow did not write ({shown})",
                            "--overwrite only replaces a model folder nodeflow wrote; choose another folder")


def save_model_folder(out: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(folder)`` on a hidden temp folder beside ``out``, then swap it in for ``out``.

    The old model (if any) is renamed aside first and removed only once the new one is in place,
    so an interruption leaves either the old or the new model, never neither.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    prefix, old_prefix = temp_prefix(out.name), f".{out.name}.old-"
    remove_stale_temps(out.parent, prefix)
    if out.is_dir():  # else a killed swap may have left the only old model aside: keep it
        remove_stale_temps(out.parent, old_prefix)
    tmp = make_temp_dir(out.parent, prefix)
    old: Path | None = None
    try:
        write(tmp)
        if out.is_dir():
            old = make_temp_dir(out.parent, old_prefix)
            os.rename(out, old / "model")
        try:
            os.rename(tmp, out)
        except OSError:
            if old is not None:
                os.rename(old / "model", out)
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
