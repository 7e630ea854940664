"""A damaged disk cache costs one recomputation, never more, and never runs foreign code.

Damage is done the way it happens (a folder replaced by a file, a manifest deleted, a file
truncated, a hand-edited or hostile manifest); each time the next run recomputes, stores the
entry again, and the run after it is a disk hit.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
import torch
from engine_nodes import CALLS, make_registry, reset

from nodeflow.atomic import make_temp_dir, temp_prefix
from nodeflow.cache import MANIFEST, DiskCache
from nodeflow.events import NodeFinished
from nodeflow.graph import Graph
from nodeflow.handles import HANDLE_CLASSES, ModelHandle, registered_handle
from nodeflow.session import Session


class TinyHandle(ModelHandle):
    """A model handle small enough for a test: one tensor."""

    kind = "Tiny"

    def __init__(self, weight: torch.Tensor):
        self.weight = weight

    def save(self, folder: Path) -> None:
        from safetensors.torch import save_file

        save_file({"w": self.weight.contiguous()}, str(folder / "w.safetensors"))

    @classmethod
    def load(cls, folder: Path, device: torch.device | str = "cpu") -> TinyHandle:
        from safetensors.torch import load_file

        return cls(load_file(str(folder / "w.safetensors"))["w"].to(device))

    def to(self, device: torch.device | str) -> TinyHandle:
        self.weight = self.weight.to(device)
        return self


@pytest.fixture(autouse=True)
def _reset():
    reset()
    yield
    reset()


def run_slow(tmp_path: Path, cache_dir: Path) -> tuple[torch.Tensor, str | None]:
    """Run the disk-cached test node in a fresh session; (result, 'disk' if it came from the cache)."""
    registry = make_registry()
    g = Graph(registry=registry, base_dir=tmp_path, session=Session(registry=registry, cache_dir=cache_dir))
    g.output("x", g.add("Slow", id="slow", seed=5).image)
    events: list[object] = []
    x = g.run(device="cpu", on_event=events.append)["x"]
    cached = next((e.cached for e in events if isinstance(e, NodeFinished) and e.node_id == "slow"), None)
    return x, cached


def only_entry(cache_dir: Path) -> Path:
    (entry,) = [p for p in (cache_dir / "results").glob("*/*") if not p.name.startswith(".")]
    return entry


def _replace_by_file(entry: Path) -> None:
    shutil.rmtree(entry)
    entry.write_text("not a cache entry")


def _delete_manifest(entry: Path) -> None:
    (entry / MANIFEST).unlink()


def _truncate_tensor(entry: Path) -> None:
    f = entry / "image.safetensors"
    f.write_bytes(f.read_bytes()[:20])


def _garble_manifest(entry: Path) -> None:
    (entry / MANIFEST).write_text("{ not json")


@pytest.mark.parametrize("damage", [_replace_by_file, _delete_manifest, _truncate_tensor, _garble_manifest])
def test_damaged_entry_is_recomputed_once_and_stored_again(tmp_path, damage):
    cache_dir = tmp_path / "cache"
    first, cached = run_slow(tmp_path, cache_dir)
    assert cached is None and CALLS["slow"] == 1
    damage(only_entry(cache_dir))
    again, cached = run_slow(tmp_path, cache_dir)
    assert cached is None and CALLS["slow"] == 2 and torch.equal(first, again)
    assert (only_entry(cache_dir) / MANIFEST).is_file()  # repaired
    third, cached = run_slow(tmp_path, cache_dir)
    assert cached == "disk" and CALLS["slow"] == 2 and torch.equal(first, third)
    assert DiskCache(cache_dir).info().entries == 1


def test_handles_round_trip_through_the_registry(tmp_path):
    assert registered_handle(f"{__name__}:TinyHandle") is TinyHandle
    disk = DiskCache(tmp_path)
    assert disk.put("ab" * 16, {"model": TinyHandle(torch.arange(3.0))})
    manifest = json.loads((disk.entry_dir("ab" * 16) / MANIFEST).read_text())
    assert manifest["outputs"]["model"]["class"] == f"{__name__}:TinyHandle"
    assert torch.equal(disk.get("ab" * 16)["model"].weight, torch.arange(3.0))


def _hostile_module(tmp_path: Path, monkeypatch) -> tuple[str, Path]:
    """A module on sys.path that leaves a marker file if it is ever imported."""
    marker = tmp_path / "IMPORTED"
    (tmp_path / "mods").mkdir()
    (tmp_path / "mods" / "nodeflow_hostile.py").write_text(
        f"from pathlib import Path\nPath({str(marker)!r}).write_text('ran')\n"
        "from nodeflow.handles import ModelHandle as Thing\n")
    monkeypatch.syspath_prepend(str(tmp_path / "mods"))
    return "nodeflow_hostile", marker


@pytest.mark.parametrize("named", ["{mod}:Thing", "os:system", "nodeflow.handles:ModelHandle",
                                   "{mod}.sub:Thing"])
def test_a_manifest_naming_an_unregistered_class_is_refused_without_importing(tmp_path, monkeypatch, named):
    mod, marker = _hostile_module(tmp_path, monkeypatch)
    named = named.format(mod=mod)
    disk = DiskCache(tmp_path / "cache")
    key = "cd" * 16
    assert disk.put(key, {"model": TinyHandle(torch.ones(2))})
    entry = disk.entry_dir(key)
    manifest = json.loads((entry / MANIFEST).read_text())
    manifest["outputs"]["model"]["class"] = named
    (entry / MANIFEST).write_text(json.dumps(manifest))
    assert disk.get(key) is None  # refused: a miss, the node runs again
    assert not marker.exists() and mod not in sys.modules
    assert not entry.exists()  # and the bad entry is gone, so the new result can be stored
    assert disk.put(key, {"model": TinyHandle(torch.ones(2))}) and disk.get(key) is not None
    assert named not in HANDLE_CLASSES


@pytest.mark.parametrize("field", ["files", "folder", "file"])
def test_a_manifest_pointing_outside_its_entry_is_refused(tmp_path, field):
    outside = tmp_path / "secret.safetensors"
    outside.write_bytes(b"not yours")
    disk = DiskCache(tmp_path / "cache")
    key = "ef" * 16
    assert disk.put(key, {"model": TinyHandle(torch.ones(2)), "image": torch.ones(1)})
    entry = disk.entry_dir(key)
    manifest = json.loads((entry / MANIFEST).read_text())
    if field == "files":
        manifest["files"]["../../../../secret.safetensors"] = "0" * 64
    elif field == "folder":
        manifest["outputs"]["model"]["folder"] = "../../../.."
    else:
        manifest["outputs"]["image"]["file"] = str(outside)
    (entry / MANIFEST).write_text(json.dumps(manifest))
    assert disk.get(key) is None and not entry.exists()
    assert outside.read_bytes() == b"not yours"


def test_a_killed_store_leaves_no_lasting_temp(tmp_path):
    """A store killed mid-way (its process gone) leaves a hidden temp; the next store removes it."""
    disk = DiskCache(tmp_path)
    key = "12" * 16
    parent = disk.entry_dir(key).parent
    dead = parent / f"{temp_prefix(key)}999999999-abc"  # a pid no process has
    dead.mkdir(parents=True)
    (dead / "image.safetensors").write_bytes(b"half")
    live = make_temp_dir(parent, temp_prefix(key))  # this process: a store still going
    assert disk.put(key, {"image": torch.zeros(1)})
    assert not dead.exists() and live.exists()
    assert disk.get(key) is not None
