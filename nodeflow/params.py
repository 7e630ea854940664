"""Building blocks for node parameter models (pydantic).

A node's ``Params`` is a pydantic model; the CLI (``--set``, ``nodeflow nodes``), the JSON
Schema and the editor all read it. The annotated types below add the little the engine must
know about a field beyond its type: that a string names a file to read (fingerprinted for the
cache, checked to exist, resolved against the graph's folder) or to write (resolved against the
output folder, never allowed to equal an input file), or that a tuple is a colour.
"""

from __future__ import annotations

import functools
import os
import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

ROLE_KEY = "x-nodeflow"
INPUT_PATH = "input-path"
OUTPUT_PATH = "output-path"
COLOR = "color"


class NodeParams(BaseModel):
    """Base of every node's params: unknown names are errors, values are validated on set."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, allow_inf_nan=False)


class NoParams(NodeParams):
    """For nodes without parameters."""


MAX_NAME_BYTES = 255
"""The longest file or folder name Linux, macOS and Windows file systems accept."""


def check_path(value: str) -> str:
    """Refuse a path no file system can hold, before anything tries to open it: a NUL byte,
    a name over 255 bytes, ``~user`` for a user that does not exist."""
    if "\0" in value:
        raise ValueError("a path cannot contain a NUL byte (\\0)")
    for part in re.split(r"[/\\]", value):
        if len(part.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES:
            raise ValueError(f"the name {part[:24]}... is {len(part.encode('utf-8', 'surrogateescape'))} "
                             f"bytes; file systems allow at most {MAX_NAME_BYTES}")
    if value.startswith("~") and os.path.expanduser(value) == value:
        user = value[1:].split("/", 1)[0]
        raise ValueError(f"no user {user!r} for {value.split('/', 1)[0]!r}" if user
                         else "'~' has no home folder here (HOME is not set)")
    return value


InputPath = Annotated[str, Field(min_length=1, json_schema_extra={ROLE_KEY: INPUT_PATH}),
                      AfterValidator(check_path)]
"""A file or folder the node reads. Relative paths are relative to the graph file's folder."""

InputPathOrEmpty = Annotated[str, Field(json_schema_extra={ROLE_KEY: INPUT_PATH}), AfterValidator(check_path)]
"""Like :data:`InputPath` but may be left empty when the node does not need it."""

OutputPath = Annotated[str, Field(min_length=1, json_schema_extra={ROLE_KEY: OUTPUT_PATH}),
                       AfterValidator(check_path)]
"""A file or folder the node writes. Relative paths are relative to the run's output folder."""


OutputPathOrEmpty = Annotated[str, Field(json_schema_extra={ROLE_KEY: OUTPUT_PATH}), AfterValidator(check_path)]
"""Like :data:`OutputPath` but may be left empty (the node then writes nothing there)."""


class NotInCacheKey:
    """Marks a param that cannot change a node's result (how often to checkpoint, where to put
    previews): changing it does not invalidate cached results. Use as
    ``Annotated[int, NOT_IN_CACHE_KEY]``."""

    def __repr__(self) -> str:
        return "NOT_IN_CACHE_KEY"


NOT_IN_CACHE_KEY = NotInCacheKey()


@functools.cache
def fields_not_in_cache_key(model: type[BaseModel]) -> frozenset[str]:
    return frozenset(name for name, info in model.model_fields.items()
                     if any(isinstance(m, NotInCacheKey) for m in info.metadata))


_HEX = re.compile(r"^#?([0-9a-fA-F]{6}|[0-9a-fA-F]{8})$")


def parse_color(value: Any) -> Any:
    """Accept ``"#rrggbb[aa]"``, a list of 3/4 floats in [0, 1], and return a tuple."""
    if isinstance(value, str):
        m = _HEX.match(value.strip())
        if not m:
            raise ValueError(f"colour {value!r} is not '#rrggbb' or '#rrggbbaa'")
        h = m.group(1)
        return tuple(int(h[i:i + 2], 16) / 255.0 for i in range(0, len(h), 2))
    if isinstance(value, list | tuple):
        if len(value) not in (3, 4):
            raise ValueError(f"colour needs 3 (RGB) or 4 (RGBA) components, got {len(value)}")
        out = tuple(float(v) for v in value)
        if any(not 0.0 <= v <= 1.0 for v in out):
            raise ValueError(f"colour components must lie in [0, 1], got {list(out)}")
        return out
    raise ValueError(f"colour must be '#rrggbb' or a list of floats, got {value!r}")


Color = Annotated[
    tuple[float, ...],
    BeforeValidator(parse_color),
    Field(json_schema_extra={ROLE_KEY: COLOR}),
]
"""An RGB or RGBA colour: ``"#00ff00"`` or ``[0, 1, 0]`` in JSON, a tuple of floats in Python."""


def field_role(model: type[BaseModel], name: str) -> str | None:
    """The nodeflow role of a field (input-path, output-path, color) or None."""
    info = model.model_fields[name]
    for meta in info.metadata:
        extra = getattr(meta, "json_schema_extra", None)
        if isinstance(extra, dict) and ROLE_KEY in extra:
            return extra[ROLE_KEY]
    extra = info.json_schema_extra
    if isinstance(extra, dict) and ROLE_KEY in extra:
        return extra[ROLE_KEY]  # type: ignore[return-value]
    return None


@functools.cache
def fields_with_role(model: type[BaseModel], role: str) -> tuple[str, ...]:
    return tuple(name for name in model.model_fields if field_role(model, name) == role)
