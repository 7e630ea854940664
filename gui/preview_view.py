"""The viewer: the selected node's outputs from the latest runs, frame by frame.

Any Image/Mask output, any image of a batch, zoomed (fit or a fixed factor), as RGB, over a
checkerboard (alpha/mask shown as transparency) or as the alpha/mask alone. For a clip a frame
slider scrubs the timeline: a frame already computed is shown at once, any other is asked for
with :attr:`PreviewPanel.frame_requested` (the window then runs just that frame for this node).
"""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QColor, QImage, QPainter, QPaintEvent, QPixmap, QResizeEvent, QWheelEvent
from PyQt6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

MODES = ("RGB", "alpha on checkerboard", "alpha / mask")
ZOOMS = ("fit", "25%", "50%", "100%", "200%", "400%")
CHECKER = 8
PLAY_FPS = 12
MAX_FRAMES = 240
"""Frames kept per node output (the ones nearest the slider): bounds the viewer's memory."""


def checkerboard(h: int, w: int) -> np.ndarray:
    """A grey checkerboard ``(h, w, 1)`` float in [0, 1] (transparent areas show through it)."""
    y, x = np.mgrid[0:h, 0:w]
    return np.where(((x // CHECKER + y // CHECKER) % 2) == 0, 0.75, 0.45)[..., None].astype(np.float32)


def compose(arr: np.ndarray, mode: str) -> np.ndarray:
    """uint8 ``(H, W, C)`` -> uint8 RGB ``(H, W, 3)`` as ``mode`` shows it."""
    c = arr.shape[-1]
    if c == 1:  # a mask
        alpha = arr.astype(np.float32) / 255
        if mode == MODES[1]:
            out = alpha + checkerboard(*arr.shape[:2]) * (1 - alpha)  # white where the mask is on
            return (out.repeat(3, -1) * 255).round().astype(np.uint8)
        return np.repeat(arr, 3, axis=-1)
    rgb = arr[..., :3]
    if mode == MODES[0] or (c == 3 and mode == MODES[1]):
        return np.ascontiguousarray(rgb)
    alpha = arr[..., 3:4].astype(np.float32) / 255 if c == 4 else np.ones((*arr.shape[:2], 1), np.float32)
    if mode == MODES[2]:
        return (alpha.repeat(3, -1) * 255).round().astype(np.uint8)
    out = rgb.astype(np.float32) / 255 * alpha + checkerboard(*arr.shape[:2]) * (1 - alpha)
    return (out * 255).round().astype(np.uint8)


def to_qimage(rgb: np.ndarray) -> QImage:
    h, w = rgb.shape[:2]
    data = np.ascontiguousarray(rgb)
    return QImage(data.tobytes(), w, h, 3 * w, QImage.Format.Format_RGB888).copy()


class FrameStrip(QWidget):
    """A thin bar under the slider: which frames of the viewed output are computed (green)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setFixedHeight(5)
        self.count = 0
        self.computed: set[int] = set()

    def set_frames(self, count: int, computed: set[int]) -> None:
        self.count, self.computed = count, computed
        self.update()

    def paintEvent(self, event: QPaintEvent | None) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(70, 70, 70))
        if self.count > 0:
            w = self.width() / self.count
            for f in self.computed:
                painter.fillRect(int(f * w), 0, max(1, int(w + 0.999)), self.height(), QColor(90, 190, 110))
        painter.end()


class PreviewPanel(QWidget):
    """``images`` (first frame per node, from older code paths) and ``store`` (everything shown)."""

    frame_requested = pyqtSignal(int)
    """The slider moved to a frame the viewed node has not computed yet."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.images: dict[str, tuple[str, int | None, QImage]] = {}
        """node id -> (output name, first frame, image) from the latest run that produced it."""
        self.store: dict[str, dict[str, dict[int | None, np.ndarray]]] = {}
        """node id -> output -> frame (None: a static value) -> uint8 (B, H, W, C) batch."""
        self.node_id: str | None = None
        self.frame_count: int | None = None
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        self.output_box = QComboBox()
        self.output_box.setToolTip("which output of the node to show")
        self.index_box = QSpinBox()
        self.index_box.setToolTip("which image of the batch to show")
        self.index_box.setPrefix("image ")
        self.mode_box = QComboBox()
        self.mode_box.addItems(MODES)
        self.mode_box.setToolTip("RGB, alpha over a checkerboard, or the alpha/mask alone")
        self.zoom_box = QComboBox()
        self.zoom_box.addItems(ZOOMS)
        self.zoom_box.setToolTip("zoom (Ctrl+wheel over the picture)")
        self.picture = QLabel()
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.picture.setMinimumSize(120, 90)
        self.picture.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.scroll = QScrollArea()
        self.scroll.setWidget(self.picture)
        self.scroll.setWidgetResizable(True)
        self.scroll.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setToolTip("frame: drag to scrub the clip (only what the frame needs runs)")
        self.frame_box = QSpinBox()
        self.frame_box.setPrefix("frame ")
        self.frame_label = QLabel()
        self.strip = FrameStrip()
        self.strip.setToolTip("frames of this output already computed (green): shown at once")
        self.play_button = QToolButton()
        self.play_button.setText("▶")
        self.play_button.setCheckable(True)
        self.play_button.setToolTip(f"play the clip at {PLAY_FPS} fps (frames not computed yet are computed first)")
        self._play_timer = QTimer(self)
        self._play_timer.setInterval(1000 // PLAY_FPS)
        self._play_timer.timeout.connect(self._play_step)
        self.play_button.toggled.connect(self._toggle_play)
        self._shown: np.ndarray | None = None
        self._requested: int | None = None

        controls = QHBoxLayout()
        for w in (self.output_box, self.index_box, self.mode_box, self.zoom_box):
            controls.addWidget(w)
        controls.addStretch(1)
        track = QVBoxLayout()
        track.setSpacing(1)
        track.addWidget(self.slider)
        track.addWidget(self.strip)
        timeline = QHBoxLayout()
        timeline.addWidget(self.play_button)
        timeline.addLayout(track, 1)
        timeline.addWidget(self.frame_box)
        timeline.addWidget(self.frame_label)
        layout = QVBoxLayout(self)
        layout.addWidget(self.caption)
        layout.addLayout(controls)
        layout.addWidget(self.scroll, 1)
        layout.addLayout(timeline)

        self._request_timer = QTimer(self)
        self._request_timer.setSingleShot(True)
        self._request_timer.setInterval(120)  # dragging: ask for the frame the slider rests on
        self._request_timer.timeout.connect(self._request_frame)
        self.output_box.activated.connect(lambda _i: self._refresh())
        self.index_box.valueChanged.connect(lambda _v: self._refresh())
        self.mode_box.currentIndexChanged.connect(lambda _i: self._refresh())
        self.zoom_box.currentIndexChanged.connect(lambda _i: self._fit())
        self.slider.valueChanged.connect(self._slider_moved)
        self.frame_box.valueChanged.connect(self.slider.setValue)
        self.set_frame_count(None)
        self.show_node(None)

    # -- data ----------------------------------------------------------------------------------
    def clear(self) -> None:
        self.images.clear()
        self.store.clear()
        self.set_frame_count(None)
        self.show_node(self.node_id)

    def add(self, node_id: str, output: str, frame: int | None, image: QImage) -> None:
        self.images[node_id] = (output, frame, image)

    def add_outputs(self, node_id: str, outputs: dict[str, np.ndarray], frames: tuple[int, ...] | None) -> None:
        """Keep a batch a node produced (per frame for a clip) and show it if it is the viewed node."""
        per_output = self.store.setdefault(node_id, {})
        for name, arr in outputs.items():
            slots = per_output.setdefault(name, {})
            if frames is None:
                slots.clear()
                slots[None] = arr
            else:
                slots.pop(None, None)
                for i, f in enumerate(frames[:len(arr)]):
                    slots[f] = arr[i:i + 1]
                if len(slots) > MAX_FRAMES:
                    keep = sorted(slots, key=lambda k: abs((k or 0) - self.frame))[:MAX_FRAMES]
                    for k in set(slots) - set(keep):
                        del slots[k]
        if node_id == self.node_id:
            self.show_node(node_id)

    def forget(self, node_id: str) -> None:
        """Drop what was kept for a node whose params changed (stale frames are not shown)."""
        self.store.pop(node_id, None)
        self.images.pop(node_id, None)

    def rename(self, old: str, new: str) -> None:
        for table in (self.images, self.store):
            if old in table:
                table[new] = table.pop(old)
        if self.node_id == old:
            self.node_id = new
            self.show_node(new)

    def set_frame_count(self, count: int | None) -> None:
        """The clip's length (None: the graph is not time-varying); sets the slider's range."""
        self.frame_count = count
        on = count is not None and count > 0
        for w in (self.slider, self.frame_box):
            w.blockSignals(True)
            w.setRange(0, max(0, (count or 1) - 1))
            w.blockSignals(False)
            w.setEnabled(on)
        self.frame_label.setText(f"of {count}" if on else "still")
        self.play_button.setEnabled(on)
        if not on:
            self.play_button.setChecked(False)

    @property
    def frame(self) -> int:
        return self.slider.value()

    # -- showing -------------------------------------------------------------------------------
    def _slots(self) -> dict[int | None, np.ndarray] | None:
        per_output = self.store.get(self.node_id) if self.node_id else None
        if not per_output:
            return None
        name = self.output_box.currentText() or next(iter(per_output))
        return per_output.get(name)

    def show_node(self, node_id: str | None) -> None:
        self.node_id = node_id
        per_output = self.store.get(node_id) if node_id else None
        current = self.output_box.currentText()
        self.output_box.blockSignals(True)
        self.output_box.clear()
        names = list(per_output or {})
        self.output_box.addItems(names)
        if current in names:
            self.output_box.setCurrentText(current)
        self.output_box.blockSignals(False)
        self.output_box.setEnabled(len(names) > 1)
        self._refresh()

    def _refresh(self) -> None:
        node_id = self.node_id
        slots = self._slots()
        self.strip.set_frames(self.frame_count or 0, {f for f in (slots or {}) if f is not None})
        if not slots:
            self._shown = None
            self.picture.clear()
            self.index_box.setEnabled(False)
            self.caption.setText("Select a node, then Run, to see its output." if node_id is None
                                 else f"{node_id}: no Image/Mask output yet — run the graph (F5).")
            return
        frame = None if None in slots else self.frame
        batch = slots.get(frame)
        if batch is None:
            self._shown = None
            self.picture.clear()
            self.caption.setText(f"{node_id}: frame {frame} not computed yet — computing…")
            return
        self.index_box.blockSignals(True)
        self.index_box.setRange(0, len(batch) - 1)
        self.index_box.blockSignals(False)
        self.index_box.setEnabled(len(batch) > 1)
        index = min(self.index_box.value(), len(batch) - 1)
        arr = batch[index]
        self._shown = compose(arr, self.mode_box.currentText())
        name = self.output_box.currentText()
        where = f", frame {frame}" if frame is not None else ""
        of = f", image {index + 1} of {len(batch)}" if len(batch) > 1 else ""
        kind = "mask" if arr.shape[-1] == 1 else "RGBA" if arr.shape[-1] == 4 else "RGB"
        self.caption.setText(f"{node_id}.{name} ({arr.shape[1]}×{arr.shape[0]} {kind} preview{where}{of})")
        self._fit()

    def shown_array(self) -> np.ndarray | None:
        """The RGB picture shown now, before zoom (tests and screenshots)."""
        return self._shown

    def pixmap(self) -> QPixmap | None:
        """The pixmap shown now (None when there is nothing to show)."""
        return QPixmap.fromImage(to_qimage(self._shown)) if self._shown is not None else None

    def zoom_factor(self) -> float | None:
        """None for fit, else the chosen scale."""
        text = self.zoom_box.currentText()
        return None if text == "fit" else float(text.rstrip("%")) / 100

    def _fit(self) -> None:
        pix = self.pixmap()
        if pix is None:
            return
        factor = self.zoom_factor()
        if factor is None:
            self.scroll.setWidgetResizable(True)
            size = self.scroll.viewport().size()
            self.picture.setPixmap(pix.scaled(size, Qt.AspectRatioMode.KeepAspectRatio,
                                              Qt.TransformationMode.SmoothTransformation))
        else:
            self.scroll.setWidgetResizable(False)
            scaled = pix.scaled(max(1, round(pix.width() * factor)), max(1, round(pix.height() * factor)),
                                Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.FastTransformation)
            self.picture.setPixmap(scaled)
            self.picture.resize(scaled.size())

    # -- timeline ------------------------------------------------------------------------------
    def _slider_moved(self, value: int) -> None:
        self.frame_box.blockSignals(True)
        self.frame_box.setValue(value)
        self.frame_box.blockSignals(False)
        self._refresh()
        slots = self._slots()
        if self.node_id and (slots is None or (None not in slots and value not in slots)):
            self._request_timer.start()

    def _toggle_play(self, on: bool) -> None:
        self.play_button.setText("⏸" if on else "▶")
        if on:
            self._play_timer.start()
        else:
            self._play_timer.stop()

    def _play_step(self) -> None:
        """Next frame, looping; waits while the frame shown is still being computed."""
        if self._shown is None and self.node_id is not None:
            if self._requested != self.frame:  # not there yet: ask once, then wait for it
                self._request_frame()
            return
        count = self.frame_count or 1
        self.slider.setValue((self.slider.value() + 1) % count)

    def _request_frame(self) -> None:
        self._requested = self.slider.value()
        self.frame_requested.emit(self._requested)

    def wheelEvent(self, event: QWheelEvent) -> None:
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            step = 1 if event.angleDelta().y() > 0 else -1
            self.zoom_box.setCurrentIndex(max(0, min(len(ZOOMS) - 1, self.zoom_box.currentIndex() + step)))
            event.accept()
            return
        super().wheelEvent(event)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit()
