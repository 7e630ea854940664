"""The CLI: exit codes, messages without tracebacks, --set/--frames, nodes/schema/cache."""

from __future__ import annotations

import json

import pytest
from engine_nodes import CALLS, make_registry, reset

import nodeflow.registry
from nodeflow.cli import main, parse_frames


@pytest.fixture(autouse=True)
def test_registry(monkeypatch):
    reset()
    monkeypatch.setattr(nodeflow.registry, "_default", make_registry())


def write(tmp_path, nodes, name="g.json", **extra):
    path = tmp_path / name
    path.write_text(json.dumps({"format": "nodeflow/1", "nodes": nodes, **extra}))
    return str(path)


CLIP = {
    "src": {"type": "Frames", "params": {"count": 12}},
    "lift": {"type": "Offset", "params": {"offset": 0.1}, "inputs": {"image": {"node": "src", "output": "image"}}},
    "out": {"type": "CountSink", "params": {"path": "n.txt"}, "inputs": {"image": {"node": "lift", "output": "image"}}},
}


def test_run_with_frames_set_and_output_dir(tmp_path, capsys):
    graph = write(tmp_path, CLIP)
    code = main(["run", graph, "--frames", "2:10", "--batch-size", "3", "--set", "lift.offset=0.5",
                 "--output-dir", str(tmp_path / "o"), "--device", "cpu"])
    assert code == 0
    assert (tmp_path / "o" / "n.txt").read_text() == "8"
    assert CALLS["lift"] == 3
    err = capsys.readouterr().err
    assert "lift (Offset): no cached result" in err
    assert "run summary" in err


def test_invalid_graph_exit_2_lists_all_problems_without_traceback(tmp_path, capsys):
    graph = write(tmp_path, {"a": {"type": "Offst"}, "b": {"type": "Const", "params": {"value": 9}}})
    for cmd in ("validate", "run"):
        assert main([cmd, graph]) == 2
        err = capsys.readouterr().err
        assert "graph has 2 problems" in err
        assert "node a, type: unknown node type 'Offst'" in err and "Offset" in err
        assert "node b, value: out of range 9" in err
        assert "Traceback" not in err


def test_node_failure_exit_1_traceback_only_when_verbose(tmp_path, capsys):
    graph = write(tmp_path, {"bad": {"type": "Boom"}}, outputs={"x": {"node": "bad", "output": "image"}})
    assert main(["run", graph]) == 1
    err = capsys.readouterr().err
    assert "error: node bad (Boom): ZeroDivisionError: division by zero in user code" in err
    assert "Traceback" not in err
    assert main(["--verbose", "run", graph]) == 1
    assert "Traceback" in capsys.readouterr().err


def test_cancelled_run_exit_130(tmp_path, capsys):
    nodes = dict(CLIP)
    nodes["out"] = {**CLIP["out"], "params": {"path": "n.txt", "cancel_at": 4}}
    graph = write(tmp_path, nodes)
    assert main(["run", graph, "--output-dir", str(tmp_path)]) == 130
    assert "cancelled" in capsys.readouterr().err
    assert not (tmp_path / "n.txt").exists()


def test_bad_arguments_are_usage_errors(tmp_path, capsys):
    graph = write(tmp_path, CLIP)
    assert main(["run", graph, "--frames", "9:3"]) == 2
    assert "--frames '9:3'" in capsys.readouterr().err
    assert main(["run", graph, "--frames", "0:99"]) == 2
    assert "the sources provide 12 frames" in capsys.readouterr().err
    assert main(["run", graph, "--set", "nosuch.x=1"]) == 2
    assert "no node 'nosuch'" in capsys.readouterr().err
    assert main(["run", graph, "--device", "tpu"]) == 2
    assert main(["run", str(tmp_path / "missing.json")]) == 2
    assert "cannot read graph file" in capsys.readouterr().err


def test_parse_frames():
    assert parse_frames("0:48") == (0, 48, 1)
    assert parse_frames("7") == (7, 8, 1)
    assert parse_frames("5:") == (5, None, 1)
    assert parse_frames("0:10:2") == (0, 10, 2)


def test_nodes_schema_cache_commands(tmp_path, capsys, monkeypatch):
    assert main(["nodes"]) == 0
    assert "Offset" in capsys.readouterr().out
    assert main(["nodes", "Offset"]) == 0
    out = capsys.readouterr().out
    assert "image: Image (required)" in out and "amount: Float (optional, default 0.0)" in out
    assert main(["nodes", "Ofset"]) == 2
    assert main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out)["title"] == "nodeflow graph (nodeflow/1)"
    monkeypatch.setenv("NODEFLOW_CACHE_DIR", str(tmp_path / "c"))
    graph = write(tmp_path, {"s": {"type": "Slow"}}, outputs={"x": {"node": "s", "output": "image"}})
    assert main(["run", graph]) == 0
    capsys.readouterr()
    assert main(["cache", "info"]) == 0
    assert "entries: 1" in capsys.readouterr().out
    assert main(["run", graph]) == 0
    assert "s (Slow): cached (disk)" in capsys.readouterr().err
    assert main(["cache", "clear"]) == 0
    assert main(["cache", "info"]) == 0
    assert "entries: 0" in capsys.readouterr().out


def test_ctrl_c_stops_a_long_node_cleanly(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    graph = write(tmp_path, {
        "slow": {"type": "Slow", "params": {"steps": 200, "sleep": 0.05}},
        "out": {"type": "CountSink", "params": {"path": "n.txt"}, "inputs": {"image": {"node": "slow", "output": "image"}}},
    })
    code = ("import sys; sys.path.insert(0, 'tests'); import engine_nodes, nodeflow.registry as r; "
            "r._default = engine_nodes.make_registry(); from nodeflow.cli import main; "
            f"sys.exit(main(['run', {graph!r}, '--output-dir', {str(tmp_path)!r}]))")
    proc = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "NODEFLOW_CACHE_DIR": str(tmp_path / "cache")})
    first = proc.stderr.readline()  # the run log's first line: the slow node has started
    assert "slow (Slow)" in first
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "cancelling" in err and "Traceback" not in err
    assert not (tmp_path / "n.txt").exists()


def test_threads_option_before_or_after_the_command(tmp_path):
    import torch

    graph = write(tmp_path, CLIP)
    before = torch.get_num_threads()
    try:
        assert main(["--threads", "1", "run", graph, "--output-dir", str(tmp_path)]) == 0
        assert torch.get_num_threads() == 1
        torch.set_num_threads(2)
        assert main(["run", graph, "--threads", "1", "--output-dir", str(tmp_path / "b")]) == 0
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
