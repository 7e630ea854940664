"""Real signals to real ``nodeflow`` processes during an export: clean stops, no leftovers.

SIGTERM is a clean stop like Ctrl-C (exit 143); a second Ctrl-C never lets a traceback out
(exit 130); what a SIGKILL leaves behind (hidden temps beside the output) is removed by the
next run of the same sink, and nothing else is.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nodeflow.atomic import remove_stale_temps

_SCRIPT = Path(sys.executable).with_name("nodeflow")
NODEFLOW = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "nodeflow.cli"]
"""The installed ``nodeflow`` command, as a user runs it."""

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def export_graph(tmp_path: Path, sink: str, path: str) -> Path:
    """A still held for very many frames into ``sink``: an export that runs until stopped."""
    graph = tmp_path / f"{sink}.json"
    graph.write_text(json.dumps({"format": "nodeflow/1", "nodes": {
        "still": {"type": "SampleImage", "params": {"name": "camera", "max_size": 48}},
        "hold": {"type": "HoldFrames", "params": {"frames": 200000},
                 "inputs": {"image": {"node": "still", "output": "image"}}},
        "save": {"type": sink, "params": {"path": path, **({"preset": "ultrafast"} if sink == "SaveVideo" else {})},
                 "inputs": {"image": {"node": "hold", "output": "image"}}},
    }}))
    return graph


def start(graph: Path, out: Path, *extra: str) -> subprocess.Popen[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "NODEFLOW_CACHE_DIR": str(graph.parent / "cache")}
    return subprocess.Popen([*NODEFLOW, "--threads", "1", "run", str(graph), "--output-dir", str(out), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def temps(folder: Path, prefix: str) -> list[Path]:
    return sorted(folder.glob(f"{prefix}*")) if folder.is_dir() else []


def wait_for_temp(proc: subprocess.Popen[str], folder: Path, prefix: str, timeout: float = 90) -> Path:
    """Block until the export is under way (its temp exists), then let it write a little more."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        found = temps(folder, prefix)
        if found:
            time.sleep(0.5)
            return found[0]
        if proc.poll() is not None:
            raise AssertionError(f"nodeflow exited early ({proc.returncode}): {proc.communicate()[1]}")
        time.sleep(0.1)
    proc.kill()
    raise AssertionError(f"no {prefix}* appeared in {folder}")


def test_sigterm_stops_an_export_cleanly_with_143(tmp_path):
    out = tmp_path / "out"
    proc = start(export_graph(tmp_path, "SaveVideo", "clip.mp4"), out)
    wait_for_temp(proc, out, ".clip.mp4.tmp-")
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "cancelling (SIGTERM)" in err and "Traceback" not in err
    assert sorted(p.name for p in out.iterdir()) == []  # no video, no temp


def test_a_second_ctrl_c_never_lets_a_traceback_out(tmp_path):
    out = tmp_path / "out"
    proc = start(export_graph(tmp_path, "SaveVideo", "clip.mp4"), out)
    wait_for_temp(proc, out, ".clip.mp4.tmp-")
    # an impatient user: the 2nd interrupts at once; later ones land in cleanup, in the final
    # message and in the interpreter's exit, and must hurt none of them
    for gap in (0.005, 0.05, 0.01, 0.2, 0.1, 0):
        proc.send_signal(signal.SIGINT)
        time.sleep(gap)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert not (out / "clip.mp4").exists()
    remove_stale_temps(out, ".clip.mp4.tmp-")  # whatever is left is recognised as a dead run's
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("sink, path, prefix, folder", [
    ("SaveVideo", "clip.mp4", ".clip.mp4.tmp-", "."),
    ("SaveImageSequence", "frames/f_%04d.png", ".nodeflow-tmp-", "frames"),
])
def test_next_run_removes_what_a_killed_export_left(tmp_path, sink, path, prefix, folder):
    out = tmp_path / "out"
    where = out / folder
    graph = export_graph(tmp_path, sink, path)
    proc = start(graph, out)
    left = wait_for_temp(proc, where, prefix)
    proc.kill()
    proc.communicate(timeout=30)
    assert left.exists()  # a SIGKILL can't clean up ...
    live = where / f"{prefix}{os.getpid()}-busy"  # a temp of a run still going (this process)
    live.write_bytes(b"")
    mine = where / f"{prefix}notes.txt"  # a user's file that merely looks alike
    mine.write_bytes(b"keep")
    proc = start(graph, out, "--frames", "0:2")
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert not left.exists()  # ... the next run of the same sink removes it
    assert live.exists() and mine.read_bytes() == b"keep"
    assert temps(where, prefix) == sorted([live, mine])


def test_sigterm_during_training_writes_no_model_and_keeps_the_checkpoints(tmp_path):
    from PIL import Image

    data = tmp_path / "data"
    data.mkdir()
    for i in range(2):
        Image.new("RGB", (32, 32), (40 * i, 90, 200)).save(data / f"{i}.png")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "NODEFLOW_CACHE_DIR": str(tmp_path / "cache")}
    proc = subprocess.Popen(
        [*NODEFLOW, "--threads", "1", "train", "pix2pix", "data", "--mode", "colorization", "--generator",
         "unet_32", "--ngf", "4", "--ndf", "4", "--niter", "1000000", "--niter-decay", "0", "--load-size", "32",
         "--crop-size", "32", "--batch-size", "1", "--checkpoint-every", "5", "--preview-every", "0",
         "--device", "cpu", "--out", "models/p2p"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    scratch = tmp_path / "cache" / "scratch"
    end = time.monotonic() + 90
    while not any(scratch.glob("*/*")) and time.monotonic() < end and proc.poll() is None:
        time.sleep(0.1)  # until the first checkpoint is written
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "Traceback" not in err
    assert not (tmp_path / "models").exists() or list((tmp_path / "models").iterdir()) == []
    assert any(scratch.glob("*/*"))  # resumable: the next run continues from here


def test_which_temps_count_as_left_by_a_finished_run(tmp_path):
    """Dead owner or a reused pid: stale. Live owner, this process, other naming: kept."""
    prefix = ".clip.mp4.tmp-"
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True, check=True).stdout.strip()
        names = {
            "dead": f"{prefix}{gone}-a1b2.mp4",
            "live": f"{prefix}{sleeper.pid}-c3d4.mp4",
            "self": f"{prefix}{os.getpid()}-e5f6.mp4",
            "reused": f"{prefix}{sleeper.pid}-g7h8.mp4",  # written long before that process started
            "other": f".other.mp4.tmp-{gone}-i9j0.mp4",
            "legacy_old": f"{prefix}k1l2m3n4.mp4",  # before temps carried a pid, a day old
            "legacy_new": f"{prefix}o5p6q7r8.mp4",
        }
        for name in names.values():
            (tmp_path / name).write_bytes(b"")
        for key in ("reused", "legacy_old"):
            os.utime(tmp_path / names[key], (time.time() - 3 * 86400,) * 2)
        removed = {p.name for p in remove_stale_temps(tmp_path, prefix)}
        expected = {names["dead"], names["legacy_old"]}
        if Path(f"/proc/{sleeper.pid}/stat").exists():  # start times are known (Linux)
            expected.add(names["reused"])
        assert removed == expected
        assert {p.name for p in tmp_path.iterdir()} == set(names.values()) - expected
    finally:
        sleeper.kill()
        sleeper.wait()
