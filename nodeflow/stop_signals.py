"""Ctrl-C and SIGTERM for the command line: stop cleanly, then at once, never with a traceback.

The first SIGINT or SIGTERM asks the running graph to stop at its next cancellation point
(sinks remove their temporary files); without a run yet it interrupts at once. A second one
interrupts at once (``KeyboardInterrupt``, which the executor still turns into a clean abort).
Any later one is ignored, so cleanup, the final message and the interpreter's exit cannot be
interrupted (after a stop signal the handlers stay in place, ignoring, until exit). The exit
status is ``128 + signal`` (130 for Ctrl-C, 143 for SIGTERM), as shells report it.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopSignals:
    """Handlers for :data:`STOP_SIGNALS` while the CLI runs (installed by :func:`stop_signals`)."""

    def __init__(self, notify: Callable[[str], None] | None = None) -> None:
        self.received: int | None = None
        """The first stop signal received, if any."""
        self.count = 0
        self.finished = False
        self._cancel: Callable[[], None] | None = None
        self._notify = notify

    def handle(self, signum: int, frame: FrameType | None) -> None:
        if self.finished:
            return  # the command is over and the process exiting: nothing left to stop
        self.count += 1
        if self.count == 1:
            self.received = signum
            if self._cancel is not None:
                if self._notify is not None:
                    self._notify(f"cancelling ({signal.Signals(signum).name})… "
                                 "(Ctrl-C again to interrupt at once)")
                self._cancel()
                return
            raise KeyboardInterrupt
        if self.count == 2:
            raise KeyboardInterrupt
        # a third or later: cleanup is under way; let it finish

    @contextlib.contextmanager
    def cancelling(self, cancel: Callable[[], None], notify: Callable[[str], None] | None = None
                   ) -> Iterator[None]:
        """While inside, the first stop signal calls ``cancel`` instead of interrupting."""
        self._cancel, previous_notify = cancel, self._notify
        if notify is not None:
            self._notify = notify
        try:
            yield
        finally:
            self._cancel, self._notify = None, previous_notify

    def exit_code(self, code: int) -> int:
        """``code``, with a cancelled run's 130 turned into ``128 + signal`` of the stop signal."""
        if code == 130 and self.received is not None:
            return 128 + self.received
        return code


_active: StopSignals | None = None


def active() -> StopSignals | None:
    """The handlers installed by the innermost :func:`stop_signals`, if any."""
    return _active


@contextlib.contextmanager
def stop_signals() -> Iterator[StopSignals]:
    """Install :class:`StopSignals` for SIGINT and SIGTERM (main thread only) and restore after."""
    global _active
    stop = StopSignals()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous: dict[int, Any] = {s: signal.getsignal(s) for s in STOP_SIGNALS}
    outer, _active = _active, stop
    for s in STOP_SIGNALS:
        signal.signal(s, stop.handle)
    try:
        yield stop
    finally:
        _active = outer
        if stop.received is None:
            for s, handler in previous.items():
                signal.signal(s, handler)
        else:
            # Stopped by a signal, the process is on its way out: more Ctrl-Cs arriving during
            # interpreter shutdown would print tracebacks from atexit hooks or kill it with -2
            # (Python resets its own handlers to the default while finalizing, not SIG_IGN).
            stop.finished = True
            for s in STOP_SIGNALS:
                signal.signal(s, signal.SIG_IGN)
