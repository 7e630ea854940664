"""One editor widget per param field, chosen from its ParamInfo (kind, bounds, role).

Every editor shows and emits the param's JSON value: numbers with their ranges, ``Literal`` and
``Enum`` choices as combo boxes, bools as check boxes, paths as a line edit with a file picker,
colours as a colour button (``"#rrggbb[aa]"``), anything else as JSON text.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic.fields import FieldInfo
from PyQt6.QtCore import pyqtSignal
from PyQt6.QtGui import QColor
from PyQt6.QtWidgets import (
    QCheckBox,
    QColorDialog,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from nodeflow.param_info import ParamInfo, describe_field
from nodeflow.params import parse_color

INT_LIMIT = 2**31 - 1
FLOAT_LIMIT = 1e9


class FieldEditor(QWidget):
    """Base: ``set_value`` shows a value silently; a user edit emits ``edited(value)``."""

    edited = pyqtSignal(object)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)

    def set_value(self, value: Any) -> None:
        raise NotImplementedError

    def value(self) -> Any:
        raise NotImplementedError


class BoolEditor(FieldEditor):
    def __init__(self) -> None:
        super().__init__()
        self.box = QCheckBox()
        self._layout.addWidget(self.box)
        self._layout.addStretch(1)
        self.box.toggled.connect(lambda on: self.edited.emit(bool(on)))

    def set_value(self, value: Any) -> None:
        self.box.blockSignals(True)
        self.box.setChecked(bool(value))
        self.box.blockSignals(False)

    def value(self) -> bool:
        return self.box.isChecked()


class ChoiceEditor(FieldEditor):
    def __init__(self, choices: list[Any]) -> None:
        super().__init__()
        self.combo = QComboBox()
        for choice in choices:
            self.combo.addItem(str(choice), choice)
        self._layout.addWidget(self.combo, 1)
        self.combo.activated.connect(lambda i: self.edited.emit(self.combo.itemData(i)))

    def set_value(self, value: Any) -> None:
        self.combo.blockSignals(True)
        index = next((i for i in range(self.combo.count()) if self.combo.itemData(i) == value), -1)
        if index < 0 and value is not None:  # an invalid value from the file: show it as it is
            self.combo.addItem(f"{value} (invalid)", value)
            index = self.combo.count() - 1
        self.combo.setCurrentIndex(index)
        self.combo.blockSignals(False)

    def value(self) -> Any:
        return self.combo.currentData()


def range_text(lo: float | None, hi: float | None) -> str:
    """The range shown next to a number: ``1 … 9``, ``≥ 0``, ``≤ 1`` (empty when unbounded)."""
    def fmt(v: float) -> str:
        return f"{v:g}"
    if lo is not None and hi is not None:
        return f"{fmt(lo)} … {fmt(hi)}"
    if lo is not None:
        return f"≥ {fmt(lo)}"
    if hi is not None:
        return f"≤ {fmt(hi)}"
    return ""


class NumberEditor(FieldEditor):
    """A spin box with its range shown beside it; ``optional`` adds a check box (unchecked = None).

    A value from the file outside the range is shown as it is (the spin box widens to hold it, the
    params panel shows the error), never silently clamped; the next in-range edit restores the range.
    """

    def __init__(self, lo: float | None, hi: float | None, *, integer: bool, optional: bool = False,
                 decimals: int = 4) -> None:
        super().__init__()
        self.integer = integer
        self.decimals = decimals
        self.optional = optional
        if integer:
            self.spin: QSpinBox | QDoubleSpinBox = QSpinBox()
            self.lo = -INT_LIMIT if lo is None else max(-INT_LIMIT, math.ceil(lo))
            self.hi = INT_LIMIT if hi is None else min(INT_LIMIT, math.floor(hi))
        else:
            self.spin = QDoubleSpinBox()
            self.spin.setDecimals(decimals)
            self.lo = -FLOAT_LIMIT if lo is None else lo
            self.hi = FLOAT_LIMIT if hi is None else hi
            span = (hi - lo) if lo is not None and hi is not None else 100.0
            self.spin.setSingleStep(0.01 if span <= 2 else 0.1 if span <= 20 else 1.0)
        self.spin.setKeyboardTracking(False)
        self.spin.setRange(self.lo, self.hi)
        self.set_box: QCheckBox | None = None
        if optional:
            self.set_box = QCheckBox()
            self.set_box.setToolTip("unchecked: not set (the node's automatic value)")
            self._layout.addWidget(self.set_box)
            self.set_box.toggled.connect(self._toggled)
        self._layout.addWidget(self.spin, 1)
        self.range_label = QLabel(range_text(lo, hi))
        self.range_label.setStyleSheet("color: #999;")
        self._layout.addWidget(self.range_label)
        self.spin.valueChanged.connect(self._changed)

    def _number(self, v: float) -> int | float:
        return int(v) if self.integer else round(float(v), self.decimals)

    def _changed(self, v: float) -> None:
        if self.lo <= v <= self.hi and (self.spin.minimum(), self.spin.maximum()) != (self.lo, self.hi):
            self.spin.blockSignals(True)
            self.spin.setRange(self.lo, self.hi)  # back to the real range after a bad file value
            self.spin.blockSignals(False)
        self.edited.emit(self._number(v))

    def _toggled(self, on: bool) -> None:
        self.spin.setEnabled(on)
        self.edited.emit(self._number(self.spin.value()) if on else None)

    def set_value(self, value: Any) -> None:
        self.spin.blockSignals(True)
        is_number = isinstance(value, int | float) and not isinstance(value, bool)
        if is_number:
            self.spin.setRange(min(self.lo, value), max(self.hi, value))  # show it as it is
            self.spin.setValue(value)
        if self.set_box is not None:
            self.set_box.blockSignals(True)
            self.set_box.setChecked(is_number)
            self.set_box.blockSignals(False)
            self.spin.setEnabled(is_number)
        self.spin.blockSignals(False)

    def value(self) -> int | float | None:
        if self.set_box is not None and not self.set_box.isChecked():
            return None
        return self._number(self.spin.value())


class IntEditor(NumberEditor):
    def __init__(self, lo: float | None, hi: float | None, optional: bool = False) -> None:
        super().__init__(lo, hi, integer=True, optional=optional)


class FloatEditor(NumberEditor):
    def __init__(self, lo: float | None, hi: float | None, decimals: int = 4, optional: bool = False) -> None:
        super().__init__(lo, hi, integer=False, optional=optional, decimals=decimals)


class TextEditor(FieldEditor):
    """Plain text; ``required`` turns an empty text into None (unset)."""

    def __init__(self, required: bool = False) -> None:
        super().__init__()
        self.required = required
        self.line = QLineEdit()
        if required:
            self.line.setPlaceholderText("required")
        self._layout.addWidget(self.line, 1)
        self.line.editingFinished.connect(self._finished)
        self._shown: Any = None

    def _finished(self) -> None:
        value = self.value()
        if value != self._shown:
            self._shown = value
            self.edited.emit(value)

    def set_value(self, value: Any) -> None:
        self._shown = value
        self.line.setText("" if value is None else str(value))

    def value(self) -> Any:
        text = self.line.text()
        return None if (self.required and not text) else text


class PathEditor(TextEditor):
    """A path with a file picker; a picked file under ``base_dir()`` is stored relative to it."""

    def __init__(self, save: bool, base_dir: Callable[[], Path], required: bool = False) -> None:
        super().__init__(required)
        self.save = save
        self.base_dir = base_dir
        self.button = QPushButton("…")
        self.button.setToolTip("choose a file to write" if save else "choose a file to read")
        self.button.setFixedWidth(28)
        self._layout.addWidget(self.button)
        self.button.clicked.connect(self._pick)

    def _pick(self) -> None:
        base = self.base_dir()
        start = str(base / self.line.text()) if self.line.text() else str(base)
        if self.save:
            chosen, _ = QFileDialog.getSaveFileName(self, "Output file", start)
        else:
            chosen, _ = QFileDialog.getOpenFileName(self, "Input file", start)
        if chosen:
            self.line.setText(relative_to(Path(chosen), base))
            self._finished()


def relative_to(path: Path, base: Path) -> str:
    """``path`` relative to ``base`` when inside it (POSIX separators), else absolute."""
    try:
        return path.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return str(path)


class ColorEditor(FieldEditor):
    """A colour swatch button; values are ``"#rrggbb"`` (``"#rrggbbaa"`` with alpha)."""

    def __init__(self, alpha: bool) -> None:
        super().__init__()
        self.alpha = alpha
        self.button = QPushButton()
        self._layout.addWidget(self.button, 1)
        self.button.clicked.connect(self._pick)
        self._value: Any = None

    def _pick(self) -> None:
        options = QColorDialog.ColorDialogOption.ShowAlphaChannel if self.alpha else \
            QColorDialog.ColorDialogOption(0)
        color = QColorDialog.getColor(self._qcolor(), self, "Colour", options)
        if color.isValid():
            self.set_color(color)

    def set_color(self, color: QColor) -> None:
        """Take a colour as if the user picked it."""
        rgb = f"#{color.red():02x}{color.green():02x}{color.blue():02x}"
        if self.alpha:
            rgb += f"{color.alpha():02x}"
        self.set_value(rgb)
        self.edited.emit(rgb)

    def _qcolor(self) -> QColor:
        try:
            comps = parse_color(self._value)
        except (ValueError, TypeError):
            return QColor(0, 0, 0)
        color = QColor.fromRgbF(*comps[:3])
        if len(comps) == 4:
            color.setAlphaF(comps[3])
        return color

    def set_value(self, value: Any) -> None:
        self._value = value
        color = self._qcolor()
        text = value if isinstance(value, str) else json.dumps(value)
        fg = "#000" if color.lightnessF() > 0.5 else "#fff"
        self.button.setText(text)
        self.button.setStyleSheet(f"background-color: {color.name()}; color: {fg};")

    def value(self) -> Any:
        return self._value


class JsonEditor(TextEditor):
    """Any other value as JSON text (empty = unset); text that is not JSON is taken as a string."""

    def __init__(self) -> None:
        super().__init__(required=False)
        self.line.setPlaceholderText("default")

    def set_value(self, value: Any) -> None:
        self._shown = value
        self.line.setText("" if value is None else json.dumps(value))

    def value(self) -> Any:
        text = self.line.text().strip()
        if not text:
            return None
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return text


def editor_for(param: ParamInfo, base_dir: Callable[[], Path]) -> FieldEditor:
    """The editor for one param, chosen from its :class:`~nodeflow.param_info.ParamInfo`."""
    if param.kind == "color":
        default = param.default
        return ColorEditor(alpha=isinstance(default, tuple | list) and len(default) == 4)
    if param.kind == "path":
        return PathEditor(save=param.path_role == "output", base_dir=base_dir, required=param.required)
    if param.optional and param.kind not in ("int", "float"):  # None must stay writable: JSON text
        return JsonEditor()
    if param.kind == "bool":
        return BoolEditor()
    if param.kind == "choice":
        return ChoiceEditor(list(param.choices))
    if param.kind == "int":
        return IntEditor(*param.inclusive_bounds(1), optional=param.optional)
    if param.kind == "float":
        return FloatEditor(*param.inclusive_bounds(1e-4), optional=param.optional)
    if param.kind == "str":
        return TextEditor(required=param.required)
    return JsonEditor()


def make_editor(info: FieldInfo, role: str | None, base_dir: Callable[[], Path]) -> FieldEditor:
    """The editor for one pydantic param field (``role`` as :func:`nodeflow.params.field_role`)."""
    return editor_for(describe_field("", info, role), base_dir)
