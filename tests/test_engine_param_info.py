"""One description of a node's params (``nodeflow.param_info``), read by the CLI, the schema and the editor."""

from __future__ import annotations

import enum
import json
from typing import Literal

import pytest
from pydantic import Field, create_model

from nodeflow.cli import main
from nodeflow.param_info import KINDS, describe_field, param_infos, params_json_schema
from nodeflow.params import INPUT_PATH, OUTPUT_PATH, NodeParams, fields_with_role
from nodeflow.registry import default_registry

REGISTRY = default_registry()


@pytest.mark.parametrize("type_name", sorted(REGISTRY))
def test_every_registered_node_type_has_its_params_described(type_name):
    cls = REGISTRY.get(type_name)
    infos = param_infos(cls.Params)
    assert [p.name for p in infos] == list(cls.Params.model_fields)
    for p in infos:
        where = f"{type_name}.{p.name}"
        assert p.kind in KINDS, where
        assert p.description, f"{where} has no description"
        assert p.required == cls.Params.model_fields[p.name].is_required(), where
        if p.kind == "choice":
            assert p.choices and (p.default is None or p.default in p.choices), where
        if p.numeric and p.default is not None:
            lo_ok = (p.ge is None or p.default >= p.ge) and (p.gt is None or p.default > p.gt)
            hi_ok = (p.le is None or p.default <= p.le) and (p.lt is None or p.default < p.lt)
            assert lo_ok and hi_ok, f"{where}: default {p.default} outside {p.bounds_text()}"
    for role, path_role in ((INPUT_PATH, "input"), (OUTPUT_PATH, "output")):
        assert tuple(p.name for p in infos if p.path_role == path_role) == fields_with_role(cls.Params, role)
    # the schema assembled from the infos is pydantic's own schema of the model (behaviour unchanged)
    expected = cls.Params.model_json_schema()
    expected.pop("$defs", None)
    expected["title"] = "T"
    assert params_json_schema(cls.Params, "T") == expected


def test_ranges_choices_optional_and_roles_of_real_nodes():
    def info(type_name, name):
        return next(p for p in param_infos(REGISTRY.get(type_name).Params) if p.name == name)

    min_size = info("TrainSinGAN", "min_size")
    assert (min_size.kind, min_size.default, min_size.ge, min_size.le, min_size.optional) == ("int", 25, 11, 512, False)
    iterations = info("TrainSinGAN", "iterations")
    assert (iterations.kind, iterations.optional, iterations.default, iterations.ge, iterations.le) == \
        ("int", True, None, 1, 100000)
    lr = info("TrainPix2Pix", "lr")
    assert (lr.kind, lr.gt, lr.le, lr.ge) == ("float", 0, 1, None) and lr.bounds_text() == "> 0 <= 1"
    assert lr.inclusive_bounds(1e-4) == (1e-4, 1)
    beta1 = info("TrainPix2Pix", "beta1")
    assert (beta1.ge, beta1.lt) == (0, 1) and beta1.inclusive_bounds(0.01) == (0, 0.99)
    method = info("Blur", "method")
    assert (method.kind, method.choices, method.default) == ("choice", ("gaussian", "box", "median"), "gaussian")
    assert method.type_text() == "'gaussian' | 'box' | 'median'"
    rect = info("CutOut", "rect")
    assert (rect.kind, rect.optional, rect.default) == ("json", True, None)
    key = info("CutOut", "key_color")
    assert (key.kind, key.role, key.default) == ("color", "color", (0.0, 1.0, 0.0))
    mask_path = info("CutOut", "mask_path")
    assert (mask_path.kind, mask_path.path_role, mask_path.required) == ("path", "input", False)
    save = info("SaveImage", "path")
    assert (save.kind, save.path_role, save.required) == ("path", "output", True)
    labels = info("ContactSheet", "labels")  # a default_factory is a default, not "required"
    assert (labels.required, labels.default) == (False, [])


def test_enum_and_optional_choice_fields():
    class Mode(enum.Enum):
        FAST = "fast"
        SLOW = "slow"

    model = create_model("M", __base__=NodeParams, mode=(Mode, Mode.FAST),
                         pick=(Literal["a", "b"] | None, Field(None, description="maybe")))
    mode = describe_field("mode", model.model_fields["mode"])
    assert (mode.kind, mode.choices) == ("choice", ("fast", "slow"))
    pick = describe_field("pick", model.model_fields["pick"])
    assert (pick.kind, pick.choices, pick.optional, pick.description) == ("choice", ("a", "b"), True, "maybe")


@pytest.mark.gui
@pytest.mark.parametrize(("type_name", "command", "field", "cli_text", "schema_keys", "editor_range"), [
    ("TrainSinGAN", "singan", "min_size", ">= 11 <= 512", {"minimum": 11, "maximum": 512}, (11, 512, "11 … 512")),
    ("TrainPix2Pix", "pix2pix", "lr", "> 0 <= 1", {"exclusiveMinimum": 0, "maximum": 1}, (1e-4, 1, "0.0001 … 1")),
])
def test_cli_help_schema_and_editor_agree_on_a_fields_range(qtbot, tmp_path, capsys, type_name, command, field,
                                                            cli_text, schema_keys, editor_range):
    from nodeflow.gui.app import build_window  # installs the Qt shim NodeGraphQt needs: import it first
    from nodeflow.gui.field_editors import NumberEditor
    from nodeflow.spec import GraphSpec

    assert main(["nodes", type_name]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.strip().startswith(f"{field}:"))
    assert cli_text in line
    with pytest.raises(SystemExit):
        main(["train", command, "--help"])
    help_text = " ".join(capsys.readouterr().out.split())  # argparse wraps long help lines
    assert f"--{field.replace('_', '-')}" in help_text and cli_text in help_text

    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    variant = next(v for v in schema["properties"]["nodes"]["additionalProperties"]["oneOf"]
                   if v["title"] == type_name)
    prop = variant["properties"]["params"]["properties"][field]
    assert {k: prop.get(k) for k in schema_keys} == schema_keys

    path = tmp_path / "g.json"
    GraphSpec.from_data({"format": "nodeflow/1", "nodes": {"n": {"type": type_name}}}).save(path)
    window = build_window(path)
    qtbot.addWidget(window)
    window.show()
    node = window.graph.node_by_id("n")
    node.set_selected(True)
    qtbot.waitUntil(lambda: window.params.node is node)
    editor = window.params.editors[field]
    assert isinstance(editor, NumberEditor)
    lo, hi, label = editor_range
    assert editor.spin.minimum() == pytest.approx(lo) and editor.spin.maximum() == pytest.approx(hi)
    assert editor.range_label.text() == label
