"""The properties panel: id, type and params of the selected node, edited in place.

Edits go through NodeGraphQt properties (so they are undoable); each edit re-checks the node's
params with its pydantic model and shows any problem under the field at once.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtGui import QColor
from PyQt6.QtWidgets import (
    QColorDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLayout,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from nodeflow.gui.canvas import BackdropNode, EditorGraph
from nodeflow.gui.field_editors import FieldEditor, editor_for
from nodeflow.gui.palette import NOTE_PROP, PARAM_PREFIX, EditorNode
from nodeflow.param_info import param_infos

BACKDROP_TEXT = "backdrop_text"


def _note_of(node: Any) -> str:
    """A node's note or a frame's text ("" for none)."""
    if isinstance(node, BackdropNode):
        return str(node.text() or "")
    return node.note() if isinstance(node, EditorNode) else ""


class ParamPanel(QWidget):
    """Shows one node (or nothing); ``editors[name]`` is the editor of param ``name``."""

    status = pyqtSignal(str)

    def __init__(self, graph: EditorGraph, base_dir: Callable[[], Path], parent: QWidget | None = None):
        super().__init__(parent)
        self.graph = graph
        self.base_dir = base_dir
        self.node: EditorNode | None = None
        self.editors: dict[str, FieldEditor] = {}
        self.errors: dict[str, QLabel] = {}

        self.id_edit = QLineEdit()
        self.id_edit.setToolTip("node id: letters, digits, '_' or '-'; used by edges and --set")
        self.id_edit.editingFinished.connect(self._rename)
        self.color_button = QPushButton("Colour…")
        self.color_button.setToolTip("node colour in the editor (saved under ui)")
        self.color_button.clicked.connect(self._pick_color)
        self.note_edit = QLineEdit()
        self.note_edit.setPlaceholderText("note shown under the node (saved under ui)")
        self.note_edit.editingFinished.connect(self._note_edited)
        self.type_label = QLabel()
        self.type_label.setWordWrap(True)
        self.type_label.setTextFormat(Qt.TextFormat.PlainText)

        head = QHBoxLayout()
        head.addWidget(QLabel("id"))
        head.addWidget(self.id_edit, 1)
        head.addWidget(self.color_button)

        self.form_host = QWidget()
        self.form = QFormLayout(self.form_host)
        self.form.setSizeConstraint(QLayout.SizeConstraint.SetMinimumSize)  # scroll, never squash
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.form_host)

        self.node_error = QLabel()
        """Problems of the params together (e.g. ``in_white`` must exceed ``in_black``)."""
        self.node_error.setStyleSheet("color: #e05050;")
        self.node_error.setWordWrap(True)
        self.node_error.hide()

        layout = QVBoxLayout(self)
        layout.addLayout(head)
        layout.addWidget(self.note_edit)
        layout.addWidget(self.type_label)
        layout.addWidget(self.node_error)
        layout.addWidget(scroll, 1)
        graph.property_changed.connect(self._on_property_changed)
        self.show_node(None)

    # -- building ------------------------------------------------------------------------------
    def show_node(self, node: EditorNode | BackdropNode | None) -> None:
        """Show ``node``'s id and params, or a frame's title and text (None clears the panel)."""
        self.node = node
        self.editors.clear()
        self.errors.clear()
        while self.form.rowCount():
            self.form.removeRow(0)
        enabled = node is not None
        self.id_edit.setEnabled(enabled)
        self.color_button.setEnabled(enabled)
        self.note_edit.setEnabled(enabled)
        self.note_edit.setText(_note_of(node))
        if node is None:
            self.id_edit.clear()
            self.type_label.setText("Select a node to edit its params.")
            return
        if isinstance(node, BackdropNode):
            self.id_edit.setText(node.name())
            self.type_label.setText("Frame: its title (above) and text (the note field) are saved under "
                                    "ui; moving it moves the nodes on it.")
            return
        self.id_edit.setText(node.name())
        cls = node.node_cls
        if cls is None:
            self.type_label.setText(f"{node.type_name}: unknown node type (not in the registry); "
                                    "its params and edges are kept as they are.")
            return
        self.type_label.setText(f"{cls.type_name} ({cls.category}) — {cls.summary()}")
        for param in param_infos(cls.Params):
            name = param.name
            editor = editor_for(param, self.base_dir)
            editor.set_value(node.param_value(name))
            editor.edited.connect(lambda value, name=name: self._edited(name, value))
            label = QLabel(name)
            tip = param.description
            label.setToolTip(tip)
            editor.setToolTip(tip)
            error = QLabel()
            error.setStyleSheet("color: #e05050;")
            error.setWordWrap(True)
            error.hide()
            cell = QWidget()
            box = QVBoxLayout(cell)
            box.setContentsMargins(0, 0, 0, 0)
            box.setSpacing(1)
            box.addWidget(editor)
            box.addWidget(error)
            self.form.addRow(label, cell)
            self.editors[name] = editor
            self.errors[name] = error
        self._check()

    # -- edits ---------------------------------------------------------------------------------
    def _edited(self, name: str, value: Any) -> None:
        if self.node is None:
            return
        self.node.set_param(name, value)
        self._check()

    def _check(self) -> None:
        """Validate the node's params; show each problem under its field."""
        node = self.node
        for label in self.errors.values():
            label.hide()
        self.node_error.hide()
        if node is None or getattr(node, "node_cls", None) is None:
            return
        try:
            node.node_cls.Params(**node.current_params())
        except ValidationError as exc:
            general: list[str] = []
            for err in exc.errors():
                loc = [str(p) for p in err.get("loc", ())]
                label = self.errors.get(loc[0]) if loc else None
                msg = err.get("msg", "invalid").removeprefix("Value error, ")
                if label is not None:
                    label.setText(msg if err.get("type") != "missing" else "required")
                    label.show()
                else:  # a check across fields (model validator): shown above the form
                    general.append(msg)
            if general:
                self.node_error.setText("\n".join(general))
                self.node_error.show()

    def _rename(self) -> None:
        node = self.node
        if node is None or self.id_edit.text() == node.name():
            return
        if isinstance(node, BackdropNode):  # a frame's title is free text
            node.set_name(self.id_edit.text())
            return
        node.set_name(self.id_edit.text())
        if node.name() != self.id_edit.text():
            self.status.emit(f"id {self.id_edit.text()!r} is not valid or taken; using {node.name()!r}")
        self.id_edit.setText(node.name())

    def _note_edited(self) -> None:
        node = self.node
        if node is None or self.note_edit.text() == _note_of(node):
            return
        prop = BACKDROP_TEXT if isinstance(node, BackdropNode) else NOTE_PROP
        node.set_property(prop, self.note_edit.text())  # undoable, marks the graph modified

    def _pick_color(self) -> None:
        if self.node is None:
            return
        color = QColorDialog.getColor(QColor(*self.node.color()[:3]), self, "Node colour")
        if color.isValid():
            self.node.set_color(color.red(), color.green(), color.blue())

    def _on_property_changed(self, node: Any, prop: str, value: Any) -> None:
        """Keep the panel in step with undo/redo and edits made elsewhere."""
        if node is not self.node:
            return
        if prop == "name":
            self.id_edit.setText(str(value))
        elif prop in (NOTE_PROP, BACKDROP_TEXT):
            self.note_edit.setText(str(value or ""))
        elif prop.startswith(PARAM_PREFIX):
            editor = self.editors.get(prop[len(PARAM_PREFIX):])
            if editor is not None:
                editor.set_value(value)
                self._check()
