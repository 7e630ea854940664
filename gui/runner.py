"""Runs graphs in a worker thread through one long-lived :class:`~nodeflow.session.Session`.

The session's memory cache survives between runs, so after a param change only that node and
what depends on it run again. Engine events arrive on the worker thread; they are passed on as
Qt signals (queued to the GUI thread), with progress events thinned out and previews already
converted to ``QImage``. A run covers only what its targets need (:func:`targets_closure`):
the sinks, the graph outputs and the viewed node for Run, the chosen nodes for "Run to here",
the viewed node alone when scrubbing frames. An unfinished node elsewhere does not stop it.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from PyQt6.QtCore import QObject, QThread, pyqtSignal
from PyQt6.QtGui import QImage

from nodeflow.errors import Cancelled, GraphValidationError, NodeExecutionError, NodeflowError, Problem
from nodeflow.events import Event, LogMessage, NodeOutputs, NodeProgress, RunStarted
from nodeflow.frames import resolve_frames
from nodeflow.graph import EdgeRef, GraphSpec
from nodeflow.plan import Plan
from nodeflow.preview import preview_image
from nodeflow.registry import Registry
from nodeflow.session import Session

PREVIEW_OUTPUT_PREFIX = "__editor_preview__:"
PREVIEW_TYPES = ("Image", "Mask")
PROGRESS_INTERVAL_S = 0.05


def pil_to_qimage(img: Image.Image) -> QImage:
    """A deep-copied RGBA QImage (safe to hand to the GUI thread)."""
    rgba = img.convert("RGBA")
    data = rgba.tobytes("raw", "RGBA")
    return QImage(data, rgba.width, rgba.height, rgba.width * 4, QImage.Format.Format_RGBA8888).copy()


@dataclass
class RunRequest:
    """What one run is for: ``targets`` (None: sinks + graph outputs), ``soft`` targets that are
    dropped (with a warning) when they cannot run, frames, and whether sinks run too."""

    targets: set[str] | None = None
    soft: set[str] = field(default_factory=set)
    frames: tuple[int, int | None, int] | None = None
    frame_list: list[int] | None = None
    """Exact frames (scrubbing); wins over ``frames``."""
    include_sinks: bool = True
    batch_size: int = 8
    label: str = "run"


def default_targets(spec: GraphSpec, registry: Registry) -> set[str]:
    """The sinks and the nodes of graph outputs: what a plain run must compute."""
    sinks = {nid for nid, n in spec.nodes.items() if n.type in registry and registry.get(n.type).sink}
    return sinks | {e.node for e in spec.outputs.values() if e.node in spec.nodes}


def targets_closure(spec: GraphSpec, targets: Iterable[str]) -> set[str]:
    """``targets`` and every node they read from (edges of the file, unknown sources skipped)."""
    needed: set[str] = set()
    todo = [t for t in targets if t in spec.nodes]
    while todo:
        nid = todo.pop()
        if nid in needed:
            continue
        needed.add(nid)
        todo.extend(e.node for e in spec.nodes[nid].inputs.values() if e.node in spec.nodes)
    return needed


def pruned_spec(spec: GraphSpec, keep: set[str]) -> GraphSpec:
    """Only the nodes in ``keep`` (in file order) and the graph outputs among them."""
    return GraphSpec(format=spec.format, nodes={k: v for k, v in spec.nodes.items() if k in keep},
                     outputs={k: e for k, e in spec.outputs.items() if e.node in keep})


def viewer_frames(value: Any, max_size: int, limit: int = 64) -> np.ndarray | None:
    """An Image/Mask batch as uint8 ``(B, H, W, C)`` (C = 1, 3 or 4), at most ``max_size`` px a side."""
    if not isinstance(value, torch.Tensor) or value.ndim != 4 or value.shape[1] not in (1, 3, 4):
        return None
    frames = value[:limit].detach().float().cpu()
    h, w = frames.shape[-2:]
    scale = max_size / max(h, w)
    if scale < 1:
        size = (max(1, round(h * scale)), max(1, round(w * scale)))
        frames = F.interpolate(frames, size=size, mode="bilinear", align_corners=False, antialias=True)
    return (frames.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()


def with_preview_targets(spec: GraphSpec, registry: Registry) -> GraphSpec:
    """A copy of ``spec`` that also requests every node's first output, so every node is planned."""
    spec = spec.model_copy(deep=True)
    for nid, node in spec.nodes.items():
        if node.type in registry:
            outputs = registry.get(node.type).outputs
            if outputs:
                spec.outputs[PREVIEW_OUTPUT_PREFIX + nid] = EdgeRef(node=nid, output=outputs[0].name)
    return spec


class _RunJob(QThread):
    def __init__(self, runner: Runner, spec: GraphSpec, kwargs: dict[str, Any]):
        super().__init__()
        self.runner = runner
        self.spec = spec
        self.kwargs = kwargs

    def run(self) -> None:
        self.runner._execute(self.spec, **self.kwargs)


class Runner(QObject):
    """One run at a time; signals are delivered on the GUI thread."""

    event = pyqtSignal(object)
    """Engine events (RunStarted, NodeStarted, NodeProgress, NodeFinished, FramesDone, RunFinished,
    LogMessage); NodeOutputs are turned into ``preview`` instead."""
    preview = pyqtSignal(str, str, object, QImage)
    """(node id, output name, first frame or None, image) for each node's first Image/Mask output."""
    outputs = pyqtSignal(str, dict, object)
    """(node id, {output name: uint8 (B, H, W, C) array}, frames or None) for every Image/Mask
    output of each batch a node produced: what the viewer shows."""
    planned = pyqtSignal(object)
    """The Plan of a run that is about to start (frame count, nodes)."""
    succeeded = pyqtSignal(dict)
    """The requested graph outputs."""
    failed = pyqtSignal(str, list, list)
    """(message, problems, node ids at fault): ``node <id> (<Type>): ...`` or the validation problems."""
    cancelled = pyqtSignal()
    done = pyqtSignal(str)
    """Last signal of every run: 'ok', 'failed' or 'cancelled'."""

    def __init__(self, registry: Registry, session: Session | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.registry = registry
        self.session = session if session is not None else Session(registry=registry)
        self._job: _RunJob | None = None
        self._running = False
        self._cancel_requested = False
        self.preview_size = 384

    @property
    def running(self) -> bool:
        return self._running

    def start(self, spec: GraphSpec, *, base_dir: str | Path, output_dir: str | Path | None = None,
              frames: tuple[int, int | None, int] | None = None, device: str = "auto",
              batch_size: int = 8, request: RunRequest | None = None) -> bool:
        """Start a run of ``spec``; False (and nothing happens) while another run is going."""
        if self._running:
            return False
        if self._job is not None:
            self._job.wait()
        self._running = True
        self._cancel_requested = False
        if request is None:
            request = RunRequest(frames=frames, batch_size=batch_size)
        kwargs = dict(base_dir=Path(base_dir), output_dir=Path(output_dir) if output_dir else Path(base_dir),
                      device=device, request=request)
        self._job = _RunJob(self, spec, kwargs)
        self._job.start()
        return True

    def cancel(self) -> None:
        """Ask the running graph to stop at its next cancellation point (thread-safe)."""
        if self._running:
            self._cancel_requested = True
            self.session.cancel()

    def wait(self, ms: int = 30000) -> bool:
        """Block until the worker thread has ended (for shutdown and tests)."""
        return self._job.wait(ms) if self._job is not None else True

    # -- worker thread -------------------------------------------------------------------------
    def _plan(self, spec: GraphSpec, request: RunRequest, base_dir: Path, output_dir: Path) -> Plan:
        """Plan only what the request's targets need; soft targets that cannot run are dropped."""
        hard = set(request.targets) if request.targets is not None else default_targets(spec, self.registry)
        soft = set(request.soft) - hard
        try:
            return self._plan_for(spec, hard | soft, base_dir, output_dir, request.include_sinks)
        except GraphValidationError as exc:
            hard_needed = targets_closure(spec, hard)
            if not soft or any(p.node is None or p.node in hard_needed for p in exc.problems):
                raise
            self.event.emit(LogMessage(node_id=None, level="warning",
                                       message=f"not run: {', '.join(sorted(soft))} ({exc.problems[0]})"))
            return self._plan_for(spec, hard, base_dir, output_dir, request.include_sinks)

    def _plan_for(self, spec: GraphSpec, targets: set[str], base_dir: Path, output_dir: Path,
                  include_sinks: bool) -> Plan:
        sub = pruned_spec(spec, targets_closure(spec, targets))
        if not include_sinks:  # sinks that are not targets themselves do not run (scrubbing)
            sub = pruned_spec(sub, {n for n in sub.nodes if n in targets
                                    or not (sub.nodes[n].type in self.registry
                                            and self.registry.get(sub.nodes[n].type).sink)})
        plan = self.session.plan(with_preview_targets(sub, self.registry), base_dir=base_dir,
                                 output_dir=output_dir)
        plan.outputs = {k: e for k, e in plan.outputs.items() if not k.startswith(PREVIEW_OUTPUT_PREFIX)}
        return plan

    def _execute(self, spec: GraphSpec, *, base_dir: Path, output_dir: Path, device: str,
                 request: RunRequest) -> None:
        status = "failed"
        try:
            plan = self._plan(spec, request, base_dir, output_dir)
            if self._cancel_requested:
                raise Cancelled()
            self.planned.emit(plan)
            listener = _Listener(self, plan)
            frames = (request.frame_list if request.frame_list is not None and plan.frame_count is not None
                      else self._frames(plan, request.frames))
            results = self.session.run_plan(plan, frames=frames, device=device,
                                            batch_size=request.batch_size, listeners=[listener],
                                            collect_outputs=False)
            status = "ok"
            self.succeeded.emit(results)
        except GraphValidationError as exc:
            n = len(exc.problems)
            self.failed.emit(f"graph has {n} problem{'s' if n != 1 else ''}", list(exc.problems),
                             sorted({p.node for p in exc.problems if p.node}))
        except Cancelled:
            status = "cancelled"
            self.cancelled.emit()
        except NodeExecutionError as exc:
            self.failed.emit(str(exc), [], [exc.node_id])
        except NodeflowError as exc:
            self.failed.emit(str(exc), [], [])
        except Exception as exc:  # a bug must not take the editor down
            self.failed.emit(f"internal error: {type(exc).__name__}: {exc}",
                             [Problem(line) for line in traceback.format_exc().splitlines()[-6:]], [])
        finally:
            self._running = False
            self.done.emit(status)

    @staticmethod
    def _frames(plan: Plan, frames: tuple[int, int | None, int] | None) -> range | None:
        if frames is None or plan.frame_count is None:
            return None
        return resolve_frames(frames, plan.frame_count, clamp=True)


class _Listener:
    """Engine listener on the worker thread: thins progress, converts previews, emits signals."""

    def __init__(self, runner: Runner, plan: Plan):
        self.runner = runner
        self.plan = plan
        self.previewed: set[str] = set()
        self.last_progress: dict[str, float] = {}

    def __call__(self, event: Event) -> None:
        if isinstance(event, NodeOutputs):
            self._preview(event)
            return
        if isinstance(event, RunStarted) and self.runner._cancel_requested:
            self.runner.session.cancel()  # asked before run_plan reset the token
        if isinstance(event, NodeProgress) and event.done < event.total:
            now = time.monotonic()
            if now - self.last_progress.get(event.node_id, 0.0) < PROGRESS_INTERVAL_S:
                return
            self.last_progress[event.node_id] = now
        self.runner.event.emit(event)

    def _preview(self, event: NodeOutputs) -> None:
        if event.node_id not in self.plan.nodes:
            return
        shown = {}
        for sock in self.plan.nodes[event.node_id].cls.outputs:
            if sock.type.name in PREVIEW_TYPES:
                arr = viewer_frames(event.outputs.get(sock.name), self.runner.preview_size)
                if arr is not None:
                    shown[sock.name] = arr
        if shown:
            self.runner.outputs.emit(event.node_id, shown, tuple(event.frames) if event.frames else None)
        if event.node_id in self.previewed:
            return
        for sock in self.plan.nodes[event.node_id].cls.outputs:
            if sock.type.name not in PREVIEW_TYPES:
                continue
            img = preview_image(event.outputs.get(sock.name), self.runner.preview_size)
            if img is not None:
                self.previewed.add(event.node_id)
                frame = event.frames[0] if event.frames else None
                self.runner.preview.emit(event.node_id, sock.name, frame, pil_to_qimage(img))
                return
