"""Result caches: an in-process LRU bounded in bytes, and a persistent disk cache.

The disk cache holds the results of nodes marked ``expensive`` (trainings). Each entry is a
folder named by the node's key holding a manifest (JSON) and weights-only files: tensors as
safetensors, model handles through their own ``save``. Entries are written to a temp folder and
renamed into place, and every file's hash is checked on read; a bad entry is dropped and the
node simply runs again. Processes sharing a cache folder (the CLI and the editor, two renders)
take a per-key file lock (``locks/<key>.lock``, the ``filelock`` package) around computing and
storing an entry and its scratch folder: the second one waits, then reads the first one's entry.
After damage the result is stored again, whatever the damage was (a file or a manifest-less folder
where the entry should be is replaced). A manifest can only name a
registered handle class (:mod:`nodeflow.handles`): reading never imports a module.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from filelock import FileLock, Timeout
from platformdirs import user_cache_dir

from nodeflow.atomic import make_temp_dir, remove_stale_temps, temp_prefix
from nodeflow.handles import ModelHandle, handle_name, registered_handle

log = logging.getLogger("nodeflow.cache")

MANIFEST = "manifest.json"
CACHE_FORMAT = 1


def default_cache_dir() -> Path:
    """``$NODEFLOW_CACHE_DIR`` or the user cache folder (e.g. ``~/.cache/nodeflow``)."""
    env = os.environ.get("NODEFLOW_CACHE_DIR")
    return Path(env) if env else Path(user_cache_dir("nodeflow"))


def value_nbytes(value: Any) -> int:
    """Bytes a cached value keeps alive: tensor storage, model parameters and buffers.

    Model handles report their own size (:meth:`ModelHandle.nbytes`), so the memory budget bounds
    model weights too; anything else with an ``nbytes`` (numpy arrays) counts that; other Python
    values a nominal 64 bytes.
    """
    if isinstance(value, torch.Tensor):
        return value.element_size() * value.nelement()
    if isinstance(value, ModelHandle):
        return max(64, int(value.nbytes()))
    if isinstance(value, dict):
        return sum(value_nbytes(v) for v in value.values())
    if isinstance(value, list | tuple):
        return sum(value_nbytes(v) for v in value)
    nbytes = getattr(value, "nbytes", None)
    if isinstance(nbytes, int):
        return nbytes
    return 64


class MemoryCache:
    """LRU of node results keyed by cache key, bounded by the bytes they hold (:func:`value_nbytes`).

    A budget of 0 keeps nothing.
    """

    def __init__(self, max_bytes: int = 2 << 30):
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, tuple[dict[str, Any], int]] = OrderedDict()
        self.bytes = 0

    def get(self, key: str) -> dict[str, Any] | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        self._entries.move_to_end(key)
        return entry[0]

    def put(self, key: str, outputs: dict[str, Any]) -> None:
        size = value_nbytes(outputs)
        if size > self.max_bytes:
            return
        old = self._entries.pop(key, None)
        if old is not None:
            self.bytes -= old[1]
        self._entries[key] = (outputs, size)
        self.bytes += size
        while self.bytes > self.max_bytes and self._entries:
            _, (_, s) = self._entries.popitem(last=False)
            self.bytes -= s

    def clear(self) -> None:
        self._entries.clear()
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: str) -> bool:
        return key in self._entries

    def keys(self) -> list[str]:
        """Cached keys, least recently used first (for tests and the editor's cache view)."""
        return list(self._entries)


def file_sha256(path: Path) -> str:
    """The file's SHA-256 (hex), read in 1 MiB blocks."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _inside_entry(rel: str) -> bool:
    """Whether a name from a manifest stays inside its entry folder (no absolute path, no '..')."""
    path = Path(str(rel))
    return not path.is_absolute() and ".." not in path.parts and bool(path.parts)


@dataclass
class DiskCacheInfo:
    root: Path
    entries: int
    bytes: int
    scratch_entries: int


class DiskCache:
    def __init__(self, root: Path | None = None):
        self.root = Path(root) if root is not None else default_cache_dir()

    @property
    def results_dir(self) -> Path:
        return self.root / "results"

    def entry_dir(self, key: str) -> Path:
        return self.results_dir / key[:2] / key

    def has(self, key: str) -> bool:
        """Whether a result is stored under ``key`` (not verified: :meth:`get` checks the hashes)."""
        return (self.entry_dir(key) / MANIFEST).exists()

    def scratch_dir(self, key: str) -> Path:
        """A per-key folder that survives interrupted runs (training checkpoints); made on first use."""
        return self.root / "scratch" / key

    def drop_scratch(self, key: str) -> None:
        shutil.rmtree(self.root / "scratch" / key, ignore_errors=True)

    # -- locking between processes ---------------------------------------------------------------
    def lock_path(self, key: str) -> Path:
        return self.root / "locks" / f"{key}.lock"

    @contextlib.contextmanager
    def locked(self, key: str, *, on_wait: Callable[[], None] | None = None,
               check: Callable[[], None] | None = None, poll: float = 0.5) -> Iterator[None]:
        """Hold ``key``'s inter-process lock: only one process computes, stores or resumes an entry.

        ``on_wait`` is called once if another process holds it; ``check`` every ``poll`` seconds
        while waiting (raise there to give up, e.g. on cancel). Lock files are left in place
        (removing one another process holds would break the lock).
        """
        path = self.lock_path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(path)
        waited = False
        while True:
            try:
                lock.acquire(timeout=poll)
                break
            except Timeout:
                if not waited and on_wait is not None:
                    on_wait()
                waited = True
                if check is not None:
                    check()
        try:
            yield
        finally:
            lock.release()

    # -- write ---------------------------------------------------------------------------------
    def put(self, key: str, outputs: dict[str, Any]) -> bool:
        """Store ``outputs`` under ``key``; False (and nothing written) if a value can't be stored."""
        final = self.entry_dir(key)
        if (final / MANIFEST).is_file():
            return True
        self._drop(final)  # damage in the entry's place: a file, or a folder without manifest
        final.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(final.parent, temp_prefix(key))
        tmp = make_temp_dir(final.parent, temp_prefix(key))
        try:
            manifest: dict[str, Any] = {"format": CACHE_FORMAT, "key": key, "outputs": {}, "files": {}}
            for name, value in outputs.items():
                manifest["outputs"][name] = self._write_value(tmp, name, value)
            for f in sorted(p for p in tmp.rglob("*") if p.is_file()):
                manifest["files"][f.relative_to(tmp).as_posix()] = file_sha256(f)
            (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
            try:
                os.rename(tmp, final)
            except OSError:  # another process stored it first
                shutil.rmtree(tmp, ignore_errors=True)
            return True
        except _Unstorable as exc:
            log.warning("not caching %s on disk: %s", key, exc)
            shutil.rmtree(tmp, ignore_errors=True)
            return False
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def _write_value(self, folder: Path, name: str, value: Any) -> dict[str, Any]:
        if isinstance(value, torch.Tensor):
            from safetensors.torch import save_file

            save_file({"value": value.detach().contiguous().cpu()}, str(folder / f"{name}.safetensors"))
            return {"kind": "tensor", "file": f"{name}.safetensors"}
        if isinstance(value, ModelHandle):
            sub = folder / name
            sub.mkdir()
            value.save(sub)
            cls = type(value)
            if registered_handle(handle_name(cls)) is not cls:
                raise _Unstorable(f"output {name!r}: handle class {handle_name(cls)} is not registered")
            return {"kind": "handle", "class": handle_name(cls), "folder": name}
        if value is None or isinstance(value, bool | int | float | str):
            return {"kind": "json", "value": value}
        if isinstance(value, tuple | list) and all(isinstance(v, bool | int | float | str) for v in value):
            return {"kind": "json", "value": list(value), "tuple": isinstance(value, tuple)}
        raise _Unstorable(f"output {name!r} is a {type(value).__name__}")

    # -- read ----------------------------------------------------------------------------------
    def get(self, key: str, device: torch.device | str = "cpu") -> dict[str, Any] | None:
        folder = self.entry_dir(key)
        manifest_path = folder / MANIFEST
        if not manifest_path.is_file():
            if os.path.lexists(folder):
                log.warning("dropping damaged cache entry %s: no manifest", folder)
                self._drop(folder)
            return None
        try:
            manifest = json.loads(manifest_path.read_text())
            for rel, digest in manifest["files"].items():
                if not _inside_entry(rel):
                    raise ValueError(f"{rel!r} points outside the entry")
                if file_sha256(folder / rel) != digest:
                    raise ValueError(f"{rel} does not match its recorded hash")
            return {name: self._read_value(folder, desc, device) for name, desc in manifest["outputs"].items()}
        except Exception as exc:
            log.warning("dropping damaged cache entry %s: %s", folder, exc)
            self._drop(folder)
            return None

    @staticmethod
    def _drop(path: Path) -> None:
        """Remove whatever is at an entry's place (a folder, a file, a symlink: never its target)."""
        if path.is_symlink() or path.is_file():
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        elif path.exists():
            shutil.rmtree(path, ignore_errors=True)

    def _read_value(self, folder: Path, desc: dict[str, Any], device: torch.device | str) -> Any:
        kind = desc["kind"]
        for where in ("file", "folder"):
            if where in desc and not _inside_entry(desc[where]):
                raise ValueError(f"{desc[where]!r} points outside the entry")
        if kind == "tensor":
            from safetensors.torch import load_file

            return load_file(str(folder / desc["file"]))["value"].to(device)
        if kind == "handle":
            cls = registered_handle(str(desc["class"]))
            if cls is None:  # refused before anything is imported
                raise TypeError(f"{desc['class']!r} is not a registered model handle class")
            return cls.load(folder / desc["folder"], device=device)
        if kind == "json":
            value = desc["value"]
            return tuple(value) if desc.get("tuple") else value
        raise ValueError(f"unknown cached value kind {kind!r}")

    # -- maintenance ---------------------------------------------------------------------------
    def info(self) -> DiskCacheInfo:
        entries = 0
        size = 0
        if self.results_dir.exists():
            for manifest in self.results_dir.glob(f"*/*/{MANIFEST}"):
                entries += 1
                size += sum(f.stat().st_size for f in manifest.parent.rglob("*") if f.is_file())
        scratch = self.root / "scratch"
        n_scratch = sum(1 for _ in scratch.iterdir()) if scratch.exists() else 0
        return DiskCacheInfo(self.root, entries, size, n_scratch)

    def clear(self) -> list[str]:
        """Remove every entry and scratch folder, except those another process is working on
        (its key's lock is held: a training writing checkpoints); returns the keys left alone."""
        busy: list[str] = []
        for folder in self._key_folders():
            key = _folder_key(folder.name)
            lock = FileLock(self.lock_path(key))
            try:
                lock.acquire(timeout=0)
            except Timeout:
                busy.append(key)
                continue
            try:
                shutil.rmtree(folder, ignore_errors=True)
            finally:
                lock.release()
        for shard in self.results_dir.glob("*") if self.results_dir.exists() else ():
            with contextlib.suppress(OSError):
                shard.rmdir()  # only when empty
        return sorted(set(busy))

    def _key_folders(self) -> list[Path]:
        entries = list(self.results_dir.glob("*/*")) if self.results_dir.exists() else []
        scratch = self.root / "scratch"
        return entries + (list(scratch.iterdir()) if scratch.exists() else [])


def _folder_key(name: str) -> str:
    """The key of an entry, scratch or in-progress (``.<key>.tmp-XXXX``) folder."""
    return name[1:].split(".tmp-")[0] if name.startswith(".") else name


class _Unstorable(Exception):
    pass
