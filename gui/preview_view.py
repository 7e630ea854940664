"""The preview panel: the selected node's first Image/Mask output from the last run."""

from __future__ import annotations

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QImage, QPixmap, QResizeEvent
from PyQt6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget


class PreviewPanel(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.images: dict[str, tuple[str, int | None, QImage]] = {}
        """node id -> (output name, first frame, image) from the latest run that produced it."""
        self.node_id: str | None = None
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        self.picture = QLabel()
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.picture.setMinimumSize(120, 90)
        self.picture.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        layout = QVBoxLayout(self)
        layout.addWidget(self.caption)
        layout.addWidget(self.picture, 1)
        self.show_node(None)

    def clear(self) -> None:
        self.images.clear()
        self.show_node(self.node_id)

    def add(self, node_id: str, output: str, frame: int | None, image: QImage) -> None:
        self.images[node_id] = (output, frame, image)
        if node_id == self.node_id:
            self.show_node(node_id)

    def rename(self, old: str, new: str) -> None:
        if old in self.images:
            self.images[new] = self.images.pop(old)
        if self.node_id == old:
            self.node_id = new
            self.show_node(new)

    def pixmap(self) -> QPixmap | None:
        """The pixmap shown now (None when there is nothing to show)."""
        item = self.images.get(self.node_id) if self.node_id else None
        return QPixmap.fromImage(item[2]) if item else None

    def show_node(self, node_id: str | None) -> None:
        self.node_id = node_id
        item = self.images.get(node_id) if node_id else None
        if item is None:
            self.picture.clear()
            self.caption.setText("Select a node, then Run, to see its output." if node_id is None
                                 else f"{node_id}: no Image/Mask output yet — run the graph.")
            return
        output, frame, image = item
        where = f", frame {frame}" if frame is not None else ""
        self.caption.setText(f"{node_id}.{output} ({image.width()}×{image.height()} preview{where})")
        self._fit()

    def _fit(self) -> None:
        pix = self.pixmap()
        if pix is None:
            return
        self.picture.setPixmap(pix.scaled(self.picture.size(), Qt.AspectRatioMode.KeepAspectRatio,
                                          Qt.TransformationMode.SmoothTransformation))

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit()
