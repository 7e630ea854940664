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
from pathlib import Path

FULL_HASH_LIMIT = 64 << 20
SAMPLE = 4 << 20

_memo: dict[tuple[str, int, int], str] = {}
_PRINTF = re.compile(r"%0?(\d*)d")


def is_pattern(path: str) -> bool:
    return bool(_PRINTF.search(path)) or any(c in path for c in "*?[")


def printf_to_glob(pattern: str) -> str:
    """``frame_%04d.png`` -> ``frame_[0-9][0-9][0-9][0-9].png``; ``%d`` -> ``[0-9]*``."""
    return _PRINTF.sub(lambda m: "[0-9]" * int(m.group(1)) if m.group(1) else "[0-9]*", pattern)


def expand(path: Path) -> list[Path]:
    """Files named by ``path``: itself, a folder's files (recursively), or a pattern's matches."""
    text = str(path)
    if is_pattern(text):
        return sorted(Path(p) for p in glob.glob(printf_to_glob(text)))
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
    return [path] if path.exists() else []


def file_fingerprint(path: Path) -> str:
    st = path.stat()
    memo_key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    hit = _memo.get(memo_key)
    if hit is not None:
        return hit
    h = hashlib.blake2b(digest_size=16)
    h.update(str(st.st_size).encode())
    with path.open("rb") as f:
        if st.st_size <= FULL_HASH_LIMIT:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
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
