"""CLI arguments and environments that used to end in a traceback or a 30 s wait."""

from __future__ import annotations

import errno
import json
import os
import socket
import subprocess
import time

import pytest

from robustness.probe import assert_clean, cli

CLIP = {
    "still": {"type": "SampleImage", "params": {"name": "camera", "max_size": 32}},
    "move": {"type": "CameraMove", "params": {"frames": 3, "width": 16, "height": 16},
             "inputs": {"image": {"node": "still", "output": "image"}}},
    "gif": {"type": "SaveGIF", "params": {"path": "clip.gif"}, "inputs": {"image": {"node": "move", "output": "image"}}},
}
STILL = {
    "still": {"type": "SampleImage", "params": {"name": "camera", "max_size": 32}},
    "save": {"type": "SaveImage", "params": {"path": "still.png"}, "inputs": {"image": {"node": "still", "output": "image"}}},
}


@pytest.fixture
def clip(tmp_path):
    path = tmp_path / "clip.json"
    path.write_text(json.dumps({"format": "nodeflow/1", "nodes": CLIP}))
    return str(path)


@pytest.fixture
def still(tmp_path):
    path = tmp_path / "still.json"
    path.write_text(json.dumps({"format": "nodeflow/1", "nodes": STILL}))
    return str(path)


def failed(argv, code, *needles):
    outcome = cli(argv)
    assert_clean(outcome)
    text = " ".join(outcome.output.split())
    assert outcome.code == code, text
    for needle in needles:
        assert needle in text, text
    return text


@pytest.mark.parametrize(("value", "needle"), [
    ("[" * 100_000, "nested more than 64 levels"),
    ("9" * 5000, "integer of 5000 digits"),
    ("NaN", "NaN is not a number"),
    ("Infinity", "Infinity is not a number"),
])
def test_set_values_are_as_strict_as_graph_files(clip, value, needle):
    for command in ("validate", "run"):
        text = failed([command, clip, "--set", f"move.frames={value}"], 2, "--set move.frames", needle)
        assert len(text) < 600


def test_set_value_that_is_no_json_stays_a_string(clip, tmp_path):
    failed(["validate", clip, "--set", "gif.path=out dir/clip.gif"], 0)


@pytest.mark.parametrize("option", ["--preview", "--output-dir", "--cache-dir"])
def test_folder_options_that_name_a_file(clip, tmp_path, option):
    a_file = tmp_path / "a_file"
    a_file.write_text("keep me")
    argv = [option, str(a_file), "run", clip] if option == "--cache-dir" else ["run", clip, option, str(a_file)]
    failed(argv, 2, f"{option} {a_file} is a file, not a folder")
    failed(["run", clip, "--output-dir", str(a_file / "sub")] if option == "--output-dir" else argv, 2, "is a file")
    assert a_file.read_text() == "keep me"


@pytest.mark.parametrize(("argv", "needle"), [
    (["--executor", "dask", "--workers", "0"], "--workers 0: the Dask cluster needs at least 1"),
    (["--executor", "dask", "--max-in-flight", "0"], "--max-in-flight 0: at least 1 task must be in flight"),
    (["--batch-size", "0"], "--batch-size 0: must be at least 1"),
    (["--threads", "0"], "--threads 0: must be between 1 and"),
    (["--threads", "100000"], "--threads 100000: must be between 1 and"),  # crashed in OpenBLAS
])
def test_numbers_that_cannot_work(clip, argv, needle):
    failed(["run", clip, *argv], 2, needle)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_scheduler_is_said_quickly(clip, tmp_path):
    start = time.perf_counter()
    text = failed(["run", clip, "--executor", "dask", "--scheduler", f"tcp://127.0.0.1:{_free_port()}",
            "--output-dir", str(tmp_path / "o")], 1, "cannot reach the Dask scheduler", "is it running?")
    assert time.perf_counter() - start < 25  # was 30 s of retries, then a raw OSError
    assert not (tmp_path / "o" / "clip.gif").exists()
    assert "run still" not in text, "static nodes (maybe a long training) ran before the check"


def test_scheduler_that_accepts_but_never_answers_times_out(clip, tmp_path, monkeypatch):
    """A port that accepts connections but speaks no Dask: bounded by NODEFLOW_SCHEDULER_TIMEOUT."""
    import nodeflow.execute_dask

    monkeypatch.setattr(nodeflow.execute_dask, "SCHEDULER_TIMEOUT_S", 2.0)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        start = time.perf_counter()
        failed(["run", clip, "--executor", "dask", "--scheduler", f"tcp://127.0.0.1:{port}",
                "--output-dir", str(tmp_path / "o")], 1, "cannot reach the Dask scheduler")
        assert time.perf_counter() - start < 25


def test_gif_fps_that_would_overflow_is_out_of_range(clip, tmp_path):
    failed(["run", clip, "--set", "gif.fps=1e-9", "--output-dir", str(tmp_path)], 2, "node gif, fps: out of range")
    failed(["run", clip, "--set", "gif.fps=0.01", "--output-dir", str(tmp_path)], 0)  # 100 s per frame still fits


@pytest.mark.parametrize(("code", "needle"), [
    (errno.ENOSPC, "the disk is full"),
    (errno.EACCES, "permission denied"),
    (errno.EROFS, "the file system is read-only"),
    (errno.EDQUOT, "disk quota exceeded"),
])
def test_environment_errors_while_writing_are_explained(still, tmp_path, monkeypatch, code, needle):
    from PIL import Image

    def broken_save(self, fp, *args, **kwargs):
        raise OSError(code, "simulated", str(fp))

    monkeypatch.setattr(Image.Image, "save", broken_save)
    out = tmp_path / "o"
    text = failed(["run", still, "--output-dir", str(out)], 1, "node save (SaveImage)", needle, "hint:")
    assert ".tmp" not in text, "names the hidden temp file instead of the folder"
    assert not (out / "still.png").exists()
    assert [p.name for p in out.iterdir()] == [] if out.exists() else True


@pytest.fixture
def tmpfs(tmp_path):
    """A real tiny file system: mounted 64 KiB (full after one image) and read-only; root only."""
    made = []

    def mount(name: str, options: str):
        folder = tmp_path / name
        folder.mkdir()
        proc = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True)
        if proc.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.decode().strip()}")
        made.append(folder)
        return folder

    yield mount
    for folder in made:
        subprocess.run(["umount", str(folder)], check=False)


def test_real_full_disk_and_read_only_folder(tmpfs, tmp_path):
    big = tmp_path / "big.json"
    big.write_text(json.dumps({"format": "nodeflow/1", "nodes": {
        "src": {"type": "SampleImage", "params": {"name": "astronaut"}},
        "save": {"type": "SaveImage", "params": {"path": "big.png"}, "inputs": {"image": {"node": "src", "output": "image"}}},
    }}))
    full = tmpfs("full", "size=64k")
    failed(["run", str(big), "--output-dir", str(full)], 1, "node save (SaveImage)", "the disk is full")
    assert list(full.iterdir()) == [], "a partial file or temp file was left behind"
    read_only = tmpfs("ro", "ro")
    failed(["run", str(big), "--output-dir", str(read_only)], 1, "the file system is read-only")
    failed(["run", str(big), "--output-dir", str(read_only / "sub")], 1, "the file system is read-only")


CLI_CASES = int(os.environ.get("NODEFLOW_FUZZ_CLI_CASES", 600))


def test_fuzzed_cli_arguments_never_traceback(tmp_path_factory, capsys):
    """Random options and values on small graphs, in process: exit 0/1/2, no traceback."""
    from hypothesis import HealthCheck, given, seed, settings
    from hypothesis import strategies as st

    ws = tmp_path_factory.mktemp("cli-fuzz")
    graphs = {}
    for name, nodes in (("clip", CLIP), ("still", STILL)):
        graphs[name] = ws / f"{name}.json"
        graphs[name].write_text(json.dumps({"format": "nodeflow/1", "nodes": nodes}))
    (ws / "a_file").write_text("x")
    text = st.one_of(st.text(max_size=12), st.sampled_from(["", "[" * 5000, "9" * 5000, "NaN", "-1", "0", "1e999",
                                                            "\x00", "a_file", "a_file/sub"]))
    number = st.one_of(st.integers(-3, 70).map(str), text)
    option = st.one_of(
        st.tuples(st.just("--set"), st.one_of(
            st.builds(lambda n, p, v: f"{n}.{p}={v}", st.sampled_from(["move", "gif", "save", "still", "x"]),
                      st.sampled_from(["frames", "width", "fps", "path", "name", "max_size", "overwrite", "zz"]),
                      text), text)),
        st.tuples(st.just("--frames"), st.one_of(st.sampled_from(["0:2", "1", "2:", ":", "0:0", "5:1", "0:2:0",
                                                                  "0:99", "-1:2"]), text)),
        st.tuples(st.sampled_from(["--batch-size", "--workers", "--max-in-flight"]), number),
        st.tuples(st.just("--device"), st.sampled_from(["cpu", "auto", "cuda", "cuda:3", "mps", "tpu", "", "cuda:x"])),
        st.tuples(st.just("--output"), text),
        st.tuples(st.sampled_from(["--output-dir", "--preview"]),
                  st.sampled_from(["out", "a_file", "a_file/sub", "o\x00x", "deep/" * 30, "é"])),
        st.tuples(st.just("--executor"), st.sampled_from(["local", "dask", "gpu"])),
        st.tuples(st.just("--no-cache"),),
    )
    counts = {"cases": 0}

    @seed(0)
    @settings(max_examples=CLI_CASES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(st.sampled_from(["run", "validate"]), st.sampled_from(sorted(graphs)), st.lists(option, max_size=4),
           st.sampled_from([[], ["--threads", "1"], ["--threads", "0"], ["--cache-dir", "a_file"]]))
    def case(command, graph, options, global_options):
        counts["cases"] += 1
        run_dir = ws / f"r{counts['cases']}"
        run_dir.mkdir()
        argv = [*[o if o != "a_file" else str(ws / "a_file") for o in global_options], command, str(graphs[graph])]
        for opt in options:
            argv += [opt[0], *(str(run_dir / v) if opt[0] in ("--output-dir", "--preview") else v for v in opt[1:])]
        if command == "run" and "--output-dir" not in argv:
            argv += ["--output-dir", str(run_dir / "out")]
        if "--executor" in argv and argv[argv.index("--executor") + 1] == "dask":
            argv += ["--scheduler", "tcp://127.0.0.1:9"]  # never start a real cluster here: refused at once
        outcome = cli(argv)
        assert_clean(outcome, f"case {counts['cases']}")
        counts[f"exit {outcome.code}"] = counts.get(f"exit {outcome.code}", 0) + 1

    case()
    with capsys.disabled():
        print(f"\nCLI argument fuzzer (seed 0): {', '.join(f'{k} {v}' for k, v in sorted(counts.items()))}")
    assert counts["cases"] >= CLI_CASES * 0.9
