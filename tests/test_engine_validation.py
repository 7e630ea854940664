"""Every validation error, reported together, with node id, field and hint."""

from __future__ import annotations

import json
from typing import Annotated, Literal

import pytest
from engine_nodes import make_registry
from pydantic import Field

from nodeflow.errors import GraphValidationError
from nodeflow.graph import GraphSpec
from nodeflow.node import Node, Output
from nodeflow.params import NodeParams
from nodeflow.types import FLOAT
from nodeflow.validate import validate_graph


def problems_of(data, tmp_path, registry=None):
    spec = GraphSpec.from_data(data)
    return validate_graph(spec, registry or make_registry(), base_dir=tmp_path).problems


def graph(nodes, **extra):
    return {"format": "nodeflow/1", "nodes": nodes, **extra}


def test_unknown_type_suggests_close_names(tmp_path):
    (p,) = problems_of(graph({"a": {"type": "Offst"}}), tmp_path)
    assert p.node == "a" and p.field == "type"
    assert "unknown node type 'Offst'" in p.message
    assert "Offset" in p.hint


def test_unknown_and_invalid_and_out_of_range_params(tmp_path):
    probs = problems_of(graph({
        "c": {"type": "Const", "params": {"value": 2.0, "sise": 3}},
        "o": {"type": "Offset", "params": {"offset": "lots", "mode": "mul"},
              "inputs": {"image": {"node": "c", "output": "image"}}},
    }), tmp_path)
    by_field = {(p.node, p.field): p for p in probs}
    assert "out of range 2.0" in by_field[("c", "value")].message
    assert "less than or equal to 1" in by_field[("c", "value")].message
    assert by_field[("c", "sise")].message == "unknown param 'sise'"
    assert "size" in by_field[("c", "sise")].hint
    assert "invalid value 'lots'" in by_field[("o", "offset")].message
    assert "invalid value 'mul'" in by_field[("o", "mode")].message
    assert len(probs) == 4


class Pick(Node):
    """A node whose param is an int or a word, as Harmonize's ``scale: int | "auto"``."""

    category = "test"
    outputs = (Output("value", FLOAT),)

    class Params(NodeParams):
        n: Annotated[int, Field(ge=1, le=8)] | Literal["auto"] = Field("auto", description="which one")
        pair: dict[str, int] = Field(default_factory=dict, description="not a union: keys stay apart")

    def run(self, ctx):
        return {"value": 0.0}


@pytest.mark.parametrize(("value", "needle"), [
    (99, "out of range 99: Input should be less than or equal to 8, or input should be 'auto'"),
    ("abc", "invalid value 'abc': Input should be a valid integer, unable to parse string as an integer, "
            "or input should be 'auto'"),
])
def test_a_union_param_gets_one_problem_naming_each_choice(tmp_path, value, needle):
    registry = make_registry()
    registry.register(Pick)
    probs = problems_of(graph({"p": {"type": "Pick", "params": {"n": value, "pair": {"a": "x", "b": "y"}}}}),
                        tmp_path, registry)
    by_field = {p.field: p for p in probs if p.node == "p"}
    assert by_field["n"].message == needle  # not two problems under n.constrained-int / n.literal['auto']
    assert {"pair.a", "pair.b"} <= set(by_field)  # a dict's bad keys are still reported one by one
    assert len(probs) == 3


def test_missing_required_input_and_dangling_refs(tmp_path):
    probs = problems_of(graph({
        "o": {"type": "Offset"},
        "p": {"type": "Offset", "inputs": {"image": {"node": "nope", "output": "image"}}},
        "c": {"type": "Const"},
        "q": {"type": "Offset", "inputs": {"image": {"node": "c", "output": "img"},
                                           "strength": {"node": "c", "output": "value"}}},
    }, outputs={"r": {"node": "ghost", "output": "image"}}), tmp_path)
    text = [str(p) for p in probs]
    assert any("node o, inputs.image: missing required input 'image' (Image)" in t for t in text)
    assert any("node p, inputs.image: refers to node 'nope', which does not exist" in t for t in text)
    assert any("node q, inputs.image: node c (Const) has no output 'img'" in t and "image, value" in t
               for t in text)
    assert any("node q, inputs.strength: unknown input 'strength'" in t for t in text)
    assert any("outputs.r: refers to node 'ghost'" in t for t in text)
    assert len(probs) == 5


def test_type_mismatch_names_both_types(tmp_path):
    (p,) = problems_of(graph({
        "c": {"type": "Const"},
        "o": {"type": "Offset", "inputs": {"image": {"node": "c", "output": "image"},
                                           "amount": {"node": "c", "output": "image"}}},
    }), tmp_path)
    assert p.node == "o" and p.field == "inputs.amount"
    assert "c.image is Image but input 'amount' takes Float" in p.message
    assert "no conversion from Image to Float" in p.hint


def test_cycle_lists_its_nodes(tmp_path):
    probs = problems_of(graph({
        "a": {"type": "Offset", "inputs": {"image": {"node": "b", "output": "image"}}},
        "b": {"type": "Offset", "inputs": {"image": {"node": "a", "output": "image"}}},
    }), tmp_path)
    cyc = [p for p in probs if p.message.startswith("cycle")]
    assert len(cyc) == 1
    assert set(cyc[0].message.removeprefix("cycle: ").split(" -> ")) == {"a", "b"}


def test_missing_input_file_and_output_over_input(tmp_path):
    (tmp_path / "in.txt").write_text("x")
    probs = problems_of(graph({
        "r": {"type": "ReadText", "params": {"path": "missing.txt"}},
        "r2": {"type": "ReadText", "params": {"path": "in.txt"}},
        "c": {"type": "Const"},
        "s": {"type": "CountSink", "params": {"path": str(tmp_path / "in.txt")},
              "inputs": {"image": {"node": "c", "output": "image"}}},
    }), tmp_path)
    assert len(probs) == 2
    missing, over = probs
    assert missing.node == "r" and missing.field == "path"
    assert f"file not found: {tmp_path / 'missing.txt'}" in missing.message
    assert over.node == "s" and "also an input file" in over.message


def test_all_problems_reported_at_once(tmp_path):
    with pytest.raises(GraphValidationError) as err:
        from nodeflow.plan import build_plan

        build_plan(GraphSpec.from_data(graph({
            "x": {"type": "Nope"},
            "c": {"type": "Const", "params": {"value": -1}},
            "o": {"type": "Offset"},
        })), make_registry(), base_dir=tmp_path)
    assert len(err.value.problems) == 3
    assert str(err.value).startswith("graph has 3 problems:")


@pytest.mark.parametrize(("fmt", "needle"), [
    ("nodeflow/2", "newer than this nodeflow understands"),
    ("other/1", "unknown format"),
    (None, "missing \"format\""),
])
def test_format_version_checked(fmt, needle):
    data = {"nodes": {}} if fmt is None else {"format": fmt, "nodes": {}}
    with pytest.raises(GraphValidationError) as err:
        GraphSpec.from_data(data)
    assert needle in str(err.value)


def test_structural_errors_and_bad_json(tmp_path):
    with pytest.raises(GraphValidationError) as err:
        GraphSpec.from_data(graph({"a": {"type": "Const", "parmas": {}}, "b c": {"type": "Const"}}))
    assert "unknown key 'parmas'" in str(err.value)
    path = tmp_path / "bad.json"
    path.write_text("{\"format\": \"nodeflow/1\", nodes: }")
    with pytest.raises(GraphValidationError) as err:
        GraphSpec.load(path)
    assert "not valid JSON" in str(err.value) and "line 1" in str(err.value)
    path.write_text(json.dumps(graph({"b c": {"type": "Const"}})))
    with pytest.raises(GraphValidationError, match="invalid node id 'b c'"):
        GraphSpec.load(path)
