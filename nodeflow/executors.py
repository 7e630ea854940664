"""The executor table: every way of running a Plan, by name (``--executor NAME``).

Built-ins are listed in ``BUILTIN``; a package adds one through the ``nodeflow.executors``
entry-point group (``name = "package.module:ExecutorClass"``). Entries are import paths, so
naming an executor costs nothing until it is used (the Dask one imports ``distributed``).
An executor class takes the common settings of :class:`nodeflow.execute.Executor` as keyword
arguments plus the options it declares in ``options`` (e.g. ``workers``, ``scheduler``).
"""

from __future__ import annotations

import importlib
from functools import cache
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from nodeflow.errors import NodeflowError

if TYPE_CHECKING:
    from nodeflow.execute import Executor

ENTRY_POINT_GROUP = "nodeflow.executors"

BUILTIN: dict[str, str] = {
    "local": "nodeflow.execute:Executor",
    "dask": "nodeflow.execute_dask:DaskExecutor",
}


@cache
def executor_table() -> dict[str, str]:
    """Name -> ``module:Class`` for the built-ins and every installed plugin."""
    table = dict(BUILTIN)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        table.setdefault(ep.name, ep.value)
    return table


def executor_names() -> list[str]:
    return list(executor_table())


def executor_class(name: str) -> type[Executor]:
    table = executor_table()
    if name not in table:
        raise NodeflowError(f"unknown executor {name!r}; use one of: {', '.join(table)}")
    module, _, attr = table[name].partition(":")
    return getattr(importlib.import_module(module), attr)


def make_executor(name: str, common: dict[str, Any], options: dict[str, Any]) -> Executor:
    """An executor ``name`` built from the common settings and the options it accepts.

    Options it does not declare (``workers`` for the local one) or left unset (None) are
    dropped, so one call site serves every executor; see :func:`unused_options` to refuse them.
    """
    cls = executor_class(name)
    accepted = set(getattr(cls, "options", ()))
    return cls(**common, **{k: v for k, v in options.items() if k in accepted and v is not None})


def unused_options(name: str, options: dict[str, Any]) -> list[str]:
    """The options set (not None) that executor ``name`` would ignore."""
    accepted = set(getattr(executor_class(name), "options", ()))
    return sorted(k for k, v in options.items() if v is not None and k not in accepted)
