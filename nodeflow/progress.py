"""Terminal rendering of run events: live bars with rate and ETA, a run log, a summary table."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from nodeflow.events import (
    Event,
    FramesDone,
    LogMessage,
    NodeFinished,
    NodeProgress,
    NodeStarted,
    RunFinished,
    RunStarted,
)


class ConsoleReporter:
    """Listener that draws progress on stderr. Use as a context manager around the run."""

    def __init__(self, console: Console | None = None, verbose: bool = False):
        self.console = console or Console(stderr=True)
        self.verbose = verbose
        self.progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), TextColumn("{task.fields[msg]}"),
            console=self.console, transient=True,
        )
        self._frames: TaskID | None = None
        self._node_tasks: dict[str, TaskID] = {}
        self._logged: set[str] = set()
        self.finished: RunFinished | None = None

    def __enter__(self) -> ConsoleReporter:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def _rate(self, task_id: TaskID, unit: str) -> str:
        speed = self.progress.tasks[self._index(task_id)].speed
        return f"{speed:.2f} {unit}/s" if speed else ""

    def _index(self, task_id: TaskID) -> int:
        return next(i for i, t in enumerate(self.progress.tasks) if t.id == task_id)

    def __call__(self, event: Event) -> None:
        if isinstance(event, RunStarted) and event.frame_count:
            self._frames = self.progress.add_task("frames", total=event.frame_count, rate="", msg="")
        elif isinstance(event, FramesDone) and self._frames is not None:
            self.progress.update(self._frames, completed=event.done)
            self.progress.update(self._frames, rate=self._rate(self._frames, "frames"))
        elif isinstance(event, NodeStarted):
            if self.verbose or event.node_id not in self._logged:
                self._logged.add(event.node_id)
                frames = f" [frames {event.frames[0]}..]" if event.frames and self.verbose else ""
                self.console.print(f"[cyan]run[/]    {event.node_id} ({event.node_type}): {event.reason}{frames}")
        elif isinstance(event, NodeProgress):
            task = self._node_tasks.get(event.node_id)
            if task is None:
                task = self.progress.add_task(event.node_id, total=event.total, rate="", msg="")
                self._node_tasks[event.node_id] = task
            self.progress.update(task, completed=event.done, total=event.total, msg=event.message[:60])
            self.progress.update(task, rate=self._rate(task, "it"))
        elif isinstance(event, NodeFinished):
            task = self._node_tasks.pop(event.node_id, None)
            if task is not None:
                self.progress.remove_task(task)
            if event.cached and (self.verbose or event.node_id not in self._logged):
                self._logged.add(event.node_id)
                self.console.print(f"[green]reuse[/]  {event.node_id} ({event.node_type}): cached ({event.cached})")
        elif isinstance(event, LogMessage):
            if self.verbose or event.level in ("warning", "error"):
                self.console.print(f"[dim]{event.node_id or '-'}[/] {event.level}: {event.message}")
        elif isinstance(event, RunFinished):
            self.finished = event

    def summary(self) -> Table:
        table = Table(title="run summary", show_lines=False)
        for col in ("node", "type", "runs", "cache hits", "seconds"):
            table.add_column(col, justify="right" if col in ("runs", "cache hits", "seconds") else "left")
        if self.finished is not None:
            for nid, st in self.finished.stats.items():
                table.add_row(nid, st.node_type, str(st.runs), str(st.cache_hits), f"{st.seconds:.2f}")
            table.caption = f"{self.finished.status} in {self.finished.seconds:.2f} s"
        return table
