"""Which files nodeflow wrote: the one record that ``overwrite`` consults.

A sink's ``overwrite`` (and ``--preview``) replaces only a file nodeflow itself wrote there, never
a user's file that happens to sit at the output path. For each output folder nodeflow keeps a
record outside it, in the user state folder (``$NODEFLOW_STATE_DIR`` or e.g.
``~/.local/state/nodeflow``, ``written/<hash of the folder's path>.jsonl``), so output folders hold
only outputs: one JSON line per file written, its name and its identity (device, inode, size,
modification time in ns). A file matches while it is the very file written -- edited, replaced,
moved or re-created by anything else, it no longer matches and is the user's.

The line is appended *before* the temp file is renamed onto its name (rename keeps the identity),
so a kill between the two leaves a line that matches nothing, never a written file without its
line. Appends are single ``write`` calls on an ``O_APPEND`` file; a reader takes whole lines only.
A record grown to several times its live files is rewritten with the live ones (atomically).
Whatever goes wrong reading it (missing, garbled, unreadable) means "not written by nodeflow":
the safe answer.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import stat
import tempfile
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from platformdirs import user_state_dir

_log = logging.getLogger("nodeflow.written")

COMPACT_FACTOR = 4
"""Rewrite a record once it holds this many times more lines than live files (plus a slack)."""
COMPACT_SLACK = 256

Identity = tuple[int, int, int, int]
"""(st_dev, st_ino, st_size, st_mtime_ns) of a file, not following symlinks."""


def state_dir() -> Path:
    """``$NODEFLOW_STATE_DIR`` or the user state folder (e.g. ``~/.local/state/nodeflow``)."""
    env = os.environ.get("NODEFLOW_STATE_DIR")
    return Path(env) if env else Path(user_state_dir("nodeflow"))


def record_path(folder: Path) -> Path:
    """Where the record of ``folder`` (an absolute path) lives."""
    return state_dir() / "written" / f"{hashlib.sha256(os.fsencode(folder)).hexdigest()[:32]}.jsonl"


def identity(path: Path) -> Identity | None:
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


@dataclass
class _Record:
    """What one folder's record said, read up to ``offset`` (whole lines only)."""

    file_id: tuple[int, int] | None = None
    offset: int = 0
    lines: int = 0
    entries: dict[str, set[Identity]] = field(default_factory=dict)


_records: dict[Path, _Record] = {}
"""Record file -> what was read of it (keyed by the record, so a changed state folder reads anew)."""
_lock = threading.Lock()


def _read(folder: Path) -> _Record:
    """The folder's record, reading only what was appended since the last look."""
    path = record_path(folder)
    rec = _records.get(path) or _Record()
    try:
        st = os.stat(path)
    except OSError:
        _records[path] = _Record()
        return _records[path]
    if rec.file_id != (st.st_dev, st.st_ino) or st.st_size < rec.offset:  # new or rewritten: from the start
        rec = _Record(file_id=(st.st_dev, st.st_ino))
    if st.st_size > rec.offset:
        try:
            with open(path, "rb") as f:
                f.seek(rec.offset)
                chunk = f.read(st.st_size - rec.offset)
        except OSError:
            chunk = b""
        whole = chunk[:chunk.rfind(b"\n") + 1]  # a line still being appended waits for the next look
        rec.offset += len(whole)
        for line in whole.splitlines():
            rec.lines += 1
            try:
                item = json.loads(line)
                ident = (int(item["dev"]), int(item["ino"]), int(item["size"]), int(item["mtime_ns"]))
                rec.entries.setdefault(str(item["name"]), set()).add(ident)
            except (ValueError, KeyError, TypeError):
                continue  # a garbled line vouches for nothing
    _records[path] = rec
    return rec


def _where(path: str | os.PathLike[str]) -> Path:
    """``path`` with its folder's real path (one record per folder, however it is reached; the file
    itself is never followed)."""
    path = Path(os.path.abspath(path))
    return Path(os.path.realpath(path.parent)) / path.name


def written_by_nodeflow(path: str | os.PathLike[str]) -> bool:
    """Whether the file at ``path`` is one nodeflow wrote there and nothing changed since."""
    path = _where(path)
    ident = identity(path)
    if ident is None:
        return False
    with _lock:
        return ident in _read(path.parent).entries.get(path.name, set())


def foreign_problem(path: str | os.PathLike[str]) -> tuple[str, str]:
    """The message and hint that refuse a :func:`foreign_file` (validation and sinks say the same)."""
    return (f"{path} already exists and nodeflow did not write it (or it changed since)",
            "nodeflow replaces only its own earlier outputs: move the file away or choose another path")


def foreign_file(path: str | os.PathLike[str]) -> bool:
    """A file (or a link, even a broken one) at ``path`` that nodeflow did not write: never to be
    replaced. A folder is not a file (whoever writes there says what it makes of one)."""
    return os.path.lexists(path) and not os.path.isdir(path) and not written_by_nodeflow(path)


def _line(name: str, ident: Identity) -> bytes:
    """One record line (what :func:`_read` parses)."""
    dev, ino, size, mtime_ns = ident
    return json.dumps({"name": name, "dev": dev, "ino": ino, "size": size, "mtime_ns": mtime_ns}).encode() + b"\n"


def note_written(files: Iterable[tuple[Path, Path]]) -> None:
    """Record ``(temp, target)`` pairs just before each temp is renamed onto its target.

    The identity is the temp's (a rename keeps it); the name is the target's. All targets of one
    call must share a folder (a sink's file, or one batch of a sequence).
    """
    lines: list[bytes] = []
    folder: Path | None = None
    for tmp, target in files:
        target = _where(target)
        if folder is None:
            folder = target.parent
        elif target.parent != folder:
            raise ValueError(f"note_written: {target} is not in {folder}")
        ident = identity(tmp)
        if ident is None:
            continue
        lines.append(_line(target.name, ident))
    if folder is None or not lines:
        return
    with _lock:
        try:
            rec = _read(folder)
            if rec.lines > COMPACT_FACTOR * len(rec.entries) + COMPACT_SLACK:
                _compact(folder, rec)  # before appending: this call's targets are not renamed yet
            path = record_path(folder)
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, b"".join(lines))
            finally:
                os.close(fd)
        except OSError as exc:  # an unwritable state folder must not stop the output itself
            _log.warning("could not note %s in %s (%s): a later run will not overwrite it",
                         ", ".join(json.loads(line)["name"] for line in lines), state_dir(), exc)


def _compact(folder: Path, rec: _Record) -> None:
    """Rewrite the record with the entries that still match a file (a line per live file).

    A temp file renamed onto the record (this module sits below ``nodeflow.atomic``, which uses it)."""
    live = []
    for name, idents in rec.entries.items():
        ident = identity(folder / name)
        if ident in idents:
            live.append(_line(name, ident))
    path = record_path(folder)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-{os.getpid()}-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(b"".join(live))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _records.pop(path, None)


def note_existing_files(paths: Iterable[Path]) -> None:
    """Record the regular files (not links, not folders) now at ``paths``, one call per folder:
    what a node wrote at its output paths without a recorded write of its own."""
    by_folder: dict[Path, list[tuple[Path, Path]]] = {}
    for path in paths:
        path = _where(path)
        try:
            if not stat.S_ISREG(os.lstat(path).st_mode):
                continue
        except OSError:
            continue
        by_folder.setdefault(path.parent, []).append((path, path))
    for files in by_folder.values():
        note_written(f for f in files if not written_by_nodeflow(f[1]))
