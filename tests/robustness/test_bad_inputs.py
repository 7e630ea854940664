"""Graph files and input paths that used to crash or hang: each is now a clear error (exit 2)."""

from __future__ import annotations

import json
import os
import time

import pytest

import nodeflow.fingerprint
from nodeflow.errors import GraphValidationError
from nodeflow.fingerprint import InputFileError, expand, file_fingerprint
from nodeflow.graph import GraphSpec
from robustness.probe import assert_clean, cli, cli_subprocess


def graph_file(tmp_path, nodes, name="g.json"):
    path = tmp_path / name
    path.write_text(json.dumps({"format": "nodeflow/1", "nodes": nodes}))
    return path


def load_node(path: str, type_name: str = "LoadImage") -> dict:
    return {"src": {"type": type_name, "params": {"path": path}}}


def refused(path, *needles: str) -> str:
    """``nodeflow validate path`` exits 2, cleanly, with every needle in the message."""
    outcome = cli(["validate", str(path)])
    assert_clean(outcome)
    assert outcome.code == 2, outcome.output
    text = " ".join(outcome.output.split())
    for needle in needles:
        assert needle in text, text
    return text


# -- graph files ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "needles"), [
    (b'{"format": "nodeflow/1", "nodes": {"\xff": {}}}', ["not UTF-8 text: byte 0xff at line 1", "save the graph as UTF-8"]),
    (b"[" * 100_000 + b"]" * 100_000, ["nested more than 64 levels"]),
    (b'{"format": "nodeflow/1", "nodes": {"a": {"type": "Blur", "params": {"size": ' + b"9" * 5000 + b"}}}}",
     ["integer of 5000 digits is too large"]),
    (b'{"format": "nodeflow/1", "nodes": {"a": {"type": "Blur", "params": {"size": 1e999}}}}',
     ["1e999 is too large"]),
    (b'{"format": "nodeflow/1", "nodes": {"a": {"type": "Blur", "params": {"size": NaN}}}}', ["NaN is not a number"]),
    (b'{"format": "nodeflow/1", "nodes": {"a": {"type": "Blur", "params": {"size": -Infinity}}}}',
     ["-Infinity is not a number"]),
    # the last key would win and hide the invalid first node
    (b'{"format": "nodeflow/1", "nodes": {"a": {"type": "Bogus"}, "a": {"type": "SampleImage"}}}',
     ["duplicate key 'a'"]),
    ('{"format": "nodeflow/²", "nodes": {}}'.encode(), ["unknown format 'nodeflow/²'"]),
    (b'{"format": "nodeflow/\xd9\xa1", "nodes": {}}', ["unknown format 'nodeflow/١'"]),  # Arabic-Indic 1
    (b'{"format": "nodeflow/' + b"9" * 5000 + b'", "nodes": {}}', ["unknown format 'nodeflow/999"]),
    (b'{"format": "nodeflow/2", "nodes": {}}', ["newer than this nodeflow understands"]),
])
def test_bad_graph_files_are_refused_with_exit_2(tmp_path, raw, needles):
    path = tmp_path / "g.json"
    path.write_bytes(raw)
    with pytest.raises(GraphValidationError):
        GraphSpec.load(path)
    text = refused(path, *needles)
    assert len(text) < 600, "the message quotes the whole bad value"


def test_nan_is_refused_in_params_given_from_python_too():
    from nodeflow.registry import default_registry

    levels = default_registry().get("Levels")
    with pytest.raises(ValueError, match="finite number"):
        levels.Params(gamma=float("nan"))
    with pytest.raises(ValueError, match="finite number"):
        levels.Params(gamma=float("inf"))


@pytest.mark.parametrize("kind", ["folder", "fifo", "dev-zero", "nul"])
def test_a_graph_path_that_is_no_regular_file(tmp_path, kind):
    path = {"folder": tmp_path, "fifo": tmp_path / "g.json", "dev-zero": "/dev/zero", "nul": "g\0.json"}[kind]
    if kind == "fifo":
        os.mkfifo(path)
    outcome = cli(["validate", str(path)])
    assert_clean(outcome)
    assert outcome.code == 2


# -- input paths ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "needle"), [
    ("a\0b.png", "cannot contain a NUL byte"),
    ("x" * 300 + ".png", "is 304 bytes; file systems allow at most 255"),
    ("~nosuchuser/a.png", "no user 'nosuchuser'"),
])
def test_impossible_paths_are_refused_before_use(tmp_path, value, needle):
    refused(graph_file(tmp_path, load_node(value)), "node src, path", needle)
    sink = {"src": {"type": "SampleImage", "params": {"name": "camera"}},
            "save": {"type": "SaveImage", "params": {"path": value}, "inputs": {"image": {"node": "src", "output": "image"}}}}
    refused(graph_file(tmp_path, sink, "out.json"), "node save, path", needle)


@pytest.mark.parametrize("special", ["/dev/zero", "/dev/null", "fifo"])
def test_devices_and_fifos_are_refused_without_reading(tmp_path, special):
    if special == "fifo":
        special = str(tmp_path / "fifo")
        os.mkfifo(special)
    for type_name in ("LoadImage", "LoadImageSequence"):
        refused(graph_file(tmp_path, load_node(special, type_name)), "not a regular file")


def test_fifo_inside_a_folder_input_is_skipped(tmp_path):
    (tmp_path / "frames").mkdir()
    os.mkfifo(tmp_path / "frames" / "f_0001.png")
    from PIL import Image

    Image.new("RGB", (4, 4)).save(tmp_path / "frames" / "f_0002.png")
    assert expand(tmp_path / "frames") == [tmp_path / "frames" / "f_0002.png"]


def test_fingerprint_reads_at_most_what_stat_reported(tmp_path):
    """A file that grows while it is hashed (a log, a /proc file) cannot keep us reading."""
    path = tmp_path / "grows.bin"
    path.write_bytes(b"x" * 1000)
    with pytest.raises(InputFileError):
        file_fingerprint(tmp_path)
    first = file_fingerprint(path)
    assert first == file_fingerprint(path) and len(first) == 32


def test_folder_input_of_root_is_refused_quickly(tmp_path, monkeypatch):
    """``/`` used to walk the whole file system, then fail on /proc."""
    monkeypatch.setattr(nodeflow.fingerprint, "MAX_FILES", 5000)
    start = time.perf_counter()
    text = refused(graph_file(tmp_path, load_node("/", "LoadImageSequence")), "names more than 5000 files",
                   "NODEFLOW_MAX_INPUT_FILES")
    assert time.perf_counter() - start < 60, text


def test_validate_of_a_fifo_input_does_not_block_in_a_real_process(tmp_path):
    os.mkfifo(tmp_path / "clip.png")
    path = graph_file(tmp_path, load_node("clip.png"))
    outcome = cli_subprocess(["validate", str(path)], timeout=120)  # a hang fails with TimeoutExpired
    assert_clean(outcome)
    assert outcome.code == 2 and "not a regular file" in outcome.output


def test_literal_bracket_names_are_not_glob_patterns(tmp_path):
    from PIL import Image

    Image.new("RGB", (6, 4), (255, 0, 0)).save(tmp_path / "shot[1].png")
    path = graph_file(tmp_path, load_node("shot[1].png"))
    outcome = cli(["validate", str(path)])
    assert outcome.code == 0, outcome.output
    # a folder with brackets holding a numbered sequence
    (tmp_path / "take[2]").mkdir()
    for i in range(3):
        Image.new("RGB", (6, 4), (0, 0, 80 * i)).save(tmp_path / "take[2]" / f"f_{i:04d}.png")
    seq = {"clip": {"type": "LoadImageSequence", "params": {"path": "take[2]/f_%04d.png"}},
           "save": {"type": "SaveImageSequence", "params": {"path": "out/o_%04d.png"},
                    "inputs": {"image": {"node": "clip", "output": "image"}}}}
    outcome = cli(["run", str(graph_file(tmp_path, seq, "seq.json")), "--output-dir", str(tmp_path / "o"),
                   "--device", "cpu"])
    assert outcome.code == 0, outcome.output
    assert sorted(p.name for p in (tmp_path / "o" / "out").iterdir()) == [f"o_{i:04d}.png" for i in range(3)]
    # a glob that names no existing file still is one
    (tmp_path / "take[2]").rename(tmp_path / "take2")
    glob_graph = graph_file(tmp_path, load_node("take2/f_000[0-1].png", "LoadImageSequence"), "glob.json")
    assert cli(["validate", str(glob_graph)]).code == 0


def test_sequence_last_of_a_billion_counts_from_the_files_present(tmp_path):
    from PIL import Image

    (tmp_path / "f").mkdir()
    for i in range(1, 4):
        Image.new("RGB", (4, 4)).save(tmp_path / "f" / f"f_{i:04d}.png")
    seq = {"clip": {"type": "LoadImageSequence", "params": {"path": "f/f_%04d.png", "last": 10 ** 9}},
           "save": {"type": "SaveGIF", "params": {"path": "o.gif"}, "inputs": {"image": {"node": "clip", "output": "image"}}}}
    start = time.perf_counter()
    outcome = cli(["run", str(graph_file(tmp_path, seq)), "--output-dir", str(tmp_path / "o")])
    assert time.perf_counter() - start < 30
    assert_clean(outcome)
    text = " ".join(outcome.output.split())
    assert outcome.code == 1 and "missing frame 4" in text and "999999996 more" in text
    assert "the last frame present is 3" in text
