"""A Session runs graphs and remembers results between runs (the editor's and the API's loop).

Change one param and run again: only that node and what depends on it run; the log says why
each node ran ('params changed (sigma)', 'input changed (image)') or was reused.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from nodeflow.cache import DiskCache, MemoryCache
from nodeflow.context import CancelToken
from nodeflow.devices import resolve_device
from nodeflow.events import Listener
from nodeflow.execute import Executor
from nodeflow.executors import make_executor
from nodeflow.plan import Plan, PlannedNode, build_plan
from nodeflow.registry import Registry, default_registry
from nodeflow.spec import GraphSpec
from nodeflow.written import note_existing_files


@dataclass(frozen=True)
class _Seen:
    key: str
    params: dict[str, Any]
    input_keys: dict[str, str]
    version: int


class Session:
    """Runs graphs; keeps static results between runs (``memory_bytes``, default 2 GiB).

    Per-batch results of time-varying nodes are kept only under ``frame_memory_bytes`` (default
    0: none, so memory stays flat however long the clip); the editor sets a small budget so that
    scrubbing back to a frame it just showed is instant.
    """

    def __init__(self, *, registry: Registry | None = None, memory_bytes: int = 2 << 30,
                 frame_memory_bytes: int = 0, cache_dir: str | Path | None = None):
        self.registry = registry if registry is not None else default_registry()
        self.memory = MemoryCache(memory_bytes)
        self.frame_memory = MemoryCache(frame_memory_bytes)
        self.disk = DiskCache(Path(cache_dir) if cache_dir is not None else None)
        self.cancel_token = CancelToken()
        self._seen: dict[str, _Seen] = {}
        self.last_plan: Plan | None = None

    def plan(self, spec: GraphSpec, *, base_dir: str | Path, outputs: Iterable[str] | None = None,
             output_dir: str | Path | None = None) -> Plan:
        return build_plan(spec, self.registry, base_dir=Path(base_dir), outputs=outputs,
                          output_dir=Path(output_dir) if output_dir is not None else None)

    def run(self, spec: GraphSpec, *, base_dir: str | Path, outputs: Iterable[str] | None = None,
            frames: Iterable[int] | None = None, device: str | torch.device = "auto", batch_size: int = 8,
            use_cache: bool = True, output_dir: str | Path | None = None,
            listeners: Sequence[Listener] = (), collect_outputs: bool = True) -> dict[str, Any]:
        plan = self.plan(spec, base_dir=base_dir, outputs=outputs, output_dir=output_dir)
        return self.run_plan(plan, frames=frames, device=device, batch_size=batch_size, use_cache=use_cache,
                             listeners=listeners, collect_outputs=collect_outputs)

    def run_plan(self, plan: Plan, *, frames: Iterable[int] | None = None, device: str | torch.device = "auto",
                 batch_size: int = 8, use_cache: bool = True, listeners: Sequence[Listener] = (),
                 executor: str = "local", workers: int | None = None, scheduler: str | None = None,
                 max_in_flight: int | None = None, collect_outputs: bool = True) -> dict[str, Any]:
        """Run a plan with the executor registered as ``executor`` (see ``nodeflow.executors``).

        ``executor="dask"`` computes frame batches in parallel on a Dask cluster: the running
        scheduler at ``scheduler``, or a local cluster of ``workers`` processes (default 2);
        ``max_in_flight`` bounds its outstanding tasks, whose results wait in memory for their turn.
        ``collect_outputs=False`` returns a :class:`~nodeflow.execute.ClipSummary` for each
        time-varying output instead of its frames concatenated over the clip.
        """
        self.cancel_token.reset()
        self.last_plan = plan
        common = dict(device=resolve_device(device), memory=self.memory, frame_memory=self.frame_memory,
                      collect_outputs=collect_outputs, disk=self.disk, use_cache=use_cache,
                      listeners=tuple(listeners), cancel_token=self.cancel_token, reason=self._reason)
        runner = make_executor(executor, common, {"workers": workers, "scheduler": scheduler,
                                                 "max_in_flight": max_in_flight})
        try:
            results = runner.run(plan, frames=frames, batch_size=batch_size)
            # Files a node wrote at its output paths on its own (not through nodeflow.atomic's
            # recorded writes) become nodeflow's too: validation let no foreign file stay there.
            note_existing_files(plan.output_files)
            return results
        finally:
            for nid, pn in plan.nodes.items():
                self._seen[nid] = _Seen(pn.key, pn.params_data, pn.input_keys, pn.cls.version)

    def preflight(self, plan: Plan, *, device: str | torch.device = "cpu") -> None:
        """Run every check possible before the expensive work, without running it (``nodeflow validate``):
        cheap static nodes and cached trainings are computed, then each node's ``preflight``."""
        Executor(device=resolve_device(device), memory=self.memory, disk=self.disk).preflight(plan)

    def cancel(self) -> None:
        """Ask the running graph to stop (thread-safe)."""
        self.cancel_token.cancel()

    def _reason(self, pn: PlannedNode) -> str:
        seen = self._seen.get(pn.id)
        if seen is None:
            return "no cached result"
        if seen.key == pn.key:
            return "time-varying: new frames" if pn.time_varying else "no cached result"
        if seen.version != pn.cls.version:
            return f"node version changed ({seen.version} -> {pn.cls.version})"
        changed = sorted(k for k in set(seen.params) | set(pn.params_data)
                         if seen.params.get(k) != pn.params_data.get(k))
        if changed:
            return f"params changed ({', '.join(changed)})"
        inputs = sorted(k for k in set(seen.input_keys) | set(pn.input_keys)
                        if seen.input_keys.get(k) != pn.input_keys.get(k))
        if inputs:
            return f"input changed ({', '.join(inputs)})"
        return "input files changed"
