"""The Dask executor: the same Plan, with frame batches computed in parallel on a Dask cluster.

How a run goes (needs the ``[dask]`` extra):

1. Static nodes (loading a photo, training a model) run here first, as in the local executor,
   with the same caches.
2. The time-varying nodes are split: *remote* ones (not sinks, and not fed by a sink) run on the
   workers; sinks, which write files and keep state, and anything downstream of them run here,
   in frame order.
3. The shared part of the run (the remote nodes' plan, the run's frame list) and the static
   values the remote nodes read (models included) are scattered to every worker once; each
   task then names its frames: one batch, or a few consecutive small ones (at least
   ``MIN_TASK_FRAMES`` frames a task, as Dask's cost per task is fixed), run one after the other.
   A worker keeps one instance of each remote node per thread for the whole run, so a
   ``LoadVideo`` reader continues where its last batch stopped instead of decoding from frame 0;
   each worker gets runs of consecutive tasks (about ``RUN_FRAMES`` frames, see
   :func:`tasks_per_run`), so its reader reads forward instead of decoding the other workers'
   frames. New instances replay the run's first batch only where a node decides on it
   (:meth:`Node.decides_on_first_batch`).
4. At most ``max_in_flight`` tasks are outstanding, so memory stays bounded; results come back
   in frame order and feed the local sinks. A worker lost mid-run is survived: the scheduler
   runs its batches again elsewhere (every worker holds the scattered values).
5. Workers publish their node events (started, progress, finished, log) on a Dask topic; they
   reach this process's listeners (CLI bars, editor) while the run goes on. Each task returns
   its nodes' runs and seconds for the run summary; the first batch also returns every remote
   output once, for previews.

``scheduler=None`` starts a ``LocalCluster`` of ``workers`` processes (one thread each).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import queue
import threading
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch

from nodeflow.errors import Cancelled, NodeflowError
from nodeflow.events import (
    Event,
    FramesDone,
    LogMessage,
    NodeFinished,
    NodeOutputs,
    NodeProgress,
    NodeStarted,
)
from nodeflow.execute import Executor, NodeTally
from nodeflow.node import Node
from nodeflow.plan import Plan, PlannedNode

FORWARDED: dict[str, type[Event]] = {cls.__name__: cls for cls in (NodeStarted, NodeProgress, NodeFinished,
                                                                    LogMessage)}
"""Events a worker publishes to the client (previews and results come back with the task)."""

Output = tuple[str, str]
"""(node id, output name)"""

WORKER_ENV = {"OMP_NUM_THREADS": 1, "MKL_NUM_THREADS": 1, "OPENBLAS_NUM_THREADS": 1}
"""Environment of local worker processes: Dask's default without ``MALLOC_TRIM_THRESHOLD_``.

Setting that variable turns off glibc's adaptive mmap threshold, so every large tensor is
freshly mapped and torch ran 2-3x slower in the workers than in this process (measured on
Colorize + Harmonize). Remote ``dask worker`` processes: see the README.
"""

QUIET_CONFIG: dict[str, Any] = {
    "distributed.admin.tick.interval": "1s",
    "distributed.worker.profile.enabled": False,
    "distributed.admin.system-monitor.interval": "2s",
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.nanny.memory.monitor-interval": "1s",
}
"""Dask housekeeping slowed down for the local cluster (a frame batch takes far longer than these).

By default every scheduler, nanny and worker checks its event loop every 20 ms, a worker samples
its threads' stacks every 10 ms for the dashboard's profile, and memory is polled every 100 ms.
On a 2-worker cluster that cost 8 % of a core while idle (1 % with these settings, measured with
``psutil``), taken from the cores the frames need; see ``benchmarks/dask_scaling.py``.
"""


NO_STEALING: dict[str, Any] = {"distributed.scheduler.work-stealing": False}
"""Tasks stay on the worker they were given (a run of consecutive frames, see :data:`RUN_FRAMES`).

The restriction is loose (a lost worker's tasks go elsewhere), and Dask's work stealing moves
loose tasks too: at a run's start the first worker's queued tasks were stolen by the second
while it waited for its own, so readers seeked back and forth (from the keyframe each time)."""


def local_cluster_config() -> dict[str, Any]:
    """The Dask settings a local cluster (and the client in this process) is started with."""
    return {"distributed.nanny.pre-spawn-environ": WORKER_ENV, **QUIET_CONFIG, **NO_STEALING}


def worker_environment() -> dict[str, str]:
    """The same settings as environment variables, for ``dask scheduler`` / ``dask worker`` processes
    (values without spaces, so that ``env $(...)`` in a shell keeps each one whole)."""
    return {"DASK_" + key.upper().replace(".", "__").replace("-", "_"):
            value if isinstance(value, str) else repr(value).replace(" ", "")
            for key, value in local_cluster_config().items()}


def split_time_varying(plan: Plan) -> tuple[list[PlannedNode], list[PlannedNode]]:
    """(remote, local): sinks and whatever a sink feeds stay local, the rest can go to workers."""
    local_ids: set[str] = set()
    remote: list[PlannedNode] = []
    local: list[PlannedNode] = []
    for pn in plan.time_varying:
        if pn.cls.sink or any(c.source.node in local_ids for c in pn.connections):
            local_ids.add(pn.id)
            local.append(pn)
        else:
            remote.append(pn)
    return remote, local


@dataclass(frozen=True)
class RemoteJob:
    """What every batch task of one run shares; scattered to each worker once."""

    run_id: str
    plan: Plan
    """The plan cut down to the remote nodes."""
    remote: tuple[str, ...]
    keep: frozenset[Output]
    """Outputs sent back: read by local nodes, or requested graph outputs."""
    device: str
    frame_list: list[int]
    topic: str
    reasons: dict[str, str]
    """Why each remote node runs, as this process's session sees it ('params changed (sigma)')."""
    first_batch: tuple[int, ...] = ()
    """The run's first batch, replayed by a worker's new instances; empty when no node decides on it."""


@dataclass
class BatchResult:
    values: dict[str, dict[str, Any]]
    tallies: dict[str, NodeTally]
    previews: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Every remote node's outputs, for the first batch only."""

Batches = tuple[tuple[int, ...], ...]
"""Consecutive frame batches that one task computes."""

MIN_TASK_FRAMES = 8
"""Frames per task at least, unless the clip is too short to keep every worker busy."""


def batches_per_task(batch_size: int, batches: int, threads: int, min_frames: int = MIN_TASK_FRAMES) -> int:
    """How many consecutive batches one Dask task computes.

    Each task costs this process (scheduler, comms, result) 5-7 ms of CPU and its worker 1-3 ms,
    whatever its size (measured with empty tasks on a local cluster); with the benchmark's
    batches of 2 frames (``benchmarks/dask_scaling.py``) that was a few % of the CPU a frame
    needs, taken from the cores the workers need. Grouping keeps the batches the nodes see (and
    so their output) the same: the worker runs them one after the other. Every worker thread
    still gets at least 2 tasks, so a short clip is spread.
    """
    wanted = max(1, -(-min_frames // max(1, batch_size)))
    spread = max(1, batches // (2 * max(1, threads)))
    return min(wanted, spread)


RUN_FRAMES = 96
"""Frames a worker computes in a row (consecutive tasks), at most about.

A worker's video reader reads forward: given tasks that alternate between workers, it decoded
(and converted to RGB) the frames the other worker took, to skip them (ffmpeg 2.2 ms per frame
with 2 workers vs 1.2 with 1, ``benchmarks/dask_scaling.py``). Within a run it skips nothing;
between its runs the gap is (workers - 1) x a run, more than the frames a reader decodes through
rather than seeking over (LoadVideo's: 48). The cost: up to about one run per worker of results
waits for its turn (results come back in frame order), so ``max_in_flight`` grows to that."""


def tasks_per_run(tasks: int, workers: int, task_frames: int, run_frames: int = RUN_FRAMES) -> int:
    """How many consecutive tasks each worker gets in a row (see :data:`RUN_FRAMES`).

    Runs go to the workers in turn and the count of runs is a multiple of the workers, so every
    worker gets the same share of the clip (a 192-frame clip on 2 workers: two runs of 96 frames,
    not 96 + 96 + ... with one worker taking two); no more than ``run_frames`` wanted, rounded."""
    if workers <= 1:
        return max(1, tasks)
    wanted = max(1, -(-run_frames // max(1, task_frames)))
    rounds = max(1, round(tasks / (workers * wanted)))
    return max(1, -(-tasks // (rounds * workers)))


class _Array:
    """A CPU tensor on its way from a worker, as its numpy array.

    Pickled, a numpy array's buffer travels out of band (no copy); a tensor goes through torch's
    own pickling, which copies it into bytes: 8 ms to send and 2.5 ms to receive per 6 MB (a
    batch of 8 frames of 256²), measured here. Bit-identical either way.
    """

    __slots__ = ("array",)

    def __init__(self, array: Any):
        self.array = array


def _pack(values: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """A batch's values for the trip to this process: CPU tensors as :class:`_Array`."""
    def pack(value: Any) -> Any:
        if isinstance(value, torch.Tensor) and value.device.type == "cpu" and not value.requires_grad:
            try:
                return _Array(value.numpy())
            except (TypeError, RuntimeError):  # a dtype numpy lacks (bfloat16), a conjugate view, ...
                return value
        return value
    return {nid: {out: pack(v) for out, v in outs.items()} for nid, outs in values.items()}


def _unpack(values: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    def unpack(value: Any) -> Any:
        if isinstance(value, _Array):
            array = value.array if value.array.flags.writeable else value.array.copy()
            return torch.from_numpy(array)
        return value
    return {nid: {out: unpack(v) for out, v in outs.items()} for nid, outs in values.items()}


SCHEDULER_TIMEOUT_S = float(os.environ.get("NODEFLOW_SCHEDULER_TIMEOUT", 5))
"""How long to wait for a --scheduler to answer; a reachable one answers in milliseconds."""


@dataclass
class DaskExecutor(Executor):
    options: ClassVar[tuple[str, ...]] = ("workers", "scheduler", "max_in_flight")
    """Options beyond the common ones (see ``nodeflow.executors.make_executor``)."""

    workers: int = 2
    """Worker processes of the local cluster (ignored with ``scheduler``)."""
    scheduler: str | None = None
    """Address of a running scheduler (``tcp://host:8786``); None starts a local cluster."""
    max_in_flight: int = 0
    """Tasks outstanding at once; their results wait in memory for their turn. 0: one run
    (:data:`RUN_FRAMES`) per worker, at least 2 per worker thread."""
    min_task_frames: int | None = None
    """Frames one task computes at least: smaller batches are grouped (see :func:`batches_per_task`;
    None: :data:`MIN_TASK_FRAMES`)."""
    run_frames: int | None = None
    """Frames a worker computes in a row (see :func:`tasks_per_run`; None: :data:`RUN_FRAMES`);
    0: tasks go where Dask puts them (they alternate between workers)."""
    connect_timeout: float = 30.0
    """Seconds to wait for the scheduler and for its first worker."""
    _remote_finished: int = field(default=0, init=False, repr=False)
    """NodeFinished events relayed from workers (to know when the last ones have arrived)."""

    def run(self, plan: Plan, *, frames: Any = None, batch_size: int = 8) -> dict[str, Any]:
        """As the local executor; a bad worker count or a scheduler that nothing listens at is
        reported before the static nodes (perhaps a long training) run."""
        if self.workers < 1:
            raise NodeflowError(f"the Dask executor needs at least 1 worker, got {self.workers}")
        if self.max_in_flight < 0:
            raise NodeflowError(f"max_in_flight {self.max_in_flight}: use 0 (the default bound) or a positive "
                                "number of tasks")
        if self.scheduler:
            try:
                _probe(self.scheduler)
            except (OSError, ValueError, TimeoutError) as exc:
                raise NodeflowError(
                    f"cannot reach the Dask scheduler at {self.scheduler} ({exc}; waited at most "
                    f"{SCHEDULER_TIMEOUT_S:g} s); is it running? Start one with `dask scheduler`, "
                    f"or leave out --scheduler for a local cluster") from None
        return super().run(plan, frames=frames, batch_size=batch_size)

    def run_batches(self, plan: Plan, instances: dict[str, Node], stats: dict[str, NodeTally],
                    static_values: dict[str, dict[str, Any]], frame_list: list[int], batch_size: int,
                    collected: dict[tuple[str, str], list[Any]]) -> None:
        remote, local = split_time_varying(plan)
        if not remote:  # only sinks vary: nothing worth sending away
            super().run_batches(plan, instances, stats, static_values, frame_list, batch_size, collected)
            return
        batches = [tuple(frame_list[i:i + batch_size]) for i in range(0, len(frame_list), batch_size)]
        decides = any(instances[pn.id].decides_on_first_batch(frozenset(c.input for c in pn.connections))
                      for pn in remote)
        job = dataclasses.replace(self._job(plan, remote, local, frame_list, collected),
                                  first_batch=batches[0] if decides else ())
        collect_remote = [k for k in collected if k[0] in job.remote]
        needed_static = {c.source.node for pn in remote for c in pn.connections if c.source.node in static_values}

        client, cluster = self._connect()
        inbox: queue.Queue[Event] = queue.Queue()
        futures: deque[tuple[Batches, Any]] = deque()
        try:
            client.subscribe_topic(job.topic, lambda item: _receive(item, inbox))
            job_future, static = self._scatter(client, job, {k: static_values[k] for k in needed_static})
            threads = max(1, _threads(client))
            addresses = _workers(client)
            min_frames = MIN_TASK_FRAMES if self.min_task_frames is None else self.min_task_frames
            per_task = batches_per_task(batch_size, len(batches), threads, min_frames)
            tasks = [tuple(batches[i:i + per_task]) for i in range(0, len(batches), per_task)]
            run_frames = RUN_FRAMES if self.run_frames is None else self.run_frames
            per_run = tasks_per_run(len(tasks), len(addresses), per_task * batch_size, run_frames)
            if self.max_in_flight:  # the user's bound holds: runs short enough that every worker is busy
                per_run = min(per_run, max(1, self.max_in_flight // max(1, len(addresses))))
            limit = self.max_in_flight or max(2 * threads, len(addresses) * per_run)
            self.emit(LogMessage(None, "info", f"dask: {len(tasks)} tasks of up to {per_task * batch_size} frames "
                                               f"({per_task} batches each) on {threads} worker threads, "
                                               f"{per_run if run_frames else 1} in a row per worker"))
            self._remote_finished = 0
            done = 0
            for i, group in enumerate(tasks):
                # A run of consecutive tasks per worker, in turn; loose, so that a lost worker's go elsewhere
                where = ({"workers": [addresses[(i // per_run) % len(addresses)]], "allow_other_workers": True}
                         if run_frames and len(addresses) > 1 else {})
                # In frame order: tasks submitted within Dask's fifo_timeout share a priority, and a
                # worker then ran its run backwards (0, 88, 80, ..., 8): a reader seek per task
                futures.append((group, client.submit(compute_batches, job_future, static, group, i == 0,
                                                     key=f"nodeflow-{job.run_id}-{i}", pure=False, priority=-i,
                                                     **where)))
                while len(futures) >= limit or (i == len(tasks) - 1 and futures):
                    group_i, future = futures.popleft()
                    for frames_i, result in zip(group_i, self._wait(future, group_i, inbox), strict=True):
                        for nid, tally in result.tallies.items():
                            stats[nid].add(tally)
                        for nid, outs in _unpack(result.previews).items():
                            self.emit(NodeOutputs(nid, outs, frames_i))
                        values = _unpack(result.values)
                        for key in collect_remote:
                            collected[key].append(values[key[0]][key[1]])
                        self.run_batch(plan, local, instances, stats, {**static_values, **values},
                                       frames_i, frame_list, collected)
                        done += len(frames_i)
                        self.emit(FramesDone(done, len(frame_list)))
            expected = len(batches) * len(remote)
            self._drain_until(inbox, lambda: self._remote_finished >= expected, timeout=2.0)
        finally:
            for _, future in futures:
                future.cancel()
            self._close(client, cluster, job)

    def _job(self, plan: Plan, remote: list[PlannedNode], local: list[PlannedNode], frame_list: list[int],
             collected: dict[tuple[str, str], list[Any]]) -> RemoteJob:
        remote_ids = {pn.id for pn in remote}
        keep = {(c.source.node, c.source.output) for pn in local for c in pn.connections
                if c.source.node in remote_ids}
        keep.update(k for k in collected if k[0] in remote_ids)
        run_id = uuid.uuid4().hex
        return RemoteJob(run_id, dataclasses.replace(plan, nodes={pn.id: pn for pn in remote}),
                         tuple(pn.id for pn in remote), frozenset(keep), str(self.device), frame_list,
                         f"nodeflow-events-{run_id}",
                         {pn.id: self.reason(pn) if self.use_cache else "--no-cache" for pn in remote})

    @staticmethod
    def _scatter(client: Any, job: RemoteJob, static: dict[str, dict[str, Any]]) -> tuple[Any, Any]:
        """Send the job and the static values to every worker once (futures for the tasks).

        The static values go as one value under a key of this run's own: scattered as a dict,
        each would be stored under its node id, and a second run on the same cluster with a node
        of the same id (another model) replaced the first run's value on the workers mid-run."""
        try:
            job_future = client.scatter(job, broadcast=True, hash=False)
            return job_future, client.scatter([static], broadcast=True, hash=False)[0]
        except Exception as exc:
            raise NodeflowError(f"cannot send the run to the Dask workers: {type(exc).__name__}: {exc} "
                                "(node classes must be importable there: defined in a module, "
                                "not in a function or a script)") from exc

    # -- cluster -------------------------------------------------------------------------------
    def _connect(self) -> tuple[Any, Any]:
        try:
            import dask
            from distributed import Client, LocalCluster
        except ImportError as exc:
            raise NodeflowError(f"the Dask executor needs the [dask] extra (pip install 'nodeflow[dask]'): "
                                f"{exc}") from None
        cluster = None
        if self.scheduler:
            try:
                client = _connect_client(Client, self.scheduler, direct_to_workers(self.scheduler))
            except (OSError, TimeoutError) as exc:
                raise NodeflowError(f"cannot reach the Dask scheduler at {self.scheduler}: {exc} "
                                    "(start one with `dask scheduler`, or leave out --scheduler for a "
                                    "local cluster)") from None
        else:
            try:
                with dask.config.set(local_cluster_config()):
                    cluster = start_local_cluster(LocalCluster, self.workers)
                    client = Client(cluster, direct_to_workers=True)
            except Exception as exc:
                raise NodeflowError(f"cannot start a local Dask cluster of {self.workers} workers: "
                                    f"{type(exc).__name__}: {exc}") from exc
        try:
            client.wait_for_workers(1, timeout=self.connect_timeout)
        except TimeoutError:
            client.close()
            raise NodeflowError(f"no Dask worker joined the scheduler at {self.scheduler} within "
                                f"{self.connect_timeout:g} s (start some with `dask worker ADDRESS`)") from None
        return client, cluster

    def _close(self, client: Any, cluster: Any, job: RemoteJob) -> None:
        try:
            client.unsubscribe_topic(job.topic)
            client.run(release_run, job.run_id)  # readers closed, instances dropped on every worker
        except Exception:  # a cluster already gone has nothing left to release
            pass
        finally:
            client.close()
            if cluster is not None:
                cluster.close()

    # -- events --------------------------------------------------------------------------------
    def _wait(self, future: Any, batches: Batches, inbox: queue.Queue[Event]) -> list[BatchResult]:
        """The task's results (one per batch), relaying worker events and watching for cancellation."""
        while not future.done():
            if self.cancel_token.cancelled:
                raise Cancelled()
            self._drain(inbox, wait=0.05)
        self._drain(inbox)
        try:
            return future.result()
        except (NodeflowError, KeyboardInterrupt):
            raise
        except Exception as exc:
            raise NodeflowError(f"the Dask cluster failed frames {batches[0][0]}..{batches[-1][-1]}: "
                                f"{type(exc).__name__}: {exc}") from exc

    def _drain(self, inbox: queue.Queue[Event], wait: float = 0.0) -> None:
        try:
            event = inbox.get(timeout=wait) if wait else inbox.get_nowait()
            while True:
                if isinstance(event, NodeFinished):
                    self._remote_finished += 1
                self.emit(event)
                event = inbox.get_nowait()
        except queue.Empty:
            pass

    def _drain_until(self, inbox: queue.Queue[Event], condition: Callable[[], bool], timeout: float) -> None:
        """Relay the last workers' events (they may arrive just after the results)."""
        end = time.monotonic() + timeout
        while not condition() and time.monotonic() < end:
            self._drain(inbox, wait=0.05)
        self._drain(inbox)


def start_local_cluster(cluster_cls: Any, workers: int) -> Any:
    """A ``LocalCluster`` of ``workers`` processes of one thread each on the loopback address
    (call it inside ``dask.config.set(local_cluster_config())``; the benchmark starts its own so)."""
    return cluster_cls(n_workers=max(1, workers), threads_per_worker=1, processes=True, host="127.0.0.1",
                       dashboard_address=":0", silence_logs=logging.ERROR)


def _threads(client: Any) -> int:
    return sum(w.get("nthreads", 1) for w in client.scheduler_info().get("workers", {}).values())


def _workers(client: Any) -> list[str]:
    """The workers' addresses, sorted (runs of tasks go to them in turn)."""
    return sorted(client.scheduler_info().get("workers", {}))


def _receive(item: Any, inbox: queue.Queue[Event]) -> None:
    """Subscriber of the run's topic (on the client's event loop): decode and queue the events of
    one message (a worker sends them in bunches, see :class:`_Publisher`)."""
    _, message = item
    for name, fields in message:
        cls = FORWARDED.get(name)
        if cls is None:
            continue
        if isinstance(fields.get("frames"), list):
            fields["frames"] = tuple(fields["frames"])
        inbox.put(cls(**fields))


# ---------------------------------------------------------------------------------------------
# worker side

_instances: OrderedDict[tuple[str, int], dict[str, Node]] = OrderedDict()
"""(run id, worker thread) -> the run's remote node instances, kept between that run's tasks."""
_instances_lock = threading.Lock()
_MAX_KEPT = 64
"""Instance sets kept at most (a run whose release never came is dropped oldest first)."""


def _run_instances(job: RemoteJob) -> tuple[dict[str, Node], bool]:
    """This thread's instances of the run's remote nodes, and whether they were just made."""
    key = (job.run_id, threading.get_ident())
    with _instances_lock:
        found = _instances.get(key)
        if found is not None:
            return found, False
        found = {nid: job.plan.nodes[nid].cls(job.plan.nodes[nid].params) for nid in job.remote}
        _instances[key] = found
        while len(_instances) > _MAX_KEPT:
            _abort_all(_instances.popitem(last=False)[1])
        return found, True


def _replay_first_batch(job: RemoteJob, static: dict[str, dict[str, Any]], instances: dict[str, Node]) -> None:
    """New instances see the run's first batch first, as the local executor's do (outputs dropped,
    no events), so that a node that decides on it decides alike on every worker."""
    nodes = [job.plan.nodes[nid] for nid in job.remote]
    tallies = {pn.id: NodeTally(pn.cls.type_name) for pn in nodes}
    Executor(device=torch.device(job.device)).run_batch(job.plan, nodes, instances, tallies, static,
                                                        job.first_batch, job.frame_list, {})


def _abort_all(nodes: dict[str, Node]) -> None:
    for node in nodes.values():
        with contextlib.suppress(Exception):  # releasing must not fail a run that succeeded
            node.abort()


def release_run(run_id: str) -> int:
    """Drop one run's node instances on this worker (closing video readers); how many sets."""
    with _instances_lock:
        keys = [k for k in _instances if k[0] == run_id]
        dropped = [_instances.pop(k) for k in keys]
    for nodes in dropped:
        _abort_all(nodes)
    return len(dropped)


EVENT_FLUSH_S = 0.2
"""A worker sends its buffered events this long after the first of them, and at each task's end."""


class _Publisher:
    """A task's node events, sent to the run's topic a bunch per message.

    One message per event cost about 0.25 ms of CPU in the worker, the scheduler and this
    process each (a msgpack check, a loop wake-up, a relay): 8 per batch of the past-film
    pipeline. Bunched, a task sends one or two (not one per batch: a task of 4 batches of 2
    frames sent 4), and a long node's progress still flows (the buffer is sent
    ``EVENT_FLUSH_S`` after its first event, from the worker's event loop).
    """

    def __init__(self, topic: str):
        from distributed import get_worker

        self.worker = get_worker()
        self.topic = topic
        self.lock = threading.Lock()
        self.buffer: list[tuple[str, dict[str, Any]]] = []
        self.pending = False

    def __call__(self, event: Event) -> None:
        if type(event).__name__ not in FORWARDED:
            return
        with self.lock:
            self.buffer.append((type(event).__name__, dataclasses.asdict(event)))
            if self.pending:
                return
            self.pending = True
        self.worker.loop.add_callback(self._flush_later)

    def _flush_later(self) -> None:  # on the worker's event loop
        self.worker.loop.call_later(EVENT_FLUSH_S, self.flush)

    def flush(self) -> None:
        with self.lock:
            bunch, self.buffer, self.pending = self.buffer, [], False
        if bunch:
            self.worker.log_event(self.topic, bunch)


def compute_batch(job: RemoteJob, static: dict[str, dict[str, Any]], frames: tuple[int, ...],
                  previews: bool, publish: Callable[[Event], None]) -> BatchResult:
    """Runs on a worker: the remote nodes for one frame batch, through the local batch runner."""
    plan = job.plan
    nodes = [plan.nodes[nid] for nid in job.remote]
    keep = set(job.keep)
    if previews:
        keep |= {(pn.id, sock.name) for pn in nodes for sock in pn.cls.outputs}
    # No cache on a worker (nothing is reused: each batch is new), so no store/lookup either.
    runner = Executor(device=torch.device(job.device), listeners=(publish,),
                      reason=lambda pn: job.reasons[pn.id])
    tallies = {pn.id: NodeTally(pn.cls.type_name) for pn in nodes}
    instances, fresh = _run_instances(job)
    if fresh and job.first_batch and frames != job.first_batch:
        publish(LogMessage(None, "debug", f"dask: new instances replay the first batch {job.first_batch} "
                                          f"before frames {frames}"))
        _replay_first_batch(job, static, instances)
    values = runner.run_batch(plan, nodes, instances, tallies, static, frames, job.frame_list, {}, keep=keep)
    shown = _pack(values) if previews else {}
    sent = {nid: {o: v for o, v in outs.items() if (nid, o) in job.keep} for nid, outs in values.items()}
    return BatchResult(_pack({k: v for k, v in sent.items() if v}), tallies, shown)


def compute_batches(job: RemoteJob, static: dict[str, dict[str, Any]], batches: Batches,
                    previews: bool) -> list[BatchResult]:
    """Runs on a worker: consecutive batches, one after the other (previews from the first)."""
    publish = _Publisher(job.topic)
    try:
        return [compute_batch(job, static, frames, previews and i == 0, publish) for i, frames in enumerate(batches)]
    finally:
        publish.flush()  # the task's last events leave before its result (a long batch's, on the timer)


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


def direct_to_workers(address: str) -> bool | None:
    """Whether the client fetches each task's result straight from its worker.

    Through the scheduler (Dask's default) a result crosses the network twice and the scheduler
    receives and resends it: 6 MB per task of 8 frames of 256², which cost the local cluster's
    scheduler (in this process) about 1 ms of CPU per frame. Direct needs the workers reachable
    from here: surely so for the executor's own local cluster and for a scheduler on the loopback
    address (its workers are on this machine); elsewhere Dask's setting decides
    (``distributed.client.direct-to-workers``, i.e. ``DASK_DISTRIBUTED__CLIENT__DIRECT_TO_WORKERS``).
    """
    from urllib.parse import urlsplit

    host = urlsplit(address if "://" in address else f"tcp://{address}").hostname or ""
    return True if host == "localhost" or host == "::1" or host.startswith("127.") else None


def _connect_client(client_cls: Any, address: str, direct: bool | None = None) -> Any:
    """``Client(address)`` within :data:`SCHEDULER_TIMEOUT_S`. Dask's own timeout does not cover
    a peer that accepts the connection and never answers, so the wait happens in a thread."""
    box: dict[str, Any] = {}

    def connect() -> None:
        try:
            box["client"] = client_cls(address, timeout=SCHEDULER_TIMEOUT_S, direct_to_workers=direct)
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
