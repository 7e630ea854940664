"""Image sequences on disk: ``frame_%04d.png`` patterns, globs and folders.

A printf pattern names frames by number (``%d``, ``%04d``; only in the file name), so a
missing number in the requested range is detectable and reported by name. Folders and globs
give files in natural order (``f2`` before ``f10``).
"""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass
from pathlib import Path

from nodeflow.errors import NodeError
from nodeflow.image_files import READ_SUFFIXES

from .frames import natural_key, select

PRINTF = re.compile(r"%(0?)(\d*)d")


@dataclass(frozen=True)
class Pattern:
    """A parsed ``dir/prefix%0Nd suffix`` file-name pattern."""

    folder: Path
    prefix: str
    width: int
    """Zero-padding width (0 = none)."""
    suffix: str

    def name(self, number: int) -> str:
        return f"{self.prefix}{number:0{self.width}d}{self.suffix}" if self.width else \
            f"{self.prefix}{number}{self.suffix}"

    def path(self, number: int) -> Path:
        return self.folder / self.name(number)

    def number(self, name: str) -> int | None:
        """The frame number a file name stands for, or None when it does not match."""
        m = re.fullmatch(re.escape(self.prefix) + r"(\d+)" + re.escape(self.suffix), name)
        if not m:
            return None
        n = int(m.group(1))
        return n if self.name(n) == name else None

    def existing(self) -> dict[int, Path]:
        """Frame number -> file for every matching file (any number of digits)."""
        found: dict[int, Path] = {}
        for p in glob.glob(glob.escape(str(self.folder)) + os.sep + glob.escape(self.prefix) + "*"
                           + glob.escape(self.suffix)):
            n = self.number(Path(p).name)
            if n is not None:
                found[n] = Path(p)
        return found


def parse_pattern(path: Path) -> Pattern | None:
    """The :class:`Pattern` in ``path``'s file name, None when it has no ``%d``; only one allowed."""
    tokens = list(PRINTF.finditer(path.name))
    if not tokens:
        if PRINTF.search(str(path.parent)):
            raise NodeError(f"the frame number pattern must be in the file name: {path}", field="path")
        return None
    if len(tokens) > 1:
        raise NodeError(f"more than one %d in {path.name}", field="path", hint="use one, e.g. frame_%04d.png")
    m = tokens[0]
    width = int(m.group(2)) if m.group(2) else 0
    return Pattern(path.parent, path.name[:m.start()], width, path.name[m.end():])


def _first_gap(present: list[int], numbers: range) -> int:
    """The first number of ``numbers`` missing from the sorted ``present`` (a subset of it)."""
    for i, n in enumerate(present):
        if n != numbers[i]:
            return numbers[i]
    return numbers[len(present)]


def sequence_files(path: Path, first: int | None, last: int | None, step: int) -> list[Path]:
    """The files of a sequence, in frame order, restricted to ``first..last`` by ``step``.

    For a pattern, ``first``/``last`` are frame numbers (default: lowest/highest present) and a
    missing one is an error naming the file; for a folder or glob they are 0-based positions.
    """
    pattern = parse_pattern(path)
    if pattern is not None:
        found = pattern.existing()
        if not found:
            raise NodeError(f"no file matches {path}", field="path",
                            hint="check the folder and the pattern, e.g. frame_%04d.png")
        lo = min(found) if first is None else first
        hi = max(found) if last is None else last
        numbers = range(lo, hi + 1, step)
        if not numbers:
            raise NodeError(f"the range first={first}, last={last} selects no frame", field="first")
        # Count from the files present: a last of 10**9 must not walk a billion numbers.
        present = sorted(n for n in found if lo <= n <= hi and (n - lo) % step == 0)
        if len(present) < len(numbers):
            first_missing = _first_gap(present, numbers)
            more = len(numbers) - len(present) - 1
            tail = f" and {more} more" if more else ""
            hint = (f"the last frame present is {max(found)}; set last to at most that"
                    if hi > max(found) else "restore the file, or set first/last to a range without gaps")
            raise NodeError(f"missing frame {first_missing}: {pattern.path(first_missing)}{tail}", field="path",
                            hint=hint)
        return [found[n] for n in numbers]
    if not path.exists() and any(c in str(path) for c in "*?["):
        files = [Path(p) for p in glob.glob(str(path)) if Path(p).is_file()]
    elif path.is_dir():
        files = [p for p in path.iterdir()
                 if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in READ_SUFFIXES]
    else:
        raise NodeError(f"not a folder, pattern or glob: {path}", field="path",
                        hint="use a folder, frame_%04d.png or *.png (LoadImage reads one file)")
    if not files:
        raise NodeError(f"no image files in {path}", field="path")
    files.sort(key=natural_key)
    chosen = [files[i] for i in select(len(files), first or 0, last, step)]
    if not chosen:
        raise NodeError(f"the range first={first}, last={last} selects none of the {len(files)} files",
                        field="first")
    return chosen
