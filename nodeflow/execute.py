"""The local executor: runs a Plan, static nodes once and time-varying nodes per frame batch.

Values stay on the run's device from source to sink. A frame batch's values are dropped as
soon as their last consumer has run, so memory stays flat in the clip length; sinks see each
batch as it comes. Static results are kept in the memory cache (``memory``); per-batch results
only in ``frame_memory``, a separate budget (0 by default, the editor's scrubbing cache when set),
so a long clip never fills the cache. Time-varying graph outputs are concatenated over the clip
only when ``collect_outputs`` is set (the Python API); otherwise a :class:`ClipSummary` says what
they were (the CLI). On failure or cancellation every node instance gets ``abort()`` so sinks can
remove their temporary files, and nothing half-written remains.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from nodeflow.cache import DiskCache, MemoryCache
from nodeflow.context import CancelToken, RunContext
from nodeflow.errors import Cancelled, NodeError, NodeExecutionError, explain_exception
from nodeflow.events import (
    FramesDone,
    Listener,
    LogMessage,
    NodeFinished,
    NodeOutputs,
    NodeStarted,
    NodeStats,
    RunFinished,
    RunStarted,
)
from nodeflow.frames import check_frames
from nodeflow.node import Node
from nodeflow.plan import Plan, PlannedNode, batch_key, node_seed

ReasonFn = Callable[[PlannedNode], str]


@dataclass
class ClipSummary:
    """What a time-varying output was over the run, without keeping its frames."""

    frames: int = 0
    frame_shape: tuple[int, ...] | None = None
    """Shape of one frame (a batch's shape without its first axis), for tensors."""
    dtype: str | None = None

    def append(self, value: Any) -> None:
        """Count one batch's value and let it go (the same interface as the list it replaces)."""
        if isinstance(value, torch.Tensor) and value.ndim >= 1:
            self.frames += int(value.shape[0])
            self.frame_shape = tuple(value.shape[1:])
            self.dtype = str(value.dtype).removeprefix("torch.")
        else:
            self.frames += 1

    @property
    def shape(self) -> tuple[int, ...] | None:
        """The shape the concatenated output would have had."""
        return None if self.frame_shape is None else (self.frames, *self.frame_shape)


@dataclass
class NodeTally:
    """What one node did in a run (or in one remote batch): runs, cache hits, seconds running."""

    node_type: str
    runs: int = 0
    cache_hits: int = 0
    seconds: float = 0.0

    def add(self, other: NodeTally) -> None:
        self.runs += other.runs
        self.cache_hits += other.cache_hits
        self.seconds += other.seconds


@dataclass
class Executor:
    device: torch.device
    memory: MemoryCache | None = None
    """Results of static nodes (photos, trained models), bounded in bytes."""
    frame_memory: MemoryCache | None = None
    """Per-batch results of time-varying nodes; None keeps none (flat memory over any clip length)."""
    collect_outputs: bool = True
    """Concatenate time-varying graph outputs over the clip; False returns a ClipSummary each."""
    disk: DiskCache | None = None
    """Where expensive nodes' results live; also gives them a scratch folder for resuming."""
    use_cache: bool = True
    listeners: Sequence[Listener] = ()
    cancel_token: CancelToken = field(default_factory=CancelToken)
    reason: ReasonFn = lambda node: "no cached result"

    def emit(self, event: Any) -> None:
        for listener in self.listeners:
            listener(event)

    def run(self, plan: Plan, *, frames: Iterable[int] | None = None, batch_size: int = 8) -> dict[str, Any]:
        """Execute ``plan``; returns the plan's requested outputs."""
        start = time.perf_counter()
        frame_list = self._frames(plan, frames)
        self.emit(RunStarted(tuple(plan.nodes), len(frame_list) if frame_list is not None else None))
        instances: dict[str, Node] = {nid: pn.cls(pn.params) for nid, pn in plan.nodes.items()}
        stats = {nid: NodeTally(pn.cls.type_name) for nid, pn in plan.nodes.items()}
        status = "failed"
        try:
            static_values = self._checks(plan, instances, stats, frame_list)
            results = self._execute(plan, instances, stats, frame_list, batch_size, static_values)
            for nid, pn in plan.nodes.items():
                node = instances[nid]
                if type(node).finish is not Node.finish:
                    ctx = self._ctx(plan, pn, None, frame_list)
                    self._call(pn, lambda node=node, ctx=ctx: node.finish(ctx))
            status = "ok"
            return results
        except KeyboardInterrupt:
            status = "cancelled"
            raise Cancelled() from None
        except Cancelled:
            status = "cancelled"
            raise
        finally:
            if status != "ok":
                # every node gets its abort, even when a second Ctrl-C interrupts one of them
                for node in instances.values():
                    with contextlib.suppress(Exception, KeyboardInterrupt):  # nor hide the original error
                        node.abort()
            self.emit(RunFinished(time.perf_counter() - start,
                                  {nid: NodeStats(s.node_type, s.runs, s.cache_hits, s.seconds)
                                   for nid, s in stats.items()}, status))

    def preflight(self, plan: Plan) -> None:
        """Every check that can run before the expensive work (``nodeflow validate``): each node's
        ``check``, then the cheap static values and each node's ``preflight``. Raises on a problem."""
        instances: dict[str, Node] = {nid: pn.cls(pn.params) for nid, pn in plan.nodes.items()}
        stats = {nid: NodeTally(pn.cls.type_name) for nid, pn in plan.nodes.items()}
        self._checks(plan, instances, stats, self._frames(plan, None))

    # -- internals -----------------------------------------------------------------------------
    def _checks(self, plan: Plan, instances: dict[str, Node], stats: dict[str, NodeTally],
                frame_list: list[int] | None) -> dict[str, dict[str, Any]]:
        """``check`` every node, compute the cheap static values that preflights read, and run the
        preflight pass. Returns those values (the execution reuses them)."""
        for nid, pn in plan.nodes.items():
            if type(instances[nid]).check is not Node.check:
                run_frames = tuple(frame_list) if pn.time_varying and frame_list is not None else None
                ctx = self._ctx(plan, pn, run_frames, frame_list)
                self._call(pn, lambda node=instances[nid], ctx=ctx: node.check(ctx))
        static_values: dict[str, dict[str, Any]] = {}
        self._pf = (plan, instances, static_values, frame_list)
        hooked = [nid for nid in plan.nodes if type(instances[nid]).preflight is not Node.preflight]
        if not hooked:
            return static_values
        needed = _upstream(plan, hooked)
        cheap: set[str] = set()
        for pn in plan.static:
            if pn.id in needed and not pn.cls.sink and self._cheap(pn) and all(
                    c.source.node in cheap for c in pn.connections):
                cheap.add(pn.id)
                static_values[pn.id] = self._evaluate(plan, pn, instances[pn.id], static_values, None,
                                                      frame_list, stats[pn.id])
        self._preflight_pass()
        return static_values

    def _cheap(self, pn: PlannedNode) -> bool:
        """Cheap to compute now: not a training, or one whose result is already cached."""
        if not pn.cls.expensive:
            return True
        if not self.use_cache:
            return False
        return (self.memory is not None and self.memory.get(pn.key) is not None) or (
            self.disk is not None and self.disk.has(pn.key))

    def _preflight_pass(self) -> None:
        """Call every node's ``preflight`` with what is known now (values computed so far, facts of
        upstream preflights); run before anything expensive and again before each training."""
        pf = getattr(self, "_pf", None)
        if pf is None:
            return
        plan, instances, values, frame_list = pf
        facts: dict[str, dict[str, Any]] = {}
        for nid, pn in plan.nodes.items():
            node = instances[nid]
            if type(node).preflight is Node.preflight:
                continue
            known: dict[str, Any] = {}
            for c in pn.connections:
                src, out = c.source.node, c.source.output
                if src in values:
                    value = values[src][out]
                    known[c.input] = c.convert(value) if c.converted else value
                elif out in facts.get(src, {}):
                    known[c.input] = facts[src][out]
            ctx = self._ctx(plan, pn, None, frame_list)
            result = self._call(pn, lambda node=node, ctx=ctx, known=known: node.preflight(ctx, known))
            if result:
                facts[nid] = dict(result)

    @staticmethod
    def _frames(plan: Plan, frames: Iterable[int] | None) -> list[int] | None:
        return check_frames(frames, plan.frame_count)

    def _ctx(self, plan: Plan, pn: PlannedNode, frames: tuple[int, ...] | None,
             frame_list: list[int] | None, scratch: Path | None = None) -> RunContext:
        return RunContext(
            node_id=pn.id, node_type=pn.cls.type_name, device=self.device, seed=node_seed(pn.id, pn.params),
            frames=frames,
            frame_count=len(frame_list) if frame_list is not None else None,
            base_dir=plan.base_dir, output_dir=plan.output_dir, scratch_path=scratch,
            input_files=plan.input_files, cancel_token=self.cancel_token, listeners=tuple(self.listeners),
        )

    @contextlib.contextmanager
    def _scratch(self, pn: PlannedNode) -> Iterator[Path | None]:
        """The folder an expensive node keeps checkpoints in while it runs.

        With the disk cache it is the cache's folder for the node's key, kept until the result is
        stored, so an interrupted run resumes. Without caching (``--no-cache``, a memory-only or
        worker executor) it is a temporary folder removed afterwards: the node starts from step 0
        and an earlier run's checkpoints are left alone for a later cached run to resume from.
        """
        if not pn.cls.expensive:
            yield None
        elif self.use_cache and self.disk is not None:
            yield self.disk.scratch_dir(pn.key)
        else:
            with tempfile.TemporaryDirectory(prefix="nodeflow-scratch-") as tmp:
                yield Path(tmp)

    def _call(self, pn: PlannedNode, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except (Cancelled, KeyboardInterrupt):
            raise
        except NodeError as exc:
            raise NodeExecutionError(pn.id, pn.cls.type_name, exc.message, field=exc.field, hint=exc.hint) from exc
        except NodeExecutionError:
            raise
        except torch.cuda.OutOfMemoryError as exc:
            raise NodeExecutionError(pn.id, pn.cls.type_name, "out of GPU memory",
                                     hint="lower --batch-size or the node's size, or use --device cpu") from exc
        except Exception as exc:
            message, hint = explain_exception(exc)
            raise NodeExecutionError(pn.id, pn.cls.type_name, message, hint=hint) from exc

    def _execute(self, plan: Plan, instances: dict[str, Node], stats: dict[str, NodeTally],
                 frame_list: list[int] | None, batch_size: int,
                 static_values: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
        wanted = {(e.node, e.output) for e in plan.outputs.values()}
        static_values = {} if static_values is None else static_values
        for pn in plan.static:
            if pn.id in static_values:  # computed for the preflight
                continue
            self._check_cancelled()
            static_values[pn.id] = self._evaluate(plan, pn, instances[pn.id], static_values, None,
                                                  frame_list, stats[pn.id])

        collected: dict[tuple[str, str], Any] = {w: [] if self.collect_outputs else ClipSummary() for w in wanted}
        if plan.time_varying and frame_list is not None:
            self.run_batches(plan, instances, stats, static_values, frame_list, max(1, int(batch_size)),
                             collected)

        results: dict[str, Any] = {}
        for name, edge in plan.outputs.items():
            pn = plan.nodes[edge.node]
            if pn.time_varying:
                parts = collected[(edge.node, edge.output)]
                if isinstance(parts, ClipSummary):
                    results[name] = parts
                    continue
                results[name] = torch.cat(parts, dim=0) if parts and isinstance(parts[0], torch.Tensor) else parts
            else:
                results[name] = static_values[edge.node][edge.output]
        return results

    def run_batches(self, plan: Plan, instances: dict[str, Node], stats: dict[str, NodeTally],
                    static_values: dict[str, dict[str, Any]], frame_list: list[int], batch_size: int,
                    collected: dict[tuple[str, str], list[Any]]) -> None:
        """Evaluate the time-varying nodes batch after batch, in frame order.

        The hook another executor overrides to place batches elsewhere (see ``execute_dask``).
        """
        tv_nodes = plan.time_varying
        for i in range(0, len(frame_list), batch_size):
            frames = tuple(frame_list[i:i + batch_size])
            self.run_batch(plan, tv_nodes, instances, stats, static_values, frames, frame_list, collected)
            self.emit(FramesDone(min(i + batch_size, len(frame_list)), len(frame_list)))

    def run_batch(self, plan: Plan, nodes: list[PlannedNode], instances: dict[str, Node],
                  stats: dict[str, NodeTally], given: dict[str, dict[str, Any]], frames: tuple[int, ...],
                  frame_list: list[int], collected: dict[tuple[str, str], list[Any]],
                  keep: Iterable[tuple[str, str]] = ()) -> dict[str, dict[str, Any]]:
        """Run ``nodes`` (in order) for one frame batch; ``given`` holds the values they read.

        A node's values are dropped as soon as its last consumer among ``nodes`` has run, except
        the outputs named in ``keep`` (node id, output): those are returned, for consumers
        outside ``nodes``. Requested outputs are appended to ``collected``.
        """
        kept: dict[str, set[str]] = {}
        for nid, out in keep:
            kept.setdefault(nid, set()).add(out)
        consumers = {pn.id: 0 for pn in nodes}
        for pn in nodes:
            for c in pn.connections:
                if c.source.node in consumers:
                    consumers[c.source.node] += 1
        values: dict[str, dict[str, Any]] = dict(given)
        for pn in nodes:
            self._check_cancelled()
            values[pn.id] = self._evaluate(plan, pn, instances[pn.id], values, frames, frame_list, stats[pn.id])
            for sock in pn.cls.outputs:
                if (pn.id, sock.name) in collected:
                    collected[(pn.id, sock.name)].append(values[pn.id][sock.name])
            for c in pn.connections:  # free what no later node of this batch needs
                src = c.source.node
                if src in consumers:
                    consumers[src] -= 1
                    if consumers[src] == 0 and src not in kept:
                        values.pop(src, None)
        return {nid: {out: values[nid][out] for out in outs} for nid, outs in kept.items() if nid in values}

    def _check_cancelled(self) -> None:
        if self.cancel_token.cancelled:
            raise Cancelled()

    def _evaluate(self, plan: Plan, pn: PlannedNode, node: Node, values: dict[str, dict[str, Any]],
                  frames: tuple[int, ...] | None, frame_list: list[int] | None, stat: NodeTally) -> dict[str, Any]:
        key = pn.key if frames is None else batch_key(pn.key, frames)
        memory = self.memory if frames is None else self.frame_memory
        cacheable = self.use_cache and not pn.cls.sink
        if cacheable:
            hit = self._lookup(pn, key, memory, frames, stat)
            if hit is not None:
                return hit
            if pn.cls.expensive and self.disk is not None:
                with self.disk.locked(key, on_wait=lambda: self._waiting(pn), check=self._check_cancelled):
                    hit = self._lookup(pn, key, memory, frames, stat)  # stored while we waited?
                    return hit if hit is not None else self._compute(plan, pn, node, values, frames, frame_list,
                                                                     stat, key, memory, cacheable)
        return self._compute(plan, pn, node, values, frames, frame_list, stat, key, memory, cacheable)

    def _lookup(self, pn: PlannedNode, key: str, memory: MemoryCache | None, frames: tuple[int, ...] | None,
                stat: NodeTally) -> dict[str, Any] | None:
        t0 = time.perf_counter()
        hit = memory.get(key) if memory is not None else None
        where = "memory"
        if hit is None and pn.cls.expensive and self.disk is not None:
            hit = self.disk.get(key, self.device)
            where = "disk"
            if hit is not None and memory is not None:
                memory.put(key, hit)
        if hit is not None:
            stat.cache_hits += 1
            self.emit(NodeFinished(pn.id, pn.cls.type_name, time.perf_counter() - t0, where, frames))
            self.emit(NodeOutputs(pn.id, hit, frames))
        return hit

    def _waiting(self, pn: PlannedNode) -> None:
        self.emit(LogMessage(pn.id, "warning", "waiting: another process is computing this result "
                                               "(same cache folder); it will be reused when stored"))

    def _compute(self, plan: Plan, pn: PlannedNode, node: Node, values: dict[str, dict[str, Any]],
                 frames: tuple[int, ...] | None, frame_list: list[int] | None, stat: NodeTally, key: str,
                 memory: MemoryCache | None, cacheable: bool) -> dict[str, Any]:
        inputs: dict[str, Any] = {}
        for c in pn.connections:
            value = values[c.source.node][c.source.output]
            if c.converted:
                value = c.convert(value)
                if isinstance(value, torch.Tensor) and value.device != self.device:
                    value = value.to(self.device)
            inputs[c.input] = value
        for sock in pn.cls.inputs:
            if sock.name not in inputs and not sock.required:
                inputs[sock.name] = sock.default_value()

        if pn.cls.expensive and frames is None:
            self._preflight_pass()  # what the values computed so far reveal, before this training
        reason = "sink (always runs)" if pn.cls.sink else ("--no-cache" if not self.use_cache else self.reason(pn))
        self.emit(NodeStarted(pn.id, pn.cls.type_name, reason, frames))
        t0 = time.perf_counter()
        with self._scratch(pn) as scratch:
            ctx = self._ctx(plan, pn, frames, frame_list, scratch)
            outputs = self._call(pn, lambda: node.run(ctx, **inputs))
        seconds = time.perf_counter() - t0
        outputs = self._check_outputs(pn, outputs)
        stat.runs += 1
        stat.seconds += seconds
        if cacheable:
            if memory is not None:
                memory.put(key, outputs)
            if pn.cls.expensive and self.disk is not None and self.disk.put(key, outputs):
                self.disk.drop_scratch(pn.key)
        self.emit(NodeFinished(pn.id, pn.cls.type_name, seconds, None, frames))
        self.emit(NodeOutputs(pn.id, outputs, frames))
        return outputs

    @staticmethod
    def _check_outputs(pn: PlannedNode, outputs: Any) -> dict[str, Any]:
        declared = pn.cls.outputs
        if outputs is None and not declared:
            return {}
        if not isinstance(outputs, dict):
            raise NodeExecutionError(pn.id, pn.cls.type_name,
                                     f"run() returned {type(outputs).__name__}, expected a dict of outputs")
        for sock in declared:
            if sock.name not in outputs:
                raise NodeExecutionError(pn.id, pn.cls.type_name, f"run() did not produce output {sock.name!r}")
            problem = sock.type.check(outputs[sock.name])
            if problem:
                raise NodeExecutionError(pn.id, pn.cls.type_name,
                                         f"output {sock.name!r} ({sock.type.name}): {problem}")
        return outputs


def _upstream(plan: Plan, nodes: Iterable[str]) -> set[str]:
    """Every node that ``nodes`` read from, directly or not."""
    seen: set[str] = set()
    stack = [c.source.node for nid in nodes for c in plan.nodes[nid].connections]
    while stack:
        nid = stack.pop()
        if nid not in seen:
            seen.add(nid)
            stack.extend(c.source.node for c in plan.nodes[nid].connections)
    return seen
