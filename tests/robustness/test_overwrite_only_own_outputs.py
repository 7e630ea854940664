"""``overwrite`` replaces only files nodeflow wrote (nodeflow.written): a user's file at an output
path survives, byte for byte, whatever the graph says; nodeflow's own earlier outputs are replaced."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from nodeflow import written
from nodeflow.atomic import PendingFile, PendingFolder
from nodeflow.errors import GraphValidationError, NodeExecutionError
from nodeflow.graph import Graph
from nodeflow.nodes import io
from nodeflow.registry import Registry


def registry() -> Registry:
    r = Registry()
    for c in io.NODES:
        r.register(c)
    return r


def ours(path: Path, data: bytes = b"out") -> Path:
    pending = PendingFile(path, record=True)
    pending.tmp.write_bytes(data)
    return pending.commit()


def test_a_file_matches_only_while_it_is_the_file_written(tmp_path):
    out = ours(tmp_path / "a.png")
    assert written.written_by_nodeflow(out)
    assert not written.written_by_nodeflow(tmp_path / "missing.png")
    (tmp_path / "user.png").write_bytes(b"mine")
    assert not written.written_by_nodeflow(tmp_path / "user.png")

    os.utime(out, ns=(1, 1))  # touched (or edited and saved) by something else: the user's now
    assert not written.written_by_nodeflow(out)
    out = ours(tmp_path / "a.png")
    replacement = tmp_path / "b.tmp"
    replacement.write_bytes(b"out")
    os.replace(replacement, out)  # same bytes, another file
    assert not written.written_by_nodeflow(out)

    out = ours(tmp_path / "c.png")
    (tmp_path / "target.png").write_bytes(b"user")
    out.unlink()
    out.symlink_to(tmp_path / "target.png")  # a link put where an output was: never followed
    assert not written.written_by_nodeflow(out)


def test_the_record_lives_outside_the_output_folder_and_survives_a_kill_before_the_rename(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    (folder / "f1.png").write_bytes(b"user frame")
    pending = PendingFolder(folder, record=True)
    for name in ("f0.png", "f1.png"):
        pending.path(name).write_bytes(b"new")
    # noted, and then killed before the rename: the user's f1.png is still not nodeflow's
    written.note_written([(pending.tmp / n, folder / n) for n in pending.names])
    pending.discard()
    assert not written.written_by_nodeflow(folder / "f1.png")
    assert sorted(p.name for p in folder.iterdir()) == ["f1.png"]  # no record file among the outputs
    assert written.record_path(folder.resolve()).is_file()
    assert str(written.state_dir()) in str(written.record_path(folder))


def test_a_garbled_record_vouches_only_for_its_good_lines(tmp_path):
    good = ours(tmp_path / "good.png")
    (tmp_path / "other.png").write_bytes(b"user")
    st = os.lstat(tmp_path / "other.png")
    record = written.record_path(tmp_path.resolve())
    with open(record, "ab") as f:
        f.write(b"not json\n{\"name\": \"other.png\"}\n")  # garbage, and a line without an identity
        f.write(json.dumps({"name": "other.png", "dev": st.st_dev, "ino": st.st_ino, "size": st.st_size}).encode())
    written._records.clear()
    assert written.written_by_nodeflow(good)
    assert not written.written_by_nodeflow(tmp_path / "other.png")  # unfinished last line: not read


def test_the_record_is_compacted_to_its_live_files(tmp_path, monkeypatch):
    monkeypatch.setattr(written, "COMPACT_SLACK", 4)
    for i in range(40):
        ours(tmp_path / "still.png", f"take {i}".encode())
    lines = written.record_path(tmp_path.resolve()).read_bytes().splitlines()
    assert len(lines) <= written.COMPACT_FACTOR * 1 + written.COMPACT_SLACK + 1
    assert written.written_by_nodeflow(tmp_path / "still.png")


def test_every_sink_keeps_a_users_file_and_replaces_its_own(tmp_path):
    Image.fromarray(np.full((8, 8, 3), 90, np.uint8)).save(tmp_path / "in.png")
    targets = {"SaveImage": "still.png", "SaveGIF": "clip.gif", "SaveVideo": "clip.mp4",
               "ContactSheet": "sheet.png", "SaveImageSequence": "seq/f_%d.png"}
    for sink, path in targets.items():
        user = tmp_path / path.replace("%d", "0")
        user.parent.mkdir(parents=True, exist_ok=True)
        user.write_bytes(b"the user's own " + sink.encode())
        g = Graph(registry=registry(), base_dir=tmp_path)
        src = g.add("LoadImage", path="in.png")
        image = {"image_1" if sink == "ContactSheet" else "image": src.image}
        g.add(sink, id="save", path=path, overwrite=True, **image)
        try:  # a sequence's frame paths are the sink's to check (validation sees only the pattern)
            g.run(device="cpu", output_dir=tmp_path)
            raise AssertionError(f"{sink} wrote over a file nodeflow did not write")
        except (GraphValidationError, NodeExecutionError) as exc:
            assert "nodeflow did not write it" in str(exc), (sink, exc)
            assert isinstance(exc, NodeExecutionError if "%" in path else GraphValidationError), (sink, exc)
        assert user.read_bytes() == b"the user's own " + sink.encode()
        user.unlink()
        g.run(device="cpu", output_dir=tmp_path)
        first = user.stat().st_ino
        g.run(device="cpu", output_dir=tmp_path)
        assert user.stat().st_ino != first, sink  # its own output: replaced


def test_cli_refuses_a_users_file_at_an_output_path(tmp_path):
    """As a user would meet it: `nodeflow run g.json --set save.path=mine.png` in a real process."""
    Image.fromarray(np.full((8, 8, 3), 90, np.uint8)).save(tmp_path / "in.png")
    g = Graph(registry=registry(), base_dir=tmp_path)
    src = g.add("LoadImage", path="in.png")
    g.add("SaveImage", id="save", image=src.image, path="out.png", overwrite=True)
    g.save(tmp_path / "g.json")
    (tmp_path / "mine.png").write_bytes(b"precious")
    cmd = [sys.executable, "-m", "nodeflow.cli", "run", str(tmp_path / "g.json"), "--output-dir", str(tmp_path)]
    done = subprocess.run([*cmd, "--set", "save.path=mine.png"], capture_output=True, text=True, timeout=120)
    err = " ".join(done.stderr.split())
    assert done.returncode == 2, done.stderr  # found at validation, with every other such path
    assert "node save, path:" in err and "mine.png already exists and nodeflow did not write it" in err
    assert "Traceback" not in err and (tmp_path / "mine.png").read_bytes() == b"precious"
    for _ in range(2):  # its own output, twice: the second run replaces the first
        assert subprocess.run(cmd, capture_output=True, timeout=120).returncode == 0
    assert Image.open(tmp_path / "out.png").size == (8, 8)


def test_preview_keeps_a_users_file_named_like_a_preview(tmp_path, capsys):
    from nodeflow.cli import main

    Image.fromarray(np.full((8, 8, 3), 90, np.uint8)).save(tmp_path / "in.png")
    g = Graph(registry=registry(), base_dir=tmp_path)
    src = g.add("LoadImage", id="load", path="in.png")
    g.add("SaveImage", id="save", image=src.image, path="out.png", overwrite=True)
    g.save(tmp_path / "g.json")
    shots = tmp_path / "shots"
    shots.mkdir()
    (shots / "load.image.png").write_bytes(b"user's")
    args = ["run", str(tmp_path / "g.json"), "--output-dir", str(tmp_path), "--preview", str(shots)]
    assert main(args) == 2
    err = "".join(capsys.readouterr().err.split())  # the console wraps long paths anywhere
    assert "filesnodeflowdidnotwrite" in err and "load.image.png:itexistsandnodeflowdidnotwriteit" in err
    assert (shots / "load.image.png").read_bytes() == b"user's"
    (shots / "load.image.png").unlink()
    assert main(args) == 0 and main(args) == 0  # its own previews: written, then replaced
    assert Image.open(shots / "load.image.png").size == (8, 8)


def test_a_training_preview_keeps_a_users_file_and_the_training_goes_on(tmp_path, caplog):
    import torch

    from nodeflow.context import RunContext
    from nodeflow.nodes.gan.training import write_preview

    ctx = RunContext("train", "TrainPix2Pix", torch.device("cpu"), 0, output_dir=tmp_path)
    user = tmp_path / "previews" / "step_0000005.png"
    user.parent.mkdir()
    user.write_bytes(b"the user's")
    with caplog.at_level("WARNING"):
        write_preview(torch.full((1, 3, 4, 4), 0.5), user, ctx, "pix2pix")
    assert user.read_bytes() == b"the user's" and "nodeflow did not write" in caplog.text
    own = tmp_path / "previews" / "step_0000010.png"
    for value in (0.2, 0.8):  # its own preview: written, then replaced
        write_preview(torch.full((1, 3, 4, 4), value), own, ctx, "pix2pix")
    assert np.asarray(Image.open(own)).min() > 190


def test_one_record_per_folder_however_the_folder_is_reached(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    ours(tmp_path / "link" / "a.png")
    assert written.written_by_nodeflow(tmp_path / "real" / "a.png")
    assert written.written_by_nodeflow(tmp_path / "real" / ".." / "link" / "a.png")


def test_a_node_that_writes_its_output_path_itself_may_rerun_and_still_never_takes_a_users_file(tmp_path):
    """A third-party sink that writes without nodeflow.atomic: the session notes its file after a
    successful run (validation had refused any foreign file there), so the next run may replace it."""
    import pytest
    from engine_nodes import make_registry, reset

    reset()
    (tmp_path / "count.txt").write_text("the user's notes")
    g = Graph(registry=make_registry(), base_dir=tmp_path)
    g.add("CountSink", id="count", image=g.add("Const", id="c").image)
    with pytest.raises(GraphValidationError, match=r"count\.txt already exists and nodeflow did not write it"):
        g.run(device="cpu", output_dir=tmp_path)
    assert (tmp_path / "count.txt").read_text() == "the user's notes"
    (tmp_path / "count.txt").unlink()
    g.run(device="cpu", output_dir=tmp_path)
    assert written.written_by_nodeflow(tmp_path / "count.txt")
    g.run(device="cpu", output_dir=tmp_path)  # its own file: replaced
    assert (tmp_path / "count.txt").read_text() == "1"


def test_an_unwritable_state_folder_does_not_stop_the_output(tmp_path, monkeypatch, caplog):
    blocker = tmp_path / "state"
    blocker.write_text("a file where the state folder should be")
    monkeypatch.setenv("NODEFLOW_STATE_DIR", str(blocker))
    with caplog.at_level("WARNING"):
        out = ours(tmp_path / "still.png")
    assert out.read_bytes() == b"out" and "could not note still.png" in caplog.text
    assert not written.written_by_nodeflow(out)  # unrecorded: the safe side (not overwritten later)
