"""The log panel: why each node ran or was reused, errors and validation problems."""

from __future__ import annotations

import html
from collections.abc import Iterable

from PyQt6.QtGui import QFont
from PyQt6.QtWidgets import QPlainTextEdit, QWidget

from nodeflow.errors import Problem
from nodeflow.events import Event, LogMessage, NodeFinished, NodeStarted, RunFinished, RunStarted

COLORS = {"info": None, "run": "#8fc98f", "reuse": "#8fa8c9", "warning": "#e0b050", "error": "#e05a5a"}


class LogPanel(QPlainTextEdit):
    """Read-only log; ``entries`` keeps (level, text) for tests and copying."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setReadOnly(True)
        self.setMaximumBlockCount(5000)
        self.setFont(QFont("monospace"))
        self.entries: list[tuple[str, str]] = []
        self._ran: set[str] = set()
        self._reused: set[str] = set()

    def write(self, text: str, level: str = "info") -> None:
        self.entries.append((level, text))
        color = COLORS.get(level)
        body = html.escape(text)
        style = f"white-space:pre; color:{color}" if color else "white-space:pre"
        self.appendHtml(f'<span style="{style}">{body}</span>')

    def problems(self, header: str, problems: Iterable[Problem | str]) -> None:
        self.write(header, "error")
        for p in problems:
            self.write(f"  - {p}", "error")

    def texts(self, level: str | None = None) -> list[str]:
        return [t for lv, t in self.entries if level is None or lv == level]

    def handle_event(self, event: Event) -> None:
        """Log one engine event (one line per node per run, not per frame batch)."""
        if isinstance(event, RunStarted):
            self._ran.clear()
            self._reused.clear()
            frames = f", {event.frame_count} frames" if event.frame_count is not None else ""
            self.write(f"run: {len(event.node_ids)} nodes{frames}")
        elif isinstance(event, NodeStarted) and event.node_id not in self._ran:
            self._ran.add(event.node_id)
            self.write(f"ran    {event.node_id} ({event.node_type}): {event.reason}", "run")
        elif isinstance(event, NodeFinished) and event.cached and event.node_id not in self._reused \
                and event.node_id not in self._ran:
            self._reused.add(event.node_id)
            self.write(f"reused {event.node_id} ({event.node_type}): cached ({event.cached})", "reuse")
        elif isinstance(event, LogMessage):
            where = f"{event.node_id}: " if event.node_id else ""
            level = event.level.lower()
            self.write(f"{where}{event.message}", "error" if level in ("error", "critical")
                       else "warning" if level.startswith("warn") else "info")
        elif isinstance(event, RunFinished):
            self.write(f"{event.status} in {event.seconds:.2f} s: {len(self._ran)} ran, "
                       f"{len(self._reused)} reused", "info" if event.status == "ok" else "warning")
