"""The node library: node types by category; double-click adds one, or drag it into the graph."""

from __future__ import annotations

from NodeGraphQt.constants import MIME_TYPE, URN_SCHEME
from PyQt6.QtCore import QMimeData, pyqtSignal
from PyQt6.QtWidgets import QLineEdit, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from nodeflow.gui.palette import Palette

TYPE_ROLE = 256  # Qt.ItemDataRole.UserRole


class _Tree(QTreeWidget):
    def __init__(self, palette: Palette):
        super().__init__()
        self.palette = palette
        self.setHeaderHidden(True)
        self.setDragEnabled(True)

    def mimeData(self, items: list[QTreeWidgetItem]) -> QMimeData:
        """NodeGraphQt's drop format: the viewer creates the node where it is dropped."""
        keys = [self.palette.classes[t].type_ for t in (i.data(0, TYPE_ROLE) for i in items) if t]
        data = QMimeData()
        data.setData(MIME_TYPE, (URN_SCHEME + ";".join(f"node:{k}" for k in keys)).encode())
        return data


class LibraryPanel(QWidget):
    add_requested = pyqtSignal(str)
    """A node type name to add (double-click or Enter)."""

    def __init__(self, palette: Palette, parent: QWidget | None = None):
        super().__init__(parent)
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("filter node types")
        self.filter.setClearButtonEnabled(True)
        self.tree = _Tree(palette)
        for category, names in palette.categories().items():
            top = QTreeWidgetItem([category])
            self.tree.addTopLevelItem(top)
            for name in names:
                cls = palette.classes[name].node_cls
                item = QTreeWidgetItem([name])
                item.setData(0, TYPE_ROLE, name)
                ins = ", ".join(f"{i.name}: {i.type.name}" for i in cls.inputs) or "none"
                outs = ", ".join(f"{o.name}: {o.type.name}" for o in cls.outputs) or "none"
                item.setToolTip(0, f"{cls.summary()}\ninputs: {ins}\noutputs: {outs}")
                top.addChild(item)
        self.tree.expandAll()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.filter)
        layout.addWidget(self.tree, 1)
        self.tree.itemActivated.connect(self._activated)
        self.filter.textChanged.connect(self._apply_filter)

    def _activated(self, item: QTreeWidgetItem, _column: int) -> None:
        name = item.data(0, TYPE_ROLE)
        if name:
            self.add_requested.emit(name)

    def _apply_filter(self, text: str) -> None:
        text = text.strip().lower()
        for i in range(self.tree.topLevelItemCount()):
            top = self.tree.topLevelItem(i)
            shown = 0
            for j in range(top.childCount()):
                child = top.child(j)
                hit = not text or text in child.text(0).lower() or text in top.text(0).lower()
                child.setHidden(not hit)
                shown += hit
            top.setHidden(shown == 0)
