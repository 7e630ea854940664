"""Global CLI options (--threads, --cache-dir, -v, --device) before or after every command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest
import torch
from engine_nodes import make_registry, reset

import nodeflow.registry
from nodeflow.cli import build_parser, main
from nodeflow.image_files import write_image

GLOBALS = ["--threads", "1", "--cache-dir", "CACHE", "-v", "--device", "cpu"]
COMMANDS = {
    "run": ["run", "g.json"],
    "validate": ["validate", "g.json"],
    "nodes": ["nodes"],
    "schema": ["schema"],
    "cache": ["cache", "info"],
    "edit": ["edit", "g.json"],
    "train singan": ["train", "singan", "scene.png", "--out", "m"],
    "train pix2pix": ["train", "pix2pix", "pairs", "--out", "m"],
    "train cyclegan": ["train", "cyclegan", "domains", "--out", "m"],
}


@pytest.fixture(scope="module")
def parser():
    return build_parser(with_train=True)  # the real registry: every training command


@pytest.mark.parametrize("where", ["before", "after", "between"])
@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_command_parses_global_options_anywhere(parser, command, where):
    cmd = COMMANDS[command]
    if where == "before":
        argv = GLOBALS + cmd
    elif where == "after":
        argv = cmd + GLOBALS
    else:  # split: some before the command, some after (train: also between 'train' and KIND)
        argv = GLOBALS[:2] + cmd[:1] + GLOBALS[2:4] + cmd[1:] + GLOBALS[4:]
    args = parser.parse_args(argv)
    assert (args.threads, args.cache_dir, args.verbose, args.device) == (1, "CACHE", True, "cpu"), argv


def test_defaults_when_not_given(parser):
    args = parser.parse_args(["run", "g.json"])
    assert (args.threads, args.cache_dir, args.verbose, args.device) == (None, None, False, "auto")


# -- the options take effect ------------------------------------------------------------------

@pytest.fixture
def engine_registry(monkeypatch):
    reset()
    monkeypatch.setattr(nodeflow.registry, "_default", make_registry())


def _graph(tmp_path: Path) -> str:
    path = tmp_path / "g.json"
    path.write_text(json.dumps({"format": "nodeflow/1", "nodes": {
        "slow": {"type": "Slow"},
        "src": {"type": "Frames", "params": {"count": 6}},
        "out": {"type": "CountSink", "params": {"path": "n.txt"}, "inputs": {"image": {"node": "src", "output": "image"}}},
    }, "outputs": {"x": {"node": "slow", "output": "image"}}}))
    return str(path)


@pytest.mark.parametrize("where", ["before", "after"])
def test_run_validate_nodes_schema_cache_honour_global_options(tmp_path, capsys, engine_registry, where):
    graph = _graph(tmp_path)
    cache = tmp_path / "cache"
    opts = ["--threads", "1", "--cache-dir", str(cache), "--device", "cpu"]
    before = torch.get_num_threads()
    try:
        for cmd in (["run", graph, "--output-dir", str(tmp_path)], ["validate", graph], ["nodes"], ["schema"],
                    ["cache", "info"]):
            torch.set_num_threads(2)
            argv = opts + cmd if where == "before" else cmd + opts
            assert main(argv) == 0, argv
            assert torch.get_num_threads() == 1, argv
    finally:
        torch.set_num_threads(before)
    out = capsys.readouterr().out
    assert f"cache folder: {cache}" in out and "entries: 1" in out  # the run stored Slow in --cache-dir
    assert (tmp_path / "n.txt").read_text() == "6"


@pytest.mark.parametrize("where", ["before", "after"])
def test_verbose_anywhere_shows_the_traceback(tmp_path, capsys, engine_registry, where):
    path = tmp_path / "boom.json"
    path.write_text(json.dumps({"format": "nodeflow/1", "nodes": {"b": {"type": "Boom"}},
                                "outputs": {"x": {"node": "b", "output": "image"}}}))
    argv = ["-v", "run", str(path)] if where == "before" else ["run", str(path), "-v"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "division by zero" in err


@pytest.mark.parametrize("where", ["before", "after"])
def test_device_anywhere_reaches_the_run(tmp_path, capsys, engine_registry, where):
    graph = _graph(tmp_path)
    argv = ["--device", "nonsense", "run", graph] if where == "before" else ["run", graph, "--device", "nonsense"]
    assert main(argv) != 0
    assert "nonsense" in capsys.readouterr().err


def test_edit_gets_the_global_cache_dir(tmp_path, monkeypatch):
    seen: list[list[str]] = []
    fake = types.ModuleType("nodeflow.gui.app")
    fake.main = lambda argv: seen.append(list(argv)) or 0  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "nodeflow.gui.app", fake)
    assert main(["--cache-dir", "C", "--threads", "1", "edit", "g.json"]) == 0
    assert main(["edit", "g.json", "--cache-dir", "D"]) == 0
    assert seen == [["g.json", "--cache-dir", "C"], ["g.json", "--cache-dir", "D"]]


def test_train_with_global_options_first_as_a_user_types_it(tmp_path):
    """The command from the issue: ``nodeflow --cache-dir X --threads 1 train singan ...``."""
    image = torch.rand(1, 3, 24, 32, generator=torch.Generator().manual_seed(0))
    write_image(image, tmp_path / "scene.png")
    cache = tmp_path / "cache"
    exe = Path(sys.executable).with_name("nodeflow")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "nodeflow.cli"]
    proc = subprocess.run([*cmd, "--cache-dir", str(cache), "--threads", "1", "train", "singan", "scene.png",
                                 "--iterations", "2", "--max-size", "32", "--min-size", "12",
                                 "--out", "model", "--device", "cpu"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr
    assert "saved SinGAN model" in proc.stderr
    assert list((cache / "results").glob("*/*/manifest.json")), "the training was cached in --cache-dir"
