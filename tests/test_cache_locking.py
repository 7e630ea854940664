"""Processes sharing a cache folder: one computes an expensive result, the other waits and reuses it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from nodeflow.cache import DiskCache
from nodeflow.errors import Cancelled
from nodeflow.image_files import write_image


def _nodeflow() -> list[str]:
    exe = Path(sys.executable).with_name("nodeflow")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "nodeflow.cli"]


def test_two_processes_training_the_same_model_end_with_one_valid_entry(tmp_path):
    write_image(torch.rand(1, 3, 24, 32, generator=torch.Generator().manual_seed(0)), tmp_path / "scene.png")
    graph = tmp_path / "train.json"
    graph.write_text(json.dumps({"format": "nodeflow/1", "nodes": {"train": {"type": "TrainSinGAN", "params": {
        "image": "scene.png", "iterations": 12, "max_size": 32, "min_size": 12}}},
        "outputs": {"rmse": {"node": "train", "output": "rmse"}}}))
    cache = tmp_path / "cache"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [*_nodeflow(), "--cache-dir", str(cache), "--threads", "1", "run", str(graph), "--device", "cpu"]
    procs = [subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]  # started together: their trainings overlap
    logs = [p.communicate(timeout=600)[1] for p in procs]
    for p, log in zip(procs, logs, strict=True):
        assert p.returncode == 0, log
    trained = [log for log in logs if "train (TrainSinGAN): no cached result" in log]
    reused = [log for log in logs if "train (TrainSinGAN): cached (disk)" in log]
    assert len(trained) == 1 and len(reused) == 1, logs
    assert "waiting: another process is computing this result" in reused[0]
    rmse = [next(line for line in log.splitlines() if line.startswith("output rmse")) for log in logs]
    assert rmse[0] == rmse[1]  # the waiting process got the very same model

    entries = list((cache / "results").glob("*/*"))
    assert len(entries) == 1 and entries[0].name.startswith(entries[0].parent.name), entries
    got = DiskCache(cache).get(entries[0].name)  # hashes checked: not corrupt
    assert got is not None and got["model"].kind == "SinGAN" and float(got["rmse"]) == float(rmse[0].split()[-1])
    assert not list((cache / "scratch").glob("*")), "the finished training's scratch folder is gone"


HOLD = """
import sys, time
from filelock import FileLock
with FileLock(sys.argv[1]):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def _hold(path: Path, seconds: float) -> subprocess.Popen:
    path.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(path), str(seconds)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_a_lock_held_by_another_process_is_waited_for(tmp_path):
    cache = DiskCache(tmp_path)
    holder = _hold(cache.lock_path("k"), 1.0)
    waits = []
    t0 = time.monotonic()
    with cache.locked("k", on_wait=lambda: waits.append(time.monotonic()), poll=0.1):
        waited = time.monotonic() - t0
    holder.wait(timeout=30)
    assert waits and len(waits) == 1 and waited >= 0.5
    t0 = time.monotonic()
    with cache.locked("k"):  # free now: no wait
        assert time.monotonic() - t0 < 0.5


def test_waiting_for_a_lock_can_be_cancelled(tmp_path):
    cache = DiskCache(tmp_path)
    holder = _hold(cache.lock_path("k"), 30)
    try:
        calls = []

        def check() -> None:
            calls.append(1)
            if len(calls) >= 2:
                raise Cancelled()

        with pytest.raises(Cancelled), cache.locked("k", check=check, poll=0.05):
            pytest.fail("got a lock another process holds")
    finally:
        holder.kill()
        holder.wait(timeout=30)


def test_clear_leaves_alone_what_another_process_is_working_on(tmp_path, capsys):
    from nodeflow.cli import main

    cache = DiskCache(tmp_path)
    assert cache.put("ab" + "0" * 30, {"x": torch.ones(2)}) and cache.put("cd" + "1" * 30, {"x": torch.zeros(2)})
    busy = "ef" + "2" * 30
    (cache.scratch_dir(busy) / "checkpoint").mkdir(parents=True)
    (cache.scratch_dir("gh" + "3" * 30)).mkdir(parents=True)
    holder = _hold(cache.lock_path(busy), 30)
    try:
        assert main(["cache", "clear", "--cache-dir", str(tmp_path)]) == 0
        assert "kept 1 entries another process is working on" in capsys.readouterr().out
    finally:
        holder.kill()
        holder.wait(timeout=30)
    info = cache.info()
    assert (info.entries, info.scratch_entries) == (0, 1)
    assert (cache.scratch_dir(busy) / "checkpoint").is_dir()
    assert cache.clear() == [] and cache.info().scratch_entries == 0  # free now
