"""SaveVideo frame rates: absurd ones are refused at validation, the slowest accepted one encodes."""

from __future__ import annotations

import json

import imageio.v3 as iio

from nodeflow.cli import main


def _graph(tmp_path, fps: float):
    graph = tmp_path / "g.json"
    graph.write_text(json.dumps({"format": "nodeflow/1", "nodes": {
        "s": {"type": "SampleImage", "params": {"name": "coffee", "max_size": 48}},
        "h": {"type": "HoldFrames", "params": {"frames": 3}, "inputs": {"image": {"node": "s", "output": "image"}}},
        "v": {"type": "SaveVideo", "params": {"path": "v.mp4", "fps": fps},
              "inputs": {"image": {"node": "h", "output": "image"}}}}}))
    return graph


def test_a_tiny_frame_rate_is_a_validation_error(tmp_path, capsys):
    code = main(["run", str(_graph(tmp_path, 1e-9)), "--output-dir", str(tmp_path / "out")])
    err = capsys.readouterr()
    text = err.out + err.err
    assert code == 2
    assert "node v" in text and "fps" in text and "Traceback" not in text
    assert not (tmp_path / "out" / "v.mp4").exists()


def test_the_slowest_accepted_rate_encodes(tmp_path):
    assert main(["run", str(_graph(tmp_path, 0.1)), "--output-dir", str(tmp_path / "out")]) == 0
    frames = iio.imread(tmp_path / "out" / "v.mp4", index=None)
    assert frames.shape[0] == 3
