"""A Dask executor: the same Plan, with frame batches computed in parallel on a Dask cluster.

Static nodes (loading a photo, training a model) run locally first, as in the local executor.
Then each frame batch of the time-varying nodes that are not sinks becomes one task on the
cluster; at most ``max_in_flight`` batches are outstanding, so memory stays bounded. Results
come back in frame order and the sinks (which write files and keep state) consume them locally.
Needs the ``[dask]`` extra. ``scheduler=None`` starts an in-process ``LocalCluster`` of threads.
"""

from __future__ import annotations

import os
from collections import deque
from dataclasses import dataclass
from typing import Any

from nodeflow.errors import NodeflowError
from nodeflow.events import FramesDone
from nodeflow.execute import Executor, _Stat
from nodeflow.node import Node
from nodeflow.plan import Plan, PlannedNode

SCHEDULER_TIMEOUT_S = float(os.environ.get("NODEFLOW_SCHEDULER_TIMEOUT", 5))
"""How long to wait for a --scheduler to answer; a reachable one answers in milliseconds."""


@dataclass
class DaskExecutor(Executor):
    workers: int = 2
    scheduler: str | None = None
    """Address of a running scheduler (``tcp://host:8786``); None starts a local thread cluster."""
    max_in_flight: int = 0
    """Batches outstanding at once (default: 2 per worker)."""

    def run(self, plan: Plan, *, frames: Any = None, batch_size: int = 8) -> dict[str, Any]:
        """As the local executor; a bad worker count or a scheduler that nothing listens at is
        reported before the static nodes (perhaps a long training) run."""
        if self.workers < 1:
            raise NodeflowError(f"the Dask executor needs at least 1 worker thread, got {self.workers}")
        if self.scheduler:
            self._unreachable(_probe)
        return super().run(plan, frames=frames, batch_size=batch_size)

    def _unreachable(self, attempt: Any) -> Any:
        """``attempt(address)``, with a failure to connect said in the user's terms."""
        try:
            return attempt(self.scheduler)
        except (OSError, ValueError, TimeoutError) as exc:
            raise NodeflowError(
                f"cannot reach the Dask scheduler at {self.scheduler} ({exc}; waited at most "
                f"{SCHEDULER_TIMEOUT_S:g} s); is it running? Start one with `dask scheduler`, "
                f"or leave out --scheduler for a local cluster") from None

    def _client(self) -> Any:
        try:
            from distributed import Client, LocalCluster
        except ImportError as exc:
            raise NodeflowError(f"the Dask executor needs the [dask] extra: {exc}") from None
        if self.scheduler:
            return self._unreachable(lambda address: _connect(Client, address)), None
        cluster = LocalCluster(n_workers=1, threads_per_worker=self.workers, processes=False,
                               dashboard_address=None)
        return Client(cluster), cluster

    def _run_batches(self, plan: Plan, instances: dict[str, Node], stats: dict[str, _Stat],
                     static_values: dict[str, dict[str, Any]], frame_list: list[int], batch_size: int,
                     collected: dict[tuple[str, str], list[Any]]) -> None:
        remote = [pn for pn in plan.time_varying if not pn.cls.sink]
        local = [pn for pn in plan.time_varying if pn.cls.sink]
        needed_static = {c.source.node for pn in remote for c in pn.connections if c.source.node in static_values}
        remote_ids = {pn.id for pn in remote}
        collect_keys = [k for k in collected if k[0] in remote_ids]
        client, cluster = self._client()
        try:
            static_future = client.scatter({k: static_values[k] for k in needed_static}, broadcast=True)
            limit = self.max_in_flight or 2 * self.workers
            batches = [tuple(frame_list[i:i + batch_size]) for i in range(0, len(frame_list), batch_size)]
            pending: deque[tuple[tuple[int, ...], Any]] = deque()
            done = 0
            for frames in batches:
                pending.append((frames, client.submit(_compute_batch, plan, remote, self.device, frames, frame_list,
                                                      static_future, collect_keys, pure=False)))
                while len(pending) >= limit:
                    done = self._consume(plan, pending.popleft(), local, instances, stats, static_values,
                                         frame_list, collected, done)
            while pending:
                done = self._consume(plan, pending.popleft(), local, instances, stats, static_values,
                                     frame_list, collected, done)
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
        for pn in remote:
            stats[pn.id].runs += len(batches)

    def _consume(self, plan: Plan, item: tuple[tuple[int, ...], Any], local: list[PlannedNode],
                 instances: dict[str, Node], stats: dict[str, _Stat], static_values: dict[str, dict[str, Any]],
                 frame_list: list[int], collected: dict[tuple[str, str], list[Any]], done: int) -> int:
        frames, future = item
        self._check_cancelled()
        alive, got = future.result()
        for key, value in got.items():
            collected[key].append(value)
        self._run_batch(plan, local, instances, stats, {**static_values, **alive}, frames, frame_list, collected)
        done += len(frames)
        self.emit(FramesDone(done, len(frame_list)))
        return done


def _probe(address: str) -> None:
    """Fail at once when nothing listens at a ``tcp://host:port`` (Dask itself retries for the
    whole timeout); other schemes are left to Dask."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    if parts.scheme != "tcp" or not parts.hostname:
        return
    with socket.create_connection((parts.hostname, parts.port or 8786), timeout=SCHEDULER_TIMEOUT_S):
        pass


def _connect(client_cls: Any, address: str) -> Any:
    """``Client(address)`` within :data:`SCHEDULER_TIMEOUT_S`. Dask's own timeout does not cover
    a peer that accepts the connection and never answers, so the wait happens in a thread."""
    import threading

    box: dict[str, Any] = {}

    def connect() -> None:
        try:
            box["client"] = client_cls(address, timeout=SCHEDULER_TIMEOUT_S)
        except BaseException as exc:  # handed to the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=connect, name="nodeflow-dask-connect", daemon=True)
    thread.start()
    thread.join(SCHEDULER_TIMEOUT_S + 1)
    if "error" in box:
        raise box["error"]
    if "client" not in box:
        raise TimeoutError(f"no Dask answer within {SCHEDULER_TIMEOUT_S:g} s")
    return box["client"]


def _compute_batch(plan: Plan, remote: list[PlannedNode], device: Any, frames: tuple[int, ...],
                   frame_list: list[int], static: dict[str, dict[str, Any]],
                   collect_keys: list[tuple[str, str]]) -> tuple[dict[str, dict[str, Any]], dict[tuple[str, str], Any]]:
    """Runs on a worker: the non-sink time-varying nodes for one batch (fresh node instances)."""
    worker = Executor(device=device, use_cache=False)
    instances = {pn.id: pn.cls(pn.params) for pn in remote}
    stats = {pn.id: _Stat(pn.cls.type_name) for pn in remote}
    got: dict[tuple[str, str], list[Any]] = {k: [] for k in collect_keys}
    alive = worker._run_batch(plan, remote, instances, stats, static, frames, frame_list, got)
    return alive, {k: v[0] for k, v in got.items()}
