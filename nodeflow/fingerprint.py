"""Content fingerprints of input files, for cache keys that survive a fresh clone.

Files up to 64 MiB are hashed whole; larger ones (long videos) by size plus three 4 MiB
samples (start, middle, end), which is what makes re-planning a long clip cheap. Folders and
patterns (``frame_%04d.png``, ``*.png``) hash the sorted list of their files' fingerprints.
Results are memoised per process by (path, size, mtime).
"""

from __future__ import annotations

import glob
import hashlib
import os
import re
import stat
from pathlib import Path

from nodeflow.errors import NodeflowError

FULL_HASH_LIMIT = 64 << 20
SAMPLE = 4 << 20
MAX_FILES = int(os.environ.get("NODEFLOW_MAX_INPUT_FILES", 100_000))
"""A folder or pattern naming more files than this is refused (``/`` would walk the whole
file system); set ``NODEFLOW_MAX_INPUT_FILES`` for a bigger data set."""

_memo: dict[tuple[str, int, int], str] = {}
_PRINTF = re.compile(r"%0?(\d*)d")


class InputFileError(NodeflowError):
    """An input path that names something nodeflow will not read (a device, FIFO, too many files)."""

    exit_code = 2


def is_pattern(path: str) -> bool:
    """A printf or glob pattern, unless a file or folder of exactly that name exists."""
    if os.path.lexists(path):
        return False
    return bool(_PRINTF.search(path)) or any(c in path for c in "*?[")


def printf_to_glob(pattern: str) -> str:
    """``frame_%04d.png`` -> ``frame_[0-9][0-9][0-9][0-9].png``; ``%d`` -> ``[0-9]*``.

    With a printf number the rest is literal (a folder ``take[2]`` is not a glob); without
    one, glob characters keep their meaning."""
    if not _PRINTF.search(pattern):
        return pattern
    parts = _PRINTF.split(pattern)  # literal, width, literal, width, ...
    out = []
    for i, part in enumerate(parts):
        out.append(glob.escape(part) if i % 2 == 0 else ("[0-9]" * int(part) if part else "[0-9]*"))
    return "".join(out)


def _is_regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except (OSError, ValueError):
        return False


def _too_many(path: Path) -> InputFileError:
    return InputFileError(f"{path} names more than {MAX_FILES} files; point it at the folder or pattern "
                          f"of the frames themselves (or raise NODEFLOW_MAX_INPUT_FILES)")


def _walk(folder: Path) -> list[Path]:
    """Regular, non-hidden files under ``folder``, at most :data:`MAX_FILES` (unreadable
    sub-folders are skipped, links to folders are not followed)."""
    found: list[Path] = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in names:
            p = Path(root, name)
            if not name.startswith(".") and _is_regular(p):
                found.append(p)
                if len(found) > MAX_FILES:
                    raise _too_many(folder)
    return sorted(found)


def expand(path: Path) -> list[Path]:
    """Regular files named by ``path``: itself, a folder's files (recursively), or a pattern's
    matches. A path that exists but is no regular file or folder (``/dev/zero``, a FIFO) is
    refused with :class:`InputFileError`: reading it could block or never end."""
    text = str(path)
    if is_pattern(text):
        found = []
        for p in glob.iglob(printf_to_glob(text)):
            if _is_regular(Path(p)):
                found.append(Path(p))
                if len(found) > MAX_FILES:
                    raise _too_many(path)
        return sorted(found)
    if path.is_dir():
        return _walk(path)
    if not path.exists():
        return []
    if not _is_regular(path):
        raise InputFileError(f"{path} is not a regular file (a device, FIFO or socket); "
                             f"nodeflow reads only regular files")
    return [path]


def file_fingerprint(path: Path) -> str:
    st = path.stat()
    if not stat.S_ISREG(st.st_mode):
        raise InputFileError(f"{path} is not a regular file (a device, FIFO or socket)")
    memo_key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    hit = _memo.get(memo_key)
    if hit is not None:
        return hit
    h = hashlib.blake2b(digest_size=16)
    h.update(str(st.st_size).encode())
    with path.open("rb") as f:
        if st.st_size <= FULL_HASH_LIMIT:
            left = st.st_size  # never more than stat said: a file that grows cannot keep us reading
            while left > 0:
                chunk = f.read(min(1 << 20, left))
                if not chunk:
                    break
                h.update(chunk)
                left -= len(chunk)
        else:
            for offset in (0, st.st_size // 2, max(0, st.st_size - SAMPLE)):
                f.seek(offset)
                h.update(f.read(SAMPLE))
    digest = h.hexdigest()
    _memo[memo_key] = digest
    return digest


def path_fingerprint(path: Path) -> str:
    """Fingerprint of a file, folder or pattern; 'missing' when nothing is there."""
    files = expand(path)
    if not files:
        return "missing"
    if len(files) == 1 and files[0] == path:
        return file_fingerprint(path)
    h = hashlib.blake2b(digest_size=16)
    root = path if path.is_dir() else Path(os.path.dirname(str(path)) or ".")
    for f in files:
        h.update(os.path.relpath(f, root).encode())
        h.update(file_fingerprint(f).encode())
    return h.hexdigest()
