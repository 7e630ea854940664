"""A real Dask cluster for tests: `dask scheduler` and `dask worker` processes on 127.0.0.1.

Random free ports, bounded waits, and every process group killed at the end (even on failure).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from nodeflow.execute_dask import worker_environment

TESTS = Path(__file__).resolve().parent
START_TIMEOUT_S = 120


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self.port = free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.procs: list[subprocess.Popen] = []
        # workers unpickle test node classes (tests/engine_nodes.py, tests/dask_nodes.py)
        self.env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
                    "OMP_NUM_THREADS": "1",
                    # as the executor's own local cluster: no MALLOC_TRIM_THRESHOLD_ (slows torch),
                    # Dask's housekeeping slowed down (QUIET_CONFIG)
                    **worker_environment()}

    def _spawn(self, name: str, *args: str) -> subprocess.Popen:
        log = open(self.log_dir / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen([sys.executable, "-m", "dask", *args], stdout=log, stderr=subprocess.STDOUT,
                                env=self.env, start_new_session=True)
        log.close()
        self.procs.append(proc)
        return proc

    def start_scheduler(self) -> None:
        self._spawn("scheduler", "scheduler", "--host", "127.0.0.1", "--port", str(self.port), "--no-dashboard")

    def start_worker(self, name: str, nanny: bool = True) -> subprocess.Popen:
        return self._spawn(name, "worker", self.address, "--nthreads", "1", "--name", name, "--host", "127.0.0.1",
                           "--no-dashboard", *([] if nanny else ["--no-nanny"]))

    def wait_for_workers(self, n: int) -> None:
        from distributed import Client

        with Client(self.address, timeout=START_TIMEOUT_S) as client:
            client.wait_for_workers(n, timeout=START_TIMEOUT_S)

    def workers(self) -> int:
        from distributed import Client

        with Client(self.address, timeout=30) as client:
            return len(client.scheduler_info()["workers"])

    @staticmethod
    def kill(proc: subprocess.Popen) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)

    def stop(self) -> None:
        for proc in reversed(self.procs):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for proc in self.procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.kill(proc)

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in self.log_dir.glob("*.log"))


@contextlib.contextmanager
def two_worker_cluster(log_dir: Path) -> Iterator[Cluster]:
    """A ``dask scheduler`` and two ``dask worker`` processes on loopback, stopped on exit."""
    c = Cluster(log_dir)
    try:
        c.start_scheduler()
        c.start_worker("w1")
        c.start_worker("w2")
        try:
            c.wait_for_workers(2)
        except Exception as exc:
            raise RuntimeError(f"the test cluster did not start:\n{c.logs()}") from exc
        yield c
    finally:
        c.stop()
