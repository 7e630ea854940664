"""Progress bars: the run (frames, or nodes when nothing is time-varying) and the current node."""

from __future__ import annotations

from PyQt6.QtWidgets import QHBoxLayout, QProgressBar, QWidget

from nodeflow.events import (
    Event,
    FramesDone,
    NodeFinished,
    NodeProgress,
    NodeStarted,
    RunFinished,
    RunStarted,
)

STEPS = 1000


class ProgressPanel(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.run_bar = QProgressBar()
        self.run_bar.setMinimumWidth(160)
        self.node_bar = QProgressBar()
        self.node_bar.setMinimumWidth(220)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.run_bar)
        layout.addWidget(self.node_bar)
        self._frames: int | None = None
        self._done_nodes: set[str] = set()
        self.idle()

    def idle(self, text: str = "idle") -> None:
        for bar in (self.run_bar, self.node_bar):
            bar.setRange(0, 1)
            bar.setValue(0)
        self.run_bar.setFormat(text)
        self.node_bar.setFormat("")

    def starting(self) -> None:
        self.run_bar.setRange(0, 0)  # busy until the plan is made
        self.run_bar.setFormat("planning")
        self.node_bar.setRange(0, 1)
        self.node_bar.setValue(0)
        self.node_bar.setFormat("")

    def finished(self, status: str) -> None:
        self.run_bar.setRange(0, 1)
        self.run_bar.setValue(1 if status == "ok" else 0)
        self.run_bar.setFormat(status)
        self.node_bar.setRange(0, 1)
        self.node_bar.setValue(0)
        self.node_bar.setFormat("")

    def handle_event(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self._frames = event.frame_count
            self._done_nodes.clear()
            if event.frame_count is not None:
                self.run_bar.setRange(0, event.frame_count)
                self.run_bar.setFormat("frames %v/%m")
            else:
                self.run_bar.setRange(0, max(1, len(event.node_ids)))
                self.run_bar.setFormat("nodes %v/%m")
            self.run_bar.setValue(0)
        elif isinstance(event, FramesDone):
            self.run_bar.setRange(0, event.total)
            self.run_bar.setValue(event.done)
        elif isinstance(event, NodeStarted):
            self.node_bar.setRange(0, 0)  # busy until it reports progress
            self.node_bar.setFormat(f"{event.node_id} ({event.node_type})")
        elif isinstance(event, NodeProgress):
            frac = event.done / event.total if event.total else 0.0
            self.node_bar.setRange(0, STEPS)
            self.node_bar.setValue(int(max(0.0, min(1.0, frac)) * STEPS))
            msg = f" {event.message}" if event.message else ""
            self.node_bar.setFormat(f"{event.node_id}:{msg} {event.done:g}/{event.total:g}")
        elif isinstance(event, NodeFinished):
            self.node_bar.setRange(0, 1)
            self.node_bar.setValue(1)
            self._done_nodes.add(event.node_id)
            if self._frames is None:
                self.run_bar.setValue(len(self._done_nodes))
        elif isinstance(event, RunFinished):
            self.finished(event.status)
