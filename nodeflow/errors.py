"""Errors a user can cause, each carrying where it happened and how to fix it.

The CLI prints these without a traceback; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from dataclasses import dataclass


class NodeflowError(Exception):
    """Base of every error meant for the user rather than for a developer."""

    exit_code = 1


def _short(text: str, limit: int = 80) -> str:
    """A node id or field as shown in a message: a 5000-character id is not read, only recognised."""
    if not text:
        return "''"
    text = repr(text)[1:-1] if not text.isprintable() else text
    return text if len(text) <= limit else f"{text[:limit - 20]}…({len(text)} characters)"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a graph: where (node id, field) and how to fix it (hint)."""

    message: str
    node: str | None = None
    field: str | None = None
    hint: str | None = None

    def __str__(self) -> str:
        where = ""
        if self.node is not None:
            where = f"node {_short(self.node)}"
            if self.field:
                where += f", {_short(self.field)}"
            where += ": "
        elif self.field:
            where = f"{_short(self.field)}: "
        text = where + self.message
        if self.hint:
            text += f" (hint: {self.hint})"
        return text


class GraphValidationError(NodeflowError):
    """All problems found while loading or validating a graph, reported together."""

    exit_code = 2

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        n = len(self.problems)
        head = f"graph has {n} problem{'s' if n != 1 else ''}:"
        super().__init__("\n".join([head, *(f"  - {p}" for p in self.problems)]))


class NodeError(NodeflowError):
    """Raised by a node's ``run`` for bad input; the executor adds the node id and type.

    ``field`` names the param or socket at fault, ``hint`` says how to fix it.
    """

    def __init__(self, message: str, *, field: str | None = None, hint: str | None = None):
        self.message = message
        self.field = field
        self.hint = hint
        super().__init__(message)

    def __reduce__(self) -> tuple:  # picklable, so that it crosses to a Dask client intact
        return _rebuild, (type(self), (self.message,), {"field": self.field, "hint": self.hint})


class NodeExecutionError(NodeflowError):
    """A node failed while running: ``node <id> (<Type>): <message>``."""

    def __init__(self, node_id: str, node_type: str, message: str, *, field: str | None = None,
                 hint: str | None = None):
        self.node_id = node_id
        self.node_type = node_type
        self.field = field
        self.hint = hint
        text = f"node {node_id} ({node_type}): "
        if field:
            text += f"{field}: "
        text += message
        if hint:
            text += f" (hint: {hint})"
        self.message = message
        super().__init__(text)

    def __reduce__(self) -> tuple:  # picklable, so that it crosses to a Dask client intact
        return _rebuild, (type(self), (self.node_id, self.node_type, self.message),
                          {"field": self.field, "hint": self.hint})


class Cancelled(NodeflowError):
    """The run was cancelled (Ctrl-C or the editor's stop button)."""

    exit_code = 130

    def __init__(self, message: str = "cancelled"):
        super().__init__(message)


def _rebuild(cls: type[Exception], args: tuple, kwargs: dict) -> Exception:
    return cls(*args, **kwargs)


def explain_exception(exc: BaseException) -> tuple[str, str | None]:
    """A message and a hint for an exception a node did not anticipate, in the user's terms.

    Errors of the environment (disk full, read-only folder, out of memory, an image file too
    large to decode) say what happened and what to change; anything else keeps its type and
    text, which is what a bug report needs.
    """
    import errno

    name = getattr(exc, "filename", None)
    if isinstance(name, str) and ".tmp" in name and name.rsplit("/", 1)[-1].startswith("."):
        name = name.rsplit("/", 1)[0] or "/"  # an atomic write's hidden temp file: name its folder
    where = f" ({name})" if name else ""
    alloc_failed = isinstance(exc, RuntimeError) and any(
        t in str(exc) for t in ("can't allocate memory", "not enough memory", "out of memory"))
    if isinstance(exc, MemoryError) or alloc_failed:
        return ("out of memory", "use a smaller frame size or --batch-size, or lower NODEFLOW_MAX_PIXELS")
    if type(exc).__name__ == "DecompressionBombError":
        return (f"image refused as a possible decompression bomb: {exc}",
                "an image this large is refused; raise NODEFLOW_MAX_PIXELS only for a file you trust")
    if isinstance(exc, OSError):
        code = exc.errno
        if code == errno.ENOSPC:
            return (f"the disk is full{where}", "free some space or write to another disk (--output-dir)")
        if code == errno.EDQUOT:
            return (f"disk quota exceeded{where}", "free some space or write to another disk (--output-dir)")
        if code == errno.EROFS:
            return (f"the file system is read-only{where}", "write to another folder (--output-dir)")
        if code in (errno.EACCES, errno.EPERM):
            return (f"permission denied{where}: the folder is read-only or belongs to another user",
                    "choose a folder you can write to (--output-dir) or fix its permissions")
        if code == errno.EEXIST:
            return (f"a file is in the way{where}", "a folder was expected there; move the file or "
                                                     "choose another path")
        if code == errno.ENOTDIR:
            return (f"a path component is a file, not a folder{where}", "choose another path")
        if code == errno.ENAMETOOLONG:
            return (f"a file name is too long{where}", "file systems allow 255 bytes per name")
        if exc.strerror:
            return (f"{exc.strerror}{where}", None)
    return (f"{type(exc).__name__}: {exc}", None)
