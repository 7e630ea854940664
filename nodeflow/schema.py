"""JSON Schema of the graph format, with every registered node type's params."""

from __future__ import annotations

from typing import Any

from nodeflow.param_info import param_schema_defs, params_json_schema
from nodeflow.registry import Registry
from nodeflow.spec import FORMAT, GraphSpec


def graph_schema(registry: Registry) -> dict[str, Any]:
    schema = GraphSpec.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = f"nodeflow graph ({FORMAT})"
    schema["properties"]["format"] = {"const": FORMAT, "description": "format name and version"}
    defs = schema.setdefault("$defs", {})
    variants = []
    for name in registry:
        cls = registry.get(name)
        params = params_json_schema(cls.Params, f"{name} params")
        defs.update(param_schema_defs(cls.Params))
        inputs = {i.name: {"$ref": "#/$defs/EdgeRef", "description": f"{i.type.name}: {i.doc}".strip(": ")}
                  for i in cls.inputs}
        variants.append({
            "title": name,
            "description": cls.summary(),
            "type": "object",
            "additionalProperties": False,
            "required": ["type"],
            "properties": {
                "type": {"const": name},
                "params": params,
                "inputs": {"type": "object", "additionalProperties": False, "properties": inputs},
            },
        })
    if variants:
        schema["properties"]["nodes"] = {"type": "object", "additionalProperties": {"oneOf": variants},
                                         "description": "node id -> node"}
    return schema
