"""The training loop shared by pix2pix and CycleGAN: resume, checkpoints, progress, previews.

A trainer object owns its networks, optimisers and schedulers and implements ``train_step``,
``state_dict``/``load_state_dict`` and ``preview``. :func:`run_training` drives it:

- resumes from ``<scratch>/train_state.pt`` when an earlier run of the same node (same cache key,
  so same params and data) was interrupted: networks, optimisers, schedulers, image pools, step and
  RNG states all come back, so the resumed run continues exactly where the old one stopped;
- writes that checkpoint every ``checkpoint_every`` steps and when the run is cancelled;
- reports ``ctx.progress(step, total, "G 1.23 D 0.45 ... 3.1 it/s ETA 0:42")`` after each step
  (which is also where cancellation is noticed);
- writes a preview grid every ``preview_every`` steps.

Checkpoints are ``torch.save`` files of tensors and plain containers only, read back with
``weights_only=True``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import Tensor

from nodeflow.atomic import atomic_path
from nodeflow.checkpoint import load_checkpoint
from nodeflow.context import RunContext
from nodeflow.errors import Cancelled
from nodeflow.image_files import write_image
from nodeflow.written import foreign_file

STATE_FILE = "train_state.pt"
STATE_FORMAT = "nodeflow-gan-train/1"


class Trainer(Protocol):
    def train_step(self, step: int) -> dict[str, Tensor]:
        """One optimisation step; returns the losses (detached scalars) to report."""

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue: networks, optimisers, schedulers, pools."""

    def load_state_dict(self, state: dict[str, Any]) -> None: ...

    def preview(self) -> Tensor:
        """A ``(1, 3, H, W)`` grid in [0, 1] showing inputs, outputs and targets."""


def rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_train_state(path: Path, step: int, trainer: Trainer) -> None:
    payload = {"format": STATE_FORMAT, "step": int(step), "trainer": trainer.state_dict(), "rng": rng_state()}
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_train_state(path: Path) -> dict[str, Any] | None:
    """The saved state, or None when there is none or it is unreadable (then training starts over)."""
    if not path.exists():
        return None
    try:
        state = load_checkpoint(path, map_location="cpu")
    except Exception:
        return None
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        return None
    return state


def format_eta(seconds: float) -> str:
    seconds = max(0, round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def stack_preview(rows: list[Tensor], max_images: int = 4) -> Tensor:
    """Rows of ``(B, 3, H, W)`` images -> one ``(1, 3, rows*H, n*W)`` grid, ``n = min(B, max_images)``."""
    n = min(rows[0].shape[0], max_images)
    lines = [torch.cat(list(r[:n].detach().float().clamp(0, 1).cpu()), dim=-1) for r in rows]
    return torch.cat(lines, dim=-2).unsqueeze(0)


class OptionsFromParams:
    """Mixin for a trainer's frozen options dataclass: built from a node's params, step count."""

    niter: int
    niter_decay: int

    @classmethod
    def from_params(cls, params: Any) -> Any:
        names = set(cls.__dataclass_fields__)  # type: ignore[attr-defined]
        return cls(**{k: v for k, v in params.model_dump().items() if k in names})

    @property
    def total_steps(self) -> int:
        return self.niter + self.niter_decay


def write_preview(image: torch.Tensor, path: Path, ctx: RunContext, label: str) -> None:
    """A training preview, unless a file nodeflow did not write sits at its name (kept; the training
    goes on: a preview is not worth failing it for)."""
    if foreign_file(path):
        ctx.logger.warning("%s: preview %s not written: a file nodeflow did not write is there", label, path)
        return
    write_image(image, path, record=True)


def run_training(trainer: Trainer, ctx: RunContext, *, total_steps: int, checkpoint_every: int,
                 preview_every: int, preview_dir: Path | None, label: str) -> list[dict[str, float]]:
    """Train from the last checkpoint (or step 0) to ``total_steps``; returns this run's loss history."""
    state_path = ctx.scratch_dir / STATE_FILE
    if preview_dir is None:
        preview_dir = ctx.scratch_dir / "previews"
    start = 0
    state = load_train_state(state_path)
    if state is not None and 0 < state["step"] <= total_steps:
        trainer.load_state_dict(state["trainer"])
        set_rng_state(state["rng"])
        start = int(state["step"])
        ctx.logger.info("%s: resuming from step %d of %d (%s)", label, start, total_steps, state_path)
    history: list[dict[str, float]] = []
    saved = start
    done = start
    t0 = time.perf_counter()
    try:
        for step in range(start, total_steps):
            losses = {k: float(v) for k, v in trainer.train_step(step).items()}
            done = step + 1
            history.append(losses)
            if checkpoint_every > 0 and done % checkpoint_every == 0 and done < total_steps:
                save_train_state(state_path, done, trainer)
                saved = done
            if preview_every > 0 and (done % preview_every == 0 or done == total_steps):
                write_preview(trainer.preview(), preview_dir / f"step_{done:07d}.png", ctx, label)
            rate = (done - start) / max(time.perf_counter() - t0, 1e-9)
            text = " ".join(f"{k} {v:.3f}" for k, v in losses.items())
            ctx.progress(done, total_steps, f"{label} step {done}/{total_steps} · {text} · {rate:.2f} it/s · "
                                            f"ETA {format_eta((total_steps - done) / rate)}")
    except Cancelled:
        if done > saved:
            save_train_state(state_path, done, trainer)
            ctx.logger.info("%s: cancelled at step %d; saved a checkpoint to resume from", label, done)
        raise
    return history
