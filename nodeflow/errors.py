"""Errors a user can cause, each carrying where it happened and how to fix it.

The CLI prints these without a traceback; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from dataclasses import dataclass


class NodeflowError(Exception):
    """Base of every error meant for the user rather than for a developer."""

    exit_code = 1


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a graph: where (node id, field) and how to fix it (hint)."""

    message: str
    node: str | None = None
    field: str | None = None
    hint: str | None = None

    def __str__(self) -> str:
        where = ""
        if self.node is not None:
            where = f"node {self.node}"
            if self.field:
                where += f", {self.field}"
            where += ": "
        elif self.field:
            where = f"{self.field}: "
        text = where + self.message
        if self.hint:
            text += f" (hint: {self.hint})"
        return text


class GraphValidationError(NodeflowError):
    """All problems found while loading or validating a graph, reported together."""

    exit_code = 2

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        n = len(self.problems)
        head = f"graph has {n} problem{'s' if n != 1 else ''}:"
        super().__init__("\n".join([head, *(f"  - {p}" for p in self.problems)]))


class NodeError(NodeflowError):
    """Raised by a node's ``run`` for bad input; the executor adds the node id and type.

    ``field`` names the param or socket at fault, ``hint`` says how to fix it.
    """

    def __init__(self, message: str, *, field: str | None = None, hint: str | None = None):
        self.message = message
        self.field = field
        self.hint = hint
        super().__init__(message)

    def __reduce__(self) -> tuple:  # picklable, so that it crosses to a Dask client intact
        return _rebuild, (type(self), (self.message,), {"field": self.field, "hint": self.hint})


class NodeExecutionError(NodeflowError):
    """A node failed while running: ``node <id> (<Type>): <message>``."""

    def __init__(self, node_id: str, node_type: str, message: str, *, field: str | None = None,
                 hint: str | None = None):
        self.node_id = node_id
        self.node_type = node_type
        self.field = field
        self.hint = hint
        text = f"node {node_id} ({node_type}): "
        if field:
            text += f"{field}: "
        text += message
        if hint:
            text += f" (hint: {hint})"
        self.message = message
        super().__init__(text)

    def __reduce__(self) -> tuple:  # picklable, so that it crosses to a Dask client intact
        return _rebuild, (type(self), (self.node_id, self.node_type, self.message),
                          {"field": self.field, "hint": self.hint})


class Cancelled(NodeflowError):
    """The run was cancelled (Ctrl-C or the editor's stop button)."""

    exit_code = 130

    def __init__(self, message: str = "cancelled"):
        super().__init__(message)


def _rebuild(cls: type[Exception], args: tuple, kwargs: dict) -> Exception:
    return cls(*args, **kwargs)
