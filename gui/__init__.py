"""The nodeflow node editor (PyQt6 + NodeGraphQt), installed as ``nodeflow.gui``.

Importing the package installs the PyQt6 compatibility shim first, so every module below can
import NodeGraphQt safely. Start it with ``nodeflow.gui.app.main([graph.json])``.
"""

from nodeflow.gui import qt_compat as _qt_compat  # noqa: F401  (must run before NodeGraphQt)
