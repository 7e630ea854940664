"""The local executor: runs a Plan, static nodes once and time-varying nodes per frame batch.

Values stay on the run's device from source to sink. A frame batch's values are dropped as
soon as their last consumer has run, so memory stays flat in the clip length; sinks see each
batch as it comes. On failure or cancellation every node instance gets ``abort()`` so sinks can
remove their temporary files, and nothing half-written remains.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
import zlib
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
    NodeFinished,
    NodeOutputs,
    NodeStarted,
    NodeStats,
    RunFinished,
    RunStarted,
)
from nodeflow.node import Node
from nodeflow.plan import Plan, PlannedNode

ReasonFn = Callable[[PlannedNode], str]


@dataclass
class _Stat:
    node_type: str
    runs: int = 0
    cache_hits: int = 0
    seconds: float = 0.0


@dataclass
class Executor:
    device: torch.device
    memory: MemoryCache | None = None
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
        stats = {nid: _Stat(pn.cls.type_name) for nid, pn in plan.nodes.items()}
        status = "failed"
        try:
            for nid, pn in plan.nodes.items():
                if type(instances[nid]).check is not Node.check:
                    ctx = self._ctx(plan, pn, None, frame_list)
                    self._call(pn, lambda node=instances[nid], ctx=ctx: node.check(ctx))
            results = self._execute(plan, instances, stats, frame_list, batch_size)
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
                for node in instances.values():
                    with contextlib.suppress(Exception):  # cleanup must not hide the original error
                        node.abort()
            self.emit(RunFinished(time.perf_counter() - start,
                                  {nid: NodeStats(s.node_type, s.runs, s.cache_hits, s.seconds)
                                   for nid, s in stats.items()}, status))

    # -- internals -----------------------------------------------------------------------------
    @staticmethod
    def _frames(plan: Plan, frames: Iterable[int] | None) -> list[int] | None:
        if plan.frame_count is None:
            return None
        if frames is None:
            return list(range(plan.frame_count))
        chosen = list(frames)
        bad = [f for f in chosen if not 0 <= f < plan.frame_count]
        if bad:
            from nodeflow.errors import NodeflowError

            raise NodeflowError(f"--frames asks for frame {bad[0]}, but the sources provide frames "
                                f"0..{plan.frame_count - 1}")
        return chosen

    def _ctx(self, plan: Plan, pn: PlannedNode, frames: tuple[int, ...] | None,
             frame_list: list[int] | None, scratch: Path | None = None) -> RunContext:
        seed = getattr(pn.params, "seed", None)
        if not isinstance(seed, int):
            seed = zlib.crc32(pn.id.encode())
        return RunContext(
            node_id=pn.id, node_type=pn.cls.type_name, device=self.device, seed=seed, frames=frames,
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

    def _execute(self, plan: Plan, instances: dict[str, Node], stats: dict[str, _Stat],
                 frame_list: list[int] | None, batch_size: int) -> dict[str, Any]:
        wanted = {(e.node, e.output) for e in plan.outputs.values()}
        static_values: dict[str, dict[str, Any]] = {}
        for pn in plan.static:
            self._check_cancelled()
            static_values[pn.id] = self._evaluate(plan, pn, instances[pn.id], static_values, None,
                                                  frame_list, stats[pn.id])

        collected: dict[tuple[str, str], list[Any]] = {w: [] for w in wanted}
        if plan.time_varying and frame_list is not None:
            self._run_batches(plan, instances, stats, static_values, frame_list, max(1, int(batch_size)),
                              collected)

        results: dict[str, Any] = {}
        for name, edge in plan.outputs.items():
            pn = plan.nodes[edge.node]
            if pn.time_varying:
                parts = collected[(edge.node, edge.output)]
                results[name] = torch.cat(parts, dim=0) if parts and isinstance(parts[0], torch.Tensor) else parts
            else:
                results[name] = static_values[edge.node][edge.output]
        return results

    def _run_batches(self, plan: Plan, instances: dict[str, Node], stats: dict[str, _Stat],
                     static_values: dict[str, dict[str, Any]], frame_list: list[int], batch_size: int,
                     collected: dict[tuple[str, str], list[Any]]) -> None:
        """Evaluate the time-varying nodes batch after batch, in frame order."""
        tv_nodes = plan.time_varying
        for i in range(0, len(frame_list), batch_size):
            frames = tuple(frame_list[i:i + batch_size])
            self._run_batch(plan, tv_nodes, instances, stats, static_values, frames, frame_list, collected)
            self.emit(FramesDone(min(i + batch_size, len(frame_list)), len(frame_list)))

    def _run_batch(self, plan: Plan, nodes: list[PlannedNode], instances: dict[str, Node],
                   stats: dict[str, _Stat], given: dict[str, dict[str, Any]], frames: tuple[int, ...],
                   frame_list: list[int], collected: dict[tuple[str, str], list[Any]]) -> dict[str, dict[str, Any]]:
        """Run ``nodes`` (in order) for one frame batch.

        A node's values are dropped as soon as its last consumer among ``nodes`` has run; the
        values of ``nodes`` still alive afterwards (those consumed outside ``nodes``) are returned.
        """
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
                    if consumers[src] == 0:
                        values.pop(src, None)
        return {nid: values[nid] for nid in consumers if nid in values}

    def _check_cancelled(self) -> None:
        if self.cancel_token.cancelled:
            raise Cancelled()

    def _evaluate(self, plan: Plan, pn: PlannedNode, node: Node, values: dict[str, dict[str, Any]],
                  frames: tuple[int, ...] | None, frame_list: list[int] | None, stat: _Stat) -> dict[str, Any]:
        key = pn.key if frames is None else f"{pn.key}@{frames[0]}+{len(frames)}:{hash(frames) & 0xFFFFFFFF:x}"
        cacheable = self.use_cache and not pn.cls.sink
        if cacheable:
            t0 = time.perf_counter()
            hit = self.memory.get(key) if self.memory is not None else None
            where = "memory"
            if hit is None and pn.cls.expensive and self.disk is not None:
                hit = self.disk.get(key, self.device)
                where = "disk"
                if hit is not None and self.memory is not None:
                    self.memory.put(key, hit)
            if hit is not None:
                stat.cache_hits += 1
                self.emit(NodeFinished(pn.id, pn.cls.type_name, time.perf_counter() - t0, where, frames))
                self.emit(NodeOutputs(pn.id, hit, frames))
                return hit

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
            if self.memory is not None:
                self.memory.put(key, outputs)
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
