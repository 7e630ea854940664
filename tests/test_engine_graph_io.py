"""Graph file round trips, the building API, plugins, schema, safe checkpoints, atomic writes."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import torch
from engine_nodes import Const, make_registry

import nodeflow.atomic
from nodeflow.checkpoint import UnsafeCheckpointError, load_checkpoint
from nodeflow.devices import DeviceError, resolve_device
from nodeflow.graph import Graph
from nodeflow.registry import Registry
from nodeflow.schema import graph_schema


def build(tmp_path) -> Graph:
    g = Graph(registry=make_registry(), base_dir=tmp_path)
    c = g.add("Const", id="plate", value=0.25)
    o = g.add("Offset", image=c.image, offset=0.5, mode="sub")
    g.output("result", o.image)
    g.spec.ui["plate"] = {"pos": [10, 20], "color": "#336699"}
    return g


def test_save_load_round_trip_is_byte_identical(tmp_path):
    g = build(tmp_path)
    path = tmp_path / "g.json"
    g.save(path)
    text = path.read_text()
    g2 = Graph.load(path, registry=make_registry())
    g2.save(tmp_path / "g2.json")
    assert (tmp_path / "g2.json").read_text() == text
    data = json.loads(text)
    assert list(data) == ["format", "nodes", "outputs", "ui"]
    assert data["format"] == "nodeflow/1"
    assert data["nodes"]["offset"] == {"type": "Offset", "params": {"mode": "sub", "offset": 0.5},
                                       "inputs": {"image": {"node": "plate", "output": "image"}}}
    assert '"image": {"node": "plate", "output": "image"}' in text  # edges stay on one line


def test_loaded_graph_runs_relative_to_its_folder(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "note.txt").write_text("hello")
    g = Graph(registry=make_registry(), base_dir=tmp_path / "sub")
    g.output("t", g.add("ReadText", path="note.txt").text)
    g.save(tmp_path / "sub" / "g.json")
    loaded = Graph.load(tmp_path / "sub" / "g.json", registry=make_registry())
    assert loaded.run(device="cpu")["t"] == "hello"


def test_building_api_errors_are_clear(tmp_path):
    g = build(tmp_path)
    with pytest.raises(KeyError, match="did you mean Offset"):
        g.add("Ofset")
    with pytest.raises(AttributeError, match=r"has no output 'img'; outputs: image, value"):
        _ = g.node("plate").img
    with pytest.raises(ValueError, match="has no input 'picture'"):
        g.add("Offset", picture=g.node("plate").image)
    with pytest.raises(ValueError, match="takes a node output"):
        g.add("Offset", image=3)
    with pytest.raises(ValueError, match="several outputs"):
        g.add("Offset", image=g.node("plate"))
    assert list(g.spec.nodes) == ["plate", "offset"]  # failed adds leave nothing behind


def test_plugins_load_and_broken_ones_are_skipped():
    class Good:
        name = "good"

        def load(self):
            return [Const]

    class Broken:
        name = "broken"

        def load(self):
            raise ImportError("No module named 'missing_dependency'")

    registry = Registry()
    registry.load_entry_points([Broken(), Good()])
    assert "Const" in registry
    assert [(f.name, f.error) for f in registry.failures] == [
        ("broken", "ImportError: No module named 'missing_dependency'")]


def test_plugin_registering_via_callable_and_duplicates():
    registry = Registry()
    registry.load_entry_points([SimpleNamespace(name="fn", load=lambda: lambda reg: reg.register(Const))])
    assert list(registry) == ["Const"]

    class Const2(Const):
        type_name = "Const"

    with pytest.raises(ValueError, match="registered twice"):
        registry.register(Const2)


def test_builtin_node_library_registers_through_entry_point():
    from nodeflow.registry import default_registry

    registry = default_registry()
    assert {"LoadImage", "CutOut", "AlphaOver", "ColorMatch", "SaveVideo"} <= set(registry)
    assert registry.get("LoadImage").__module__.startswith("nodeflow.nodes.io")


def test_schema_lists_node_params():
    schema = graph_schema(make_registry())
    variants = schema["properties"]["nodes"]["additionalProperties"]["oneOf"]
    const = next(v for v in variants if v["title"] == "Const")
    assert const["properties"]["params"]["properties"]["value"]["maximum"] == 1
    assert schema["properties"]["format"] == {"const": "nodeflow/1", "description": "format name and version"}


def test_pickle_payload_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "evil.pth"
    torch.save({"state": Evil()}, path)
    with pytest.raises(UnsafeCheckpointError, match="not a weights-only checkpoint"):
        load_checkpoint(path)
    ok = tmp_path / "ok.pth"
    torch.save({"w": torch.ones(2)}, ok)
    assert torch.equal(load_checkpoint(ok)["w"], torch.ones(2))


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), nodeflow.atomic.atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("disk full")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_device_resolution():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type in ("cpu", "cuda", "mps")
    with pytest.raises(DeviceError, match="not one of auto, cpu"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(DeviceError, match="CUDA is not available"):
            resolve_device("cuda:0")
