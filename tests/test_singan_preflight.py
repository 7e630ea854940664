"""An injection scale out of range is refused by `nodeflow validate`/`run` before SinGAN trains."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from nodeflow.errors import NodeError
from nodeflow.events import NodeStarted
from nodeflow.graph import Graph, GraphSpec
from nodeflow.nodes.singan.handle import PyramidFacts, check_scale_known
from nodeflow.nodes.singan.pyramid import plan_pyramid
from nodeflow.session import Session


def _graph(scale) -> dict:
    return {"format": "nodeflow/1", "nodes": {
        "scene": {"type": "SampleImage", "params": {"name": "camera", "max_size": 64}},
        "harmonizer": {"type": "TrainSinGAN", "params": {"max_size": 64, "preset": "fast"},
                       "inputs": {"scene": {"node": "scene", "output": "image"}}},
        "harmonize": {"type": "Harmonize", "params": {"scale": scale},
                      "inputs": {"model": {"node": "harmonizer", "output": "model"},
                                 "composite": {"node": "scene", "output": "image"},
                                 "mask": {"node": "scene", "output": "image"}}},
        "save": {"type": "SaveImage", "params": {"path": "h.png"},
                 "inputs": {"image": {"node": "harmonize", "output": "image"}}},
    }}


def _n_max() -> int:
    return plan_pyramid(64, 64, scale_factor=0.55).stop_scale  # camera is square; fast preset factor


def _cli(tmp_path, *args):
    env = {**os.environ, "NODEFLOW_CACHE_DIR": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "nodeflow.cli", *args], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=300)


def test_validate_and_run_refuse_an_out_of_range_scale_naming_node_field_and_range(tmp_path):
    n = _n_max()
    path = tmp_path / "g.json"
    path.write_text(json.dumps(_graph(n + 1)))
    for command in (["validate", str(path)], ["run", str(path), "--threads", "1", "--device", "cpu"]):
        proc = _cli(tmp_path, *command)
        assert proc.returncode != 0, proc.stderr
        err = " ".join(proc.stderr.split())
        assert f"node harmonize (Harmonize): scale: scale {n + 1} is out of range 1…{n}" in err
        assert f"use 1 ≤ scale ≤ {n}" in err
        assert "Traceback" not in proc.stderr
    assert not (tmp_path / "h.png").exists()
    ok = tmp_path / "ok.json"
    ok.write_text(json.dumps(_graph(n)))
    proc = _cli(tmp_path, "validate", str(ok))
    assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").rglob("singan.safetensors"))


def test_run_stops_before_the_training_starts(tmp_path):
    spec = GraphSpec.model_validate(_graph(_n_max() + 3))
    g = Graph(base_dir=tmp_path, session=Session(cache_dir=tmp_path / "cache"))
    g.spec = spec
    events = []
    with pytest.raises(Exception, match="out of range"):
        g.run(device="cpu", output_dir=tmp_path, on_event=events.append)
    started = {e.node_id for e in events if isinstance(e, NodeStarted)}
    assert "scene" in started and "harmonizer" not in started


@pytest.mark.parametrize("n", [0, 6])
def test_check_scale_known_range(n):
    with pytest.raises(NodeError, match=f"scale {n} is out of range 1…5"):
        check_scale_known(PyramidFacts(N=5), n)


def test_check_scale_known_accepts_auto_and_unknown():
    check_scale_known(PyramidFacts(N=5), "auto")
    check_scale_known(None, 9)
    with pytest.raises(NodeError, match="scale 2 is out of range 3…5") as err:
        check_scale_known(PyramidFacts(N=5, first_scale=3), 2)
    assert err.value.field == "scale" and "trained from scale 3 up only" in (err.value.hint or "")
