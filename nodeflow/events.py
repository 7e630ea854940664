"""Events a run emits: the one channel for progress bars, logs and the editor.

Subscribers are plain callables ``(Event) -> None``. They run on the executor's thread, so they
must be quick (the CLI only updates counters that its renderer reads).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Event:
    pass


@dataclass(frozen=True)
class RunStarted(Event):
    node_ids: tuple[str, ...]
    frame_count: int | None
    """Frames in this run, None when nothing is time-varying."""


@dataclass(frozen=True)
class NodeStarted(Event):
    node_id: str
    node_type: str
    reason: str
    """Why it runs: 'no cached result', 'params changed (sigma)', 'input changed (image)', ..."""
    frames: tuple[int, ...] | None = None


@dataclass(frozen=True)
class NodeProgress(Event):
    node_id: str
    done: float
    total: float
    message: str = ""


@dataclass(frozen=True)
class NodeFinished(Event):
    node_id: str
    node_type: str
    seconds: float
    cached: str | None = None
    """None when it ran, else where the result came from: 'memory' or 'disk'."""
    frames: tuple[int, ...] | None = None


@dataclass(frozen=True)
class NodeOutputs(Event):
    """A node's output values for a batch (or the static run), for previews. Do not keep them."""

    node_id: str
    outputs: dict
    frames: tuple[int, ...] | None = None


@dataclass(frozen=True)
class FramesDone(Event):
    done: int
    total: int


@dataclass(frozen=True)
class NodeStats:
    node_type: str
    runs: int = 0
    cache_hits: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class RunFinished(Event):
    seconds: float
    stats: dict[str, NodeStats] = field(default_factory=dict)
    status: str = "ok"
    """'ok', 'failed' or 'cancelled'."""


@dataclass(frozen=True)
class LogMessage(Event):
    node_id: str | None
    level: str
    message: str


Listener = Callable[[Event], None]
