"""One description of a node's params, read by the CLI, the JSON Schema and the editor.

A node's ``Params`` is a pydantic model; pydantic keeps what a field is in several places (its
annotation, ``Optional`` unions, ``Literal`` arguments, ``Annotated`` metadata for ranges, the
nodeflow role in ``json_schema_extra``). :func:`param_infos` reads them once into a flat
:class:`ParamInfo` per field, so ``nodeflow nodes TYPE``, ``nodeflow train … --help``,
``nodeflow schema`` and the editor's params panel cannot disagree about a field's kind, range,
choices, default or doc.
"""

from __future__ import annotations

import copy
import enum
import functools
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from nodeflow.params import COLOR, INPUT_PATH, OUTPUT_PATH, field_role

KINDS = ("bool", "int", "float", "str", "choice", "path", "color", "json")
"""``json``: any other value (tuples, lists, nested models), written as JSON."""


@dataclass(frozen=True)
class ParamInfo:
    """What the tools need to know about one param field.

    ``required``: the field has no default (the user must give it). ``optional``: ``None`` is a
    valid value (``X | None``, "unset: the node's automatic value"). ``ge``/``gt``/``le``/``lt``
    are the field's bounds as declared (exclusive ones stay exclusive). ``role`` is the nodeflow
    role (input-path, output-path, color) or None. ``json_schema`` is the field's JSON Schema as
    pydantic writes it (``$ref`` into :func:`param_schema_defs`).
    """

    name: str
    kind: str
    annotation: Any
    default: Any = None
    required: bool = False
    optional: bool = False
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    choices: tuple[Any, ...] = ()
    description: str = ""
    role: str | None = None
    json_schema: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def path_role(self) -> str | None:
        """``"input"`` or ``"output"`` for a path field, else None."""
        return {INPUT_PATH: "input", OUTPUT_PATH: "output"}.get(self.role or "")

    @property
    def numeric(self) -> bool:
        return self.kind in ("int", "float")

    def bounds_text(self) -> str:
        """The bounds as the CLI prints them: ``>= 1 <= 9`` (empty when unbounded)."""
        pairs = ((">=", self.ge), (">", self.gt), ("<=", self.le), ("<", self.lt))
        return " ".join(f"{sym} {v}" for sym, v in pairs if v is not None)

    def inclusive_bounds(self, step: float) -> tuple[float | None, float | None]:
        """(lowest, highest) allowed value for a control that moves by ``step`` (exclusive bounds
        moved one step inwards), None where unbounded."""
        lo = self.ge if self.ge is not None else (self.gt + step if self.gt is not None else None)
        hi = self.le if self.le is not None else (self.lt - step if self.lt is not None else None)
        return lo, hi

    def type_text(self) -> str:
        """The type as the CLI prints it: ``int``, ``'a' | 'b'``, ``int | None``."""
        if typing.get_origin(self.annotation) is typing.Literal:
            return " | ".join(repr(a) for a in typing.get_args(self.annotation))
        return getattr(self.annotation, "__name__", None) or str(self.annotation).replace("typing.", "")


def optional_of(ann: Any) -> Any:
    """``X`` for ``X | None`` / ``Optional[X]``, else None."""
    args = typing.get_args(ann)
    if len(args) == 2 and type(None) in args and typing.get_origin(ann) in (typing.Union, types.UnionType):
        return next(a for a in args if a is not type(None))
    return None


def _kind(ann: Any, role: str | None) -> tuple[str, tuple[Any, ...]]:
    """(kind, choices) of a field's annotation (``X | None`` already unwrapped)."""
    if role == COLOR:
        return "color", ()
    if role in (INPUT_PATH, OUTPUT_PATH):
        return "path", ()
    if ann is bool:
        return "bool", ()
    if typing.get_origin(ann) is typing.Literal:
        return "choice", typing.get_args(ann)
    if isinstance(ann, type) and issubclass(ann, enum.Enum):
        return "choice", tuple(m.value for m in ann)
    if ann in (int, float, str):
        return ann.__name__, ()
    return "json", ()


def describe_field(name: str, info: FieldInfo, role: str | None = None,
                   json_schema: dict[str, Any] | None = None) -> ParamInfo:
    """The :class:`ParamInfo` of one pydantic field (``role`` as :func:`nodeflow.params.field_role`)."""
    inner = optional_of(info.annotation)
    kind, choices = _kind(info.annotation if inner is None else inner, role)
    bounds: dict[str, Any] = {}
    for meta in info.metadata:
        for attr in ("ge", "gt", "le", "lt"):
            value = getattr(meta, attr, None)
            if value is not None:
                bounds[attr] = value
    required = info.is_required()
    return ParamInfo(
        name=name, kind=kind, annotation=info.annotation,
        default=None if required else info.get_default(call_default_factory=True),
        required=required, optional=inner is not None, choices=tuple(choices),
        description=info.description or "", role=role, json_schema=dict(json_schema or {}), **bounds)


@functools.cache
def _model_schema(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema()


@functools.cache
def param_infos(model: type[BaseModel]) -> tuple[ParamInfo, ...]:
    """One :class:`ParamInfo` per field of a node's ``Params`` model, in declaration order."""
    props = _model_schema(model).get("properties", {})
    return tuple(describe_field(name, info, field_role(model, name), props.get(name))
                 for name, info in model.model_fields.items())


def param_schema_defs(model: type[BaseModel]) -> dict[str, Any]:
    """The ``$defs`` the fields' ``json_schema`` refer to (nested models, enums)."""
    return copy.deepcopy(_model_schema(model).get("$defs", {}))


def params_json_schema(model: type[BaseModel], title: str) -> dict[str, Any]:
    """The JSON Schema of a params object, assembled from :func:`param_infos` (no ``$defs``)."""
    infos = param_infos(model)
    schema: dict[str, Any] = {"additionalProperties": False}
    description = _model_schema(model).get("description")
    if description:
        schema["description"] = description
    schema["properties"] = {p.name: copy.deepcopy(p.json_schema) for p in infos}
    required = [p.name for p in infos if p.required]
    if required:
        schema["required"] = required
    schema["title"] = title
    schema["type"] = "object"
    return schema
