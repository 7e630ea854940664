"""Atomic writes, the one home for them: a temp file (or folder) beside the target, renamed onto it
only when complete, so a reader never sees half an output and a failure leaves the target as it was.

Everything that writes an output uses these: graph files, images, the file sinks (through
:class:`PendingFile` / :class:`PendingFolder`, which a sink keeps open across frame batches),
previews, saved models (:func:`atomic_dir`) and benchmark results.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

_UMASK = os.umask(0)
os.umask(_UMASK)
FILE_MODE = 0o666 & ~_UMASK
"""What ``open()`` would give a new file under the current umask."""


class PendingFile:
    """A temporary file beside ``target``, renamed onto it by :meth:`commit`.

    The temp name keeps the target's suffix (or ``suffix``: format-sniffing writers such as ffmpeg
    need it) and starts with a dot, so a half-written file is never mistaken for an output.
    """

    def __init__(self, target: str | os.PathLike[str], suffix: str | None = None):
        self.target = Path(target)
        self.target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.target.name}.tmp-", suffix=suffix or self.target.suffix,
                                   dir=self.target.parent)
        os.close(fd)
        self.tmp = Path(tmp)

    def commit(self) -> Path:
        os.chmod(self.tmp, FILE_MODE)  # mkstemp makes files private; outputs get the usual mode
        os.replace(self.tmp, self.target)
        return self.target

    def discard(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.tmp.unlink()


class PendingFolder:
    """A temporary folder inside ``folder`` collecting files renamed into it by :meth:`commit`."""

    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(prefix=".nodeflow-tmp-", dir=folder))
        self.names: list[str] = []

    def path(self, name: str) -> Path:
        """Where to write the file that will become ``folder / name``."""
        self.names.append(name)
        return self.tmp / name

    def commit(self) -> list[Path]:
        done = []
        for name in self.names:
            os.chmod(self.tmp / name, FILE_MODE)
            os.replace(self.tmp / name, self.folder / name)
            done.append(self.folder / name)
        shutil.rmtree(self.tmp, ignore_errors=True)
        return done

    def discard(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str], suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path in ``target``'s folder; rename it onto ``target`` on success.

    On any exception the temporary file is removed and ``target`` is left as it was. The
    temporary name keeps ``target``'s suffix (or ``suffix``) so format-sniffing writers work.
    """
    pending = PendingFile(target, suffix)
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
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
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
