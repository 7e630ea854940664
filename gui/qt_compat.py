"""Make NodeGraphQt (written against Qt5-style names through Qt.py) import and run under PyQt6.

PyQt6 only exposes scoped enums (``Qt.AlignmentFlag.AlignLeft``); NodeGraphQt uses the short
Qt5 names (``Qt.AlignLeft``, ``QGraphicsItem.DeviceCoordinateCache``) and ``exec_()``. This
module, imported before NodeGraphQt, copies every scoped enum member onto its enclosing class
and adds ``exec_`` aliases. Import :data:`NodeGraphQt` names only after importing this module::

    from nodeflow.gui import qt_compat  # noqa: F401  (must come first)
    import NodeGraphQt
"""

from __future__ import annotations

import contextlib
import enum
import io
import os
import sys
from types import ModuleType

os.environ.setdefault("QT_PREFERRED_BINDING", "PyQt6")  # Qt.py: use PyQt6 even if PySide is around

from PyQt6 import QtCore, QtGui, QtSvg, QtWidgets

_patched: set[int] = set()


def _promote_enums(cls: type) -> int:
    """Copy the members of every enum defined on ``cls`` onto ``cls``; returns how many were added."""
    if id(cls) in _patched:
        return 0
    _patched.add(id(cls))
    added = 0
    for name in dir(cls):
        try:
            value = getattr(cls, name)
        except Exception:  # some descriptors raise on class access
            continue
        if not isinstance(value, type):
            continue
        if issubclass(value, enum.Enum):
            for member_name, member in value.__members__.items():
                if not hasattr(cls, member_name):
                    try:
                        setattr(cls, member_name, member)
                        added += 1
                    except (AttributeError, TypeError):
                        pass
        elif value.__qualname__.startswith(cls.__qualname__ + "."):
            added += _promote_enums(value)  # nested classes (e.g. QStyleOption... subtypes)
    return added


def _add_exec_alias(cls: type) -> None:
    """``exec_`` = ``exec``, as the class's own (unbound) method so instances bind it."""
    method = cls.__dict__.get("exec")
    if method is not None and "exec_" not in cls.__dict__:
        with contextlib.suppress(AttributeError, TypeError):
            cls.exec_ = method  # type: ignore[attr-defined]


def patch_module(module: ModuleType) -> int:
    """Promote scoped enums of every class (and the ``Qt`` namespace) in a PyQt6 module."""
    added = 0
    for name in dir(module):
        obj = getattr(module, name, None)
        if isinstance(obj, type) and obj.__module__.startswith("PyQt6"):
            added += _promote_enums(obj)
            _add_exec_alias(obj)
    return added


def _event_pos(event: QtGui.QDropEvent) -> QtCore.QPoint:
    """Qt5's ``QDropEvent.pos()``: the drop point in widget coordinates (Qt6: ``position()``)."""
    return event.position().toPoint()


def _add_drop_pos() -> None:
    """NodeGraphQt's ``dropEvent``/``dragMoveEvent`` call ``event.pos()``, which PyQt6's drag and
    drop events lack: without this every drop onto the canvas aborts the process (exit 134)."""
    for cls in (QtGui.QDropEvent, QtGui.QDragMoveEvent, QtGui.QDragEnterEvent):
        if "pos" not in cls.__dict__ and not hasattr(cls, "pos"):
            cls.pos = _event_pos  # type: ignore[attr-defined]


def install() -> int:
    """Patch QtCore (incl. ``Qt``), QtGui, QtWidgets and QtSvg once; returns members added."""
    _add_drop_pos()
    return sum(patch_module(m) for m in (QtCore, QtGui, QtWidgets, QtSvg))


def _import_qt_py_quietly() -> None:
    """Import Qt.py, dropping its warnings about optional Qt modules this system lacks
    (e.g. QtMultimedia without libpulse); other output is passed on."""
    buf = io.StringIO()
    with contextlib.redirect_stderr(buf):
        import Qt  # noqa: F401
    for line in buf.getvalue().splitlines():
        if not line.startswith("Qt.py [warning]: ImportError("):
            print(line, file=sys.stderr)


PATCHED_MEMBERS = install()
_import_qt_py_quietly()
