"""What a node shows under its title and ports: key params, a thumbnail of its last output, its note.

Drawn by one child item of the node's view, so it moves, hides and is deleted with the node;
it is view only (never saved, never undoable).
"""

from __future__ import annotations

from typing import Any

from PyQt6.QtCore import QRectF, Qt
from PyQt6.QtGui import QColor, QFont, QFontMetricsF, QImage, QPainter, QPixmap
from PyQt6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

KEY_PARAMS = 3
THUMB_MAX = 96
PAD = 4
NOTE_WIDTH = 190


def short(value: Any, limit: int = 22) -> str:
    """A param value as one short line."""
    text = f"{value:g}" if isinstance(value, float) else str(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"


class NodeBody(QGraphicsItem):
    """Key params, a thumbnail and the note, stacked under the node."""

    def __init__(self, parent: QGraphicsItem):
        super().__init__(parent)
        self.lines: list[str] = []
        self.note = ""
        self.thumb: QPixmap | None = None
        self.font = QFont()
        self.font.setPointSizeF(7.5)
        self.note_font = QFont(self.font)
        self.note_font.setItalic(True)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)  # clicks go to the canvas/node
        self._rect = QRectF()
        self._layout()

    def set_content(self, lines: list[str] | None = None, note: str | None = None,
                    thumb: QImage | bool | None = False) -> None:
        """Change what is shown (``thumb=False`` keeps the thumbnail, None removes it)."""
        self.prepareGeometryChange()
        if lines is not None:
            self.lines = lines
        if note is not None:
            self.note = note
        if thumb is not False:
            self.thumb = None if thumb is None else QPixmap.fromImage(thumb).scaled(
                THUMB_MAX, THUMB_MAX, Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation)
        self._layout()
        self.update()

    def _note_rect(self, top: float) -> QRectF:
        metrics = QFontMetricsF(self.note_font)
        return metrics.boundingRect(QRectF(0, top, NOTE_WIDTH, 400),
                                    int(Qt.TextFlag.TextWordWrap), self.note)

    def _layout(self) -> None:
        parent = self.parentItem()
        self.setPos(0, parent.boundingRect().height() + 2 if parent is not None else 0)
        metrics = QFontMetricsF(self.font)
        width = max([metrics.horizontalAdvance(t) for t in self.lines] + [0.0])
        height = len(self.lines) * metrics.height()
        if self.thumb is not None:
            height += PAD + self.thumb.height()
            width = max(width, float(self.thumb.width()))
        if self.note:
            rect = self._note_rect(height + PAD)
            height = rect.bottom()
            width = max(width, rect.width())
        self._rect = QRectF(0, 0, width + 2 * PAD, height + 2 * PAD) if (width or height) else QRectF()

    def boundingRect(self) -> QRectF:
        return self._rect

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        if self._rect.isEmpty():
            return
        painter.save()
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(20, 20, 24, 170))
        painter.drawRoundedRect(self._rect, 3, 3)
        metrics = QFontMetricsF(self.font)
        y = PAD
        painter.setFont(self.font)
        painter.setPen(QColor(200, 200, 200))
        for text in self.lines:
            painter.drawText(QRectF(PAD, y, self._rect.width(), metrics.height()),
                             int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), text)
            y += metrics.height()
        if self.thumb is not None:
            y += PAD
            painter.drawPixmap(int(PAD), int(y), self.thumb)
            y += self.thumb.height()
        if self.note:
            painter.setFont(self.note_font)
            painter.setPen(QColor(240, 220, 140))
            rect = self._note_rect(y + PAD).translated(PAD, 0)
            painter.drawText(rect, int(Qt.TextFlag.TextWordWrap), self.note)
        painter.restore()
