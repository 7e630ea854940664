"""The editor in a real X window (Xvfb): open graphs/future_film.json, run a cheap part, screenshot it.

Skipped only where Xvfb is not installed (CI installs it: see .ci/run).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytestmark = pytest.mark.gui

ROOT = Path(__file__).resolve().parent.parent
XVFB = shutil.which("Xvfb")


@pytest.fixture
def display(tmp_path):
    """A private Xvfb display, stopped after the test."""
    if XVFB is None:
        pytest.skip("Xvfb is not installed (apt-get install xvfb); .ci/run installs it")
    for number in range(90, 140):
        if not Path(f"/tmp/.X11-unix/X{number}").exists() and not Path(f"/tmp/.X{number}-lock").exists():
            break
    proc = subprocess.Popen([XVFB, f":{number}", "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 20
    while not Path(f"/tmp/.X11-unix/X{number}").exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"Xvfb did not start: {proc.stderr.read().decode()[-500:]}")
        time.sleep(0.05)
    yield f":{number}"
    proc.terminate()
    proc.wait(10)


def test_future_film_opens_in_a_real_window_and_is_not_blank(display, tmp_path):
    out = tmp_path / "editor.png"
    env = dict(os.environ, DISPLAY=display, QT_QPA_PLATFORM="xcb", OMP_NUM_THREADS="1")
    # Run to here on the cut-out (SampleImage, Crop, GrabCut, matte): cheap, no training
    proc = subprocess.run([sys.executable, "-m", "nodeflow.gui.screenshot", "graphs/future_film.json", str(out),
                           "--run-to", "subject", "--mode", "alpha", "--size", "1400x900"],
                          capture_output=True, text=True, timeout=300, env=env, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "platform xcb" in proc.stdout and "run to subject: ok" in proc.stdout
    shot = np.asarray(Image.open(out).convert("RGB"))
    assert shot.shape[0] >= 800 and shot.shape[1] >= 1300
    assert shot.std() > 20  # not one flat colour
    colours = np.unique(shot.reshape(-1, 3)[::7], axis=0)
    assert len(colours) > 500  # widgets, wires, thumbnails and the viewer's picture
    # the viewer (right) shows the cut-out over the checkerboard: the two checker greys are there
    right = shot[:, shot.shape[1] * 3 // 4:]
    greys = [(right == v).all(axis=-1).sum() for v in (191, 115)]
    assert min(greys) > 500, greys
