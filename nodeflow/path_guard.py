"""Where a graph may write: never onto, into or over what it reads.

An input is a file, a folder (every file below it) or a pattern (``frame_%04d.png``, ``*.png``).
An output is a file, a folder (training previews) or a pattern (an image sequence). A write is
refused when it would replace an input file -- found by resolved path (symlinks) and by
``(st_dev, st_ino)`` (hard links) -- or would add files to a folder input or to the names an
input pattern matches (the next run would read them as input).
"""

from __future__ import annotations

import fnmatch
import functools
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from nodeflow.fingerprint import expand, is_pattern, printf_to_glob

SAMPLE_NUMBERS = (0, 1, 2, 10, 99, 100, 1000, 12345)
"""Frame numbers tried when asking whether an output pattern's names meet an input pattern."""


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except (OSError, ValueError):
        return None
    return (st.st_dev, st.st_ino)


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def pattern_glob(path: Path) -> tuple[Path, str]:
    """(resolved folder, glob of file names) of a printf or glob pattern."""
    return path.parent.resolve(), printf_to_glob(path.name)


def pattern_samples(path: Path) -> list[str]:
    """A few file names a printf output pattern produces (its name itself for a plain glob)."""
    name = path.name
    try:
        return [name % n for n in SAMPLE_NUMBERS] if "%" in name else [name]
    except (TypeError, ValueError):
        return [name]


@dataclass
class InputGuard:
    """What a graph reads, resolved once; :meth:`clash` says why a write would touch it."""

    files: dict[Path, Path] = field(default_factory=dict)
    """resolved input file -> the input it belongs to (as given)."""
    identities: dict[tuple[int, int], Path] = field(default_factory=dict)
    folders: dict[Path, Path] = field(default_factory=dict)
    """resolved folder input -> as given."""
    patterns: list[tuple[Path, str, Path]] = field(default_factory=list)
    """(resolved folder, name glob, as given) of pattern inputs."""
    holders: dict[Path, Path] = field(default_factory=dict)
    """every folder above an input file -> the input it belongs to."""

    @classmethod
    def of(cls, inputs: Iterable[Path]) -> InputGuard:
        guard = cls()
        for given in inputs:
            given = Path(given)
            try:
                if is_pattern(str(given)):
                    folder, glob = pattern_glob(given)
                    guard.patterns.append((folder, glob, given))
                elif given.is_dir():
                    guard.folders[given.resolve()] = given
                files = expand(given)
            except (OSError, ValueError, RuntimeError):
                continue  # unreadable inputs are reported by validation
            for f in files:
                resolved = f.resolve()
                guard.files[resolved] = given
                for parent in resolved.parents:
                    guard.holders.setdefault(parent, given)
                ident = _identity(f)
                if ident is not None:
                    guard.identities[ident] = given
        return guard

    def clash(self, path: Path, *, pattern: bool | None = None) -> str | None:
        """Why writing ``path`` (a file, a folder, or a pattern) would touch an input; None if safe."""
        path = Path(path)
        if pattern is None:
            pattern = is_pattern(str(path))
        if pattern:
            return self._pattern_clash(path)
        try:
            resolved = path.resolve()
        except (OSError, RuntimeError, ValueError):
            return None
        if resolved in self.files:
            return f"it is also an input file of this graph ({self.files[resolved]})"
        ident = _identity(path)
        if ident is not None and ident in self.identities and not path.is_dir():
            return f"it is a hard link to an input file of this graph ({self.identities[ident]})"
        if resolved in self.holders:
            return f"it is a folder holding input files of this graph ({self.holders[resolved]})"
        for folder, given in self.folders.items():
            if _inside(resolved, folder):
                return f"it lies inside the input folder {given} of this graph"
        for folder, glob, given in self.patterns:
            if resolved.parent == folder and fnmatch.fnmatchcase(resolved.name, glob):
                return f"its name matches the input pattern {given} of this graph"
        return None

    def _pattern_clash(self, path: Path) -> str | None:
        try:
            folder, glob = pattern_glob(path)
        except (OSError, RuntimeError, ValueError):
            return None
        for f, given in self.files.items():
            if f.parent == folder and fnmatch.fnmatchcase(f.name, glob):
                return f"its files would replace input files of this graph ({given})"
        for in_folder, given in self.folders.items():
            if _inside(folder, in_folder):
                return f"it lies inside the input folder {given} of this graph"
        samples = pattern_samples(path)
        for in_folder, in_glob, given in self.patterns:
            if in_folder == folder and any(fnmatch.fnmatchcase(s, in_glob) for s in samples):
                return f"its file names match the input pattern {given} of this graph"
        for f in (folder / s for s in samples):
            ident = _identity(f)
            if ident is not None and ident in self.identities:
                return f"{f.name} is a hard link to an input file of this graph ({self.identities[ident]})"
        return None


@functools.lru_cache(maxsize=8)
def guard_for(inputs: frozenset[Path]) -> InputGuard:
    """The guard of a run's input files (built once per run: sinks ask for every frame)."""
    return InputGuard.of(sorted(inputs))


def outputs_overlap(a: Path, b: Path) -> bool:
    """Whether two output paths (files or patterns) can name the same file."""
    pa, pb = is_pattern(str(a)), is_pattern(str(b))
    try:
        if not pa and not pb:
            return a.resolve() == b.resolve() or os.path.samefile(a, b)
        if pa and pb:
            fa, ga = pattern_glob(a)
            fb, gb = pattern_glob(b)
            return fa == fb and (any(fnmatch.fnmatchcase(s, gb) for s in pattern_samples(a))
                                 or any(fnmatch.fnmatchcase(s, ga) for s in pattern_samples(b)))
        file, pat = (b, a) if pa else (a, b)
        folder, glob = pattern_glob(pat)
        resolved = file.resolve()
        return resolved.parent == folder and fnmatch.fnmatchcase(resolved.name, glob)
    except (OSError, RuntimeError, ValueError):
        return False
