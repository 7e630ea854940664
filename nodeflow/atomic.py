"""Atomic file writes: a temp file beside the target, renamed over it only when complete.

Temp names are hidden and carry the writing process's id (``.clip.mp4.tmp-<pid>-<random>.mp4``),
so that a later run can tell the leftovers of a killed run (owner dead) from the work of a
run still going, and remove only the former (:func:`remove_stale_temps`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

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


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str], suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path in ``target``'s folder; rename it onto ``target`` on success.

    On any exception the temporary file is removed and ``target`` is left as it was. The
    temporary name keeps ``target``'s suffix (or ``suffix``) so format-sniffing writers work.
    """
    target = Path(target)
    tmp_path = make_temp_file(target, suffix)
    try:
        yield tmp_path
        os.chmod(tmp_path, FILE_MODE)  # mkstemp makes files private; outputs get the usual mode
        os.replace(tmp_path, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def write_bytes_atomic(target: str | os.PathLike[str], data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(target: str | os.PathLike[str], text: str) -> None:
    write_bytes_atomic(target, text.encode("utf-8"))
