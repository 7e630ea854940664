"""What a node's ``run`` receives besides its inputs."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

import torch

from nodeflow.errors import Cancelled
from nodeflow.events import Listener, LogMessage, NodeProgress


class CancelToken:
    """Set from another thread (signal handler, editor button); checked by the running node."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def reset(self) -> None:
        self._event.clear()


_log = logging.getLogger("nodeflow.node")


class NodeLogger:
    """``ctx.logger``: messages become LogMessage events (CLI, editor) and go to ``logging``."""

    def __init__(self, ctx: RunContext):
        self._ctx = ctx

    def _log(self, level: int, msg: str, *args: object) -> None:
        text = msg % args if args else msg
        self._ctx.emit(LogMessage(self._ctx.node_id, logging.getLevelName(level).lower(), text))
        _log.log(level, "%s: %s", self._ctx.node_id, text)

    def debug(self, msg: str, *args: object) -> None:
        self._log(logging.DEBUG, msg, *args)

    def info(self, msg: str, *args: object) -> None:
        self._log(logging.INFO, msg, *args)

    def warning(self, msg: str, *args: object) -> None:
        self._log(logging.WARNING, msg, *args)

    def error(self, msg: str, *args: object) -> None:
        self._log(logging.ERROR, msg, *args)


@dataclass
class RunContext:
    """Per-node view of the run: device, frames, progress, cancellation, logging, seed, paths."""

    node_id: str
    node_type: str
    device: torch.device
    seed: int
    """The node's ``seed`` param when it has one, else a stable number derived from its id."""
    frames: tuple[int, ...] | None = None
    """Run frame indices of the batch being computed (in ``Node.check``: of the whole run); None for
    static nodes."""
    frame_count: int | None = None
    """Frames in the whole run (None when nothing is time-varying)."""
    base_dir: Path = field(default_factory=Path.cwd)
    """Folder of the graph file: relative input paths resolve against it."""
    output_dir: Path = field(default_factory=Path.cwd)
    """Relative output paths resolve against it."""
    scratch_path: Path | None = None
    """Where :attr:`scratch_dir` lives (set for ``expensive`` nodes)."""
    input_files: frozenset[Path] = frozenset()
    """Every input file of the graph, so that no output can overwrite one."""
    cancel_token: CancelToken = field(default_factory=CancelToken)
    listeners: tuple[Listener, ...] = ()

    @property
    def logger(self) -> NodeLogger:
        """Log through the run's events (shown by the CLI and the editor)."""
        return NodeLogger(self)

    @property
    def scratch_dir(self) -> Path:
        """Where this node keeps checkpoints of resumable work.

        Only ``expensive`` nodes have one. With the disk cache it belongs to the node's cache key,
        survives an interrupted run and is removed once the result is stored; without caching it is
        a fresh temporary folder (no resuming).
        """
        if self.scratch_path is None:
            raise RuntimeError(f"{self.node_type} has no scratch folder: only expensive nodes get one")
        self.scratch_path.mkdir(parents=True, exist_ok=True)
        return self.scratch_path

    # -- reporting -----------------------------------------------------------------------------
    def emit(self, event: object) -> None:
        for listener in self.listeners:
            listener(event)  # type: ignore[arg-type]

    def progress(self, done: float, total: float, message: str = "") -> None:
        """Report progress inside a long node; also a cancellation point."""
        self.emit(NodeProgress(self.node_id, done, total, message))
        self.check_cancelled()

    def check_cancelled(self) -> None:
        """Raise :class:`~nodeflow.errors.Cancelled` if the run was cancelled."""
        if self.cancel_token.cancelled:
            raise Cancelled(f"cancelled in node {self.node_id} ({self.node_type})")

    # -- randomness ----------------------------------------------------------------------------
    def generator(self, device: torch.device | str | None = None, offset: int = 0) -> torch.Generator:
        """A fresh generator seeded from :attr:`seed` (+ ``offset``) on ``device`` (default CPU)."""
        g = torch.Generator(device=device or "cpu")
        g.manual_seed((self.seed + offset) % (2**63))
        return g

    def seed_everything(self) -> None:
        """Seed torch's global RNG (for modules such as dropout that use it implicitly)."""
        torch.manual_seed(self.seed % (2**63))

    # -- paths ---------------------------------------------------------------------------------
    def input_path(self, path: str) -> Path:
        p = Path(path).expanduser()
        return p if p.is_absolute() else (self.base_dir / p)

    def output_path(self, path: str) -> Path:
        p = Path(path).expanduser()
        return p if p.is_absolute() else (self.output_dir / p)
