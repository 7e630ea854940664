"""Atomic writes, the one home for them: a temp file (or folder) beside the target, renamed onto it
only when complete, so a reader never sees half an output and a failure leaves the target as it was.

Everything that writes an output uses these: graph files, images, the file sinks (through
:class:`PendingFile` / :class:`PendingFolder`, which a sink keeps open across frame batches),
previews, saved models (:func:`atomic_dir`) and benchmark results.

Temp names are hidden and carry the writing process's id (``.clip.mp4.tmp-<pid>-<random>.mp4``),
so that a later run can tell the leftovers of a killed run (owner dead) from the work of a
run still going, and remove only the former (:func:`remove_stale_temps`).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from nodeflow.written import note_written

_UMASK = os.umask(0)
os.umask(_UMASK)
FILE_MODE = 0o666 & ~_UMASK
"""What ``open()`` would give a new file under the current umask."""

LEGACY_STALE_SECONDS = 24 * 3600
"""Temps named before names carried a pid are taken as stale once this old."""


def temp_prefix(name: str) -> str:
    """The hidden prefix of temps standing in for ``name``: ``.NAME.tmp-``."""
    return f".{name}.tmp-"


def make_temp_file(target: Path, suffix: str | None = None) -> Path:
    """A new empty hidden temp file beside ``target`` (same suffix, so format sniffing works)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f"{temp_prefix(target.name)}{os.getpid()}-",
                               suffix=target.suffix if suffix is None else suffix, dir=target.parent)
    os.close(fd)
    return Path(tmp)


def make_temp_dir(parent: Path, prefix: str) -> Path:
    """A new hidden temp folder ``parent/<prefix><pid>-<random>``."""
    parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=parent))


def _process_started(pid: int) -> float | None:
    """Start time (epoch seconds) of a running process, where the OS tells (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        ticks = int(fields[19])  # field 22 of stat: starttime in clock ticks after boot
        boot = next(float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime "))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def owner_gone(pid: int, mtime: float) -> bool:
    """True when process ``pid`` cannot be the one that last wrote a temp modified at ``mtime``:
    it is dead, or (pid reused) it started after that write."""
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # alive, another user's
    except OSError:
        return False
    started = _process_started(pid)
    return started is not None and started > mtime + 2.0


def is_stale(name: str, prefix: str, mtime: float) -> bool:
    """Whether the entry ``name`` is a temp of ``prefix``'s naming left by a run that is over."""
    if not name.startswith(prefix):
        return False
    rest = name[len(prefix):]
    pid, dash, _ = rest.partition("-")
    if dash and pid.isdigit():
        return owner_gone(int(pid), mtime)
    # written before temp names carried a pid: mkstemp's 8 random characters (no '-')
    return "-" not in rest and time.time() - mtime > LEGACY_STALE_SECONDS


def remove_stale_temps(folder: Path, prefix: str) -> list[Path]:
    """Remove the temps named ``<prefix><pid>-*`` in ``folder`` whose owning process is gone.

    Only entries of exactly this naming are touched (never a user's file), never through a
    symlink, and never those of a live run. Returns what was removed.
    """
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        try:
            if not entry.name.startswith(prefix):
                continue
            st = entry.stat(follow_symlinks=False)
            if not is_stale(entry.name, prefix, st.st_mtime):
                continue
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
            removed.append(Path(entry.path))
        except OSError:
            continue  # vanished meanwhile, or not ours to remove: leave it
    return removed


FOLDER_TEMP_PREFIX = ".nodeflow-tmp-"
"""Prefix of a :class:`PendingFolder`'s hidden temp folder inside the output folder."""


class PendingFile:
    """A temporary file beside ``target``, renamed onto it by :meth:`commit`.

    The temp name keeps the target's suffix (or ``suffix``: format-sniffing writers such as ffmpeg
    need it) and starts with a dot, so a half-written file is never mistaken for an output. Temps of
    this target left by a killed run (their process is gone) are removed first.
    """

    def __init__(self, target: str | os.PathLike[str], suffix: str | None = None, *, record: bool = False):
        self.target = Path(target)
        self.record = record  # note it in the folder's record of outputs (nodeflow.written)
        if self.target.parent.is_dir():
            remove_stale_temps(self.target.parent, temp_prefix(self.target.name))
        self.tmp = make_temp_file(self.target, suffix)

    def commit(self) -> Path:
        os.chmod(self.tmp, FILE_MODE)  # mkstemp makes files private; outputs get the usual mode
        if self.record:
            note_written([(self.tmp, self.target)])
        os.replace(self.tmp, self.target)
        return self.target

    def discard(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.tmp.unlink()


class PendingFolder:
    """A temporary folder inside ``folder`` collecting files renamed into it by :meth:`commit`.

    Such folders left by a killed run (their process is gone) are removed first.
    """

    def __init__(self, folder: Path, *, record: bool = False):
        self.folder = folder
        self.record = record  # as PendingFile's
        if folder.is_dir():
            remove_stale_temps(folder, FOLDER_TEMP_PREFIX)
        self.tmp = make_temp_dir(folder, FOLDER_TEMP_PREFIX)
        self.names: list[str] = []

    def path(self, name: str) -> Path:
        """Where to write the file that will become ``folder / name``."""
        self.names.append(name)
        return self.tmp / name

    def commit(self) -> list[Path]:
        done = []
        for name in self.names:
            os.chmod(self.tmp / name, FILE_MODE)
        if self.record:
            note_written([(self.tmp / name, self.folder / name) for name in self.names])
        for name in self.names:
            os.replace(self.tmp / name, self.folder / name)
            done.append(self.folder / name)
        shutil.rmtree(self.tmp, ignore_errors=True)
        return done

    def discard(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str], suffix: str | None = None, *,
                record: bool = False) -> Iterator[Path]:
    """Yield a temporary path in ``target``'s folder; rename it onto ``target`` on success.

    On any exception the temporary file is removed and ``target`` is left as it was. The
    temporary name keeps ``target``'s suffix (or ``suffix``) so format-sniffing writers work.
    ``record`` as :class:`PendingFile`'s.
    """
    pending = PendingFile(target, suffix, record=record)
    try:
        yield pending.tmp
        pending.commit()
    except BaseException:
        pending.discard()
        raise


@contextlib.contextmanager
def atomic_dir(target: str | os.PathLike[str], *, replace: bool = False) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``target``; it becomes ``target`` on success.

    With ``replace`` an existing ``target`` is removed just before the rename (it is never
    touched when the block fails); without, an existing non-empty ``target`` is an error.
    """
    target = Path(target)
    tmp = make_temp_dir(target.parent, temp_prefix(target.name))
    try:
        yield tmp
        if target.exists():
            if not replace and any(target.iterdir()):
                raise FileExistsError(f"{target} exists and is not empty")
            shutil.rmtree(target)
        tmp.rename(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_bytes_atomic(target: str | os.PathLike[str], data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(target: str | os.PathLike[str], text: str) -> None:
    write_bytes_atomic(target, text.encode("utf-8"))


def write_json_atomic(target: str | os.PathLike[str], data: Any, indent: int = 2) -> None:
    """``data`` as indented JSON (benchmark results, reports), written atomically."""
    write_text_atomic(target, json.dumps(data, indent=indent) + "\n")
