"""Frame ranges, the one home for them: ``--frames`` text, the editor's frames field, the executor.

``"0:48"`` / ``"7"`` / ``"5:"`` / ``"0:48:2"`` parse to ``(start, stop | None, step)``;
:func:`resolve_frames` turns that into the run's frame indices for a plan with ``frame_count``
frames; :func:`check_frames` is what an executor accepts.
"""

from __future__ import annotations

from collections.abc import Iterable

from nodeflow.errors import NodeflowError

FrameRange = tuple[int, int | None, int]


class FrameRangeError(NodeflowError):
    """A frame range that does not parse or does not fit the sources (a usage error: exit 2)."""

    exit_code = 2


def parse_frames(text: str | None, option: str = "--frames") -> FrameRange | None:
    """``"0:48"`` -> (0, 48, 1); ``"10"`` -> (10, 11, 1); ``"5:"`` -> (5, None, 1); ``"0:48:2"``."""
    if text is None:
        return None
    parts = text.split(":")
    try:
        if len(parts) == 1:
            f = int(parts[0])
            return (f, f + 1, 1)
        if len(parts) in (2, 3):
            start = int(parts[0]) if parts[0] else 0
            stop = int(parts[1]) if parts[1] else None
            step = int(parts[2]) if len(parts) == 3 and parts[2] else 1
            if step <= 0 or start < 0 or (stop is not None and stop <= start):
                raise ValueError
            return (start, stop, step)
    except ValueError:
        pass
    raise FrameRangeError(f"{option} {text!r}: expected N, START:STOP or START:STOP:STEP (e.g. 0:48)")


def resolve_frames(frames: FrameRange, frame_count: int, *, clamp: bool = False,
                   text: str | None = None) -> range:
    """The run frames of ``frames`` for sources giving ``frame_count`` frames.

    A stop past the end is an error (naming ``--frames text``), or with ``clamp`` (the editor's
    field) cut to the end.
    """
    start, stop, step = frames
    if text is None:  # the range as the user typed it, for messages
        text = f"{start}:{stop}" if stop is not None else f"{start}:"
    stop = frame_count if stop is None else stop
    if clamp:
        stop = min(stop, frame_count)
        if start >= stop:
            raise FrameRangeError(f"frames {text}: the sources provide frames 0..{frame_count - 1}")
    elif stop > frame_count:
        raise FrameRangeError(f"--frames {text}: the sources provide {frame_count} frames (0:{frame_count})")
    return range(start, stop, step)


def check_frames(frames: Iterable[int] | None, frame_count: int | None) -> list[int] | None:
    """The frame list an executor runs: all of them by default; each asked-for frame must exist."""
    if frame_count is None:
        return None
    if frames is None:
        return list(range(frame_count))
    chosen = list(frames)
    bad = [f for f in chosen if not 0 <= f < frame_count]
    if bad:
        raise NodeflowError(f"--frames asks for frame {bad[0]}, but the sources provide frames "
                            f"0..{frame_count - 1}")
    return chosen
