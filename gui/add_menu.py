"""The Add menu (right-click, Shift+A, a wire dropped on empty canvas): node types by category,
with a search field on top that matches type names, categories and docs.

The menu can be limited to some types (those with a socket that fits a dropped wire). It opens
with :meth:`AddMenu.open_at` (non-blocking ``popup``) and emits :attr:`AddMenu.chosen`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from PyQt6.QtCore import QPoint, Qt, pyqtSignal
from PyQt6.QtGui import QAction
from PyQt6.QtWidgets import QLineEdit, QMenu, QWidget, QWidgetAction

from nodeflow.gui.palette import EditorNode, Palette
from nodeflow.types import conversion

MAX_HITS = 20


def search_types(palette: Palette, text: str, allowed: Iterable[str] | None = None) -> list[str]:
    """Type names whose name, category or doc contain every word of ``text`` (name hits first)."""
    words = text.lower().split()
    pool = sorted(palette.classes) if allowed is None else sorted(set(allowed) & set(palette.classes))
    hits = []
    for name in pool:
        cls = palette.classes[name].node_cls
        doc = (cls.__doc__ or "") if cls is not None else ""
        haystack = f"{name} {cls.category if cls else ''} {doc}".lower()
        if all(w in haystack for w in words):
            in_name = all(w in name.lower() for w in words)
            hits.append((not in_name, name))
    return [name for _, name in sorted(hits)]


def types_fitting(palette: Palette, port: Any) -> list[str]:
    """Node types with a socket that a wire from ``port`` (a NodeGraphQt Port) could connect to."""
    is_out = port.type_() == "out"
    node = port.node()
    sock = node.socket_type(port.name(), is_input=not is_out) if isinstance(node, EditorNode) else None
    out = []
    for name, node_class in palette.classes.items():
        cls = node_class.node_cls
        others = cls.inputs if is_out else cls.outputs
        if sock is None or any((conversion(sock, o.type) if is_out else conversion(o.type, sock)) is not None
                               for o in others):
            out.append(name)
    return out


class AddMenu(QMenu):
    chosen = pyqtSignal(str)
    """The type name picked."""

    def __init__(self, palette: Palette, parent: QWidget | None = None):
        super().__init__("&Add", parent)
        self.palette = palette
        self.allowed: set[str] | None = None
        self.search = QLineEdit()
        self.search.setPlaceholderText("search nodes (name or doc)")
        self.search.setClearButtonEnabled(True)
        self.search.setMinimumWidth(220)
        search_action = QWidgetAction(self)
        search_action.setDefaultWidget(self.search)
        self._search_action = search_action
        self.category_menus: dict[str, QMenu] = {}
        self.hit_actions: list[QAction] = []
        self.search.textChanged.connect(self._filter)
        self.search.returnPressed.connect(self._pick_first)
        self.build()

    def build(self, allowed: Iterable[str] | None = None) -> None:
        """Rebuild for ``allowed`` type names (None: every type)."""
        self.allowed = set(allowed) if allowed is not None else None
        for action in self.actions():  # not clear(): that would delete the search field too
            self.removeAction(action)
            if action is not self._search_action:
                if action.menu() is not None:
                    action.menu().deleteLater()
                elif action.parent() is self:
                    action.deleteLater()
        self.hit_actions.clear()
        self.category_menus.clear()
        self.addAction(self._search_action)
        self.addSeparator()
        for category, names in self.palette.categories().items():
            names = [n for n in names if self.allowed is None or n in self.allowed]
            if not names:
                continue
            sub = self.addMenu(category)
            for name in names:
                action = sub.addAction(name)
                action.setStatusTip(self.palette.classes[name].node_cls.summary())
                action.setToolTip(action.statusTip())
                action.triggered.connect(lambda _checked=False, name=name: self.chosen.emit(name))
            self.category_menus[category] = sub
        self.search.blockSignals(True)
        self.search.clear()
        self.search.blockSignals(False)

    def _filter(self, text: str) -> None:
        for action in self.hit_actions:
            self.removeAction(action)
            action.deleteLater()
        self.hit_actions.clear()
        searching = bool(text.strip())
        for sub in self.category_menus.values():
            sub.menuAction().setVisible(not searching)
        if not searching:
            return
        for name in search_types(self.palette, text, self.allowed)[:MAX_HITS]:
            cls = self.palette.classes[name].node_cls
            action = QAction(f"{name}  ({cls.category})", self)
            action.setStatusTip(cls.summary())
            action.triggered.connect(lambda _checked=False, name=name: self.chosen.emit(name))
            self.addAction(action)
            self.hit_actions.append(action)

    def hits(self) -> list[str]:
        """Type names listed for the current search text."""
        return [a.text().split("  (")[0] for a in self.hit_actions]

    def _pick_first(self) -> None:
        hits = self.hits()
        if hits:
            self.close()
            self.chosen.emit(hits[0])

    def open_at(self, global_pos: QPoint, allowed: Iterable[str] | None = None) -> None:
        """Show the menu at ``global_pos`` with the search field focused."""
        self.build(allowed)
        self.popup(global_pos)
        self.search.setFocus(Qt.FocusReason.PopupFocusReason)
