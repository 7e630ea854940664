"""Socket types and the one table of implicit conversions between them.

Values travelling on sockets:

- ``Image``: ``torch.Tensor`` float32 ``(B, C, H, W)`` in [0, 1], sRGB, C = 3 (RGB) or 4 (RGBA).
- ``Mask``: ``torch.Tensor`` float32 ``(B, 1, H, W)`` in [0, 1].
- ``Float``/``Int``/``Bool``/``String``: Python scalars; ``Path``: ``str``.
- ``Color``: tuple of 3 or 4 floats in [0, 1] (RGB or RGBA).
- Model handles: :class:`nodeflow.handles.ModelHandle` subclasses whose ``kind`` equals the type
  name. The engine knows no concrete model: a node family registers its handle's socket type
  with :func:`model_socket` (in the family's ``sockets.py``). The engine treats them as opaque.

A batch of 1 broadcasts against a batch of B: a still used in a clip stays ``(1, C, H, W)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch


@dataclass(frozen=True)
class SocketType:
    """A named socket type with a cheap runtime check used on node outputs."""

    name: str
    doc: str
    check: Callable[[Any], str | None] = field(compare=False, repr=False)
    """Returns None when the value is acceptable, else what is wrong with it."""
    is_model: bool = field(default=False, compare=False)
    """Values are model handles (what ``nodeflow train`` saves)."""

    def __str__(self) -> str:
        return self.name


def _check_tensor(channels: tuple[int, ...]) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if not isinstance(value, torch.Tensor):
            return f"expected a tensor, got {type(value).__name__}"
        if value.ndim != 4:
            return f"expected shape (B, C, H, W), got {tuple(value.shape)}"
        if value.shape[1] not in channels:
            return f"expected C in {channels}, got shape {tuple(value.shape)}"
        if not value.is_floating_point():
            return f"expected a float tensor, got {value.dtype}"
        return None

    return check


def _check_instance(*classes: type) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if isinstance(value, bool) and bool not in classes:
            return "expected a number, got a bool"
        if not isinstance(value, classes):
            return f"expected {' or '.join(c.__name__ for c in classes)}, got {type(value).__name__}"
        return None

    return check


def _check_color(value: Any) -> str | None:
    if not isinstance(value, tuple) or len(value) not in (3, 4):
        return f"expected a tuple of 3 or 4 floats, got {value!r}"
    return None


def _check_model(kind: str) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        from nodeflow.handles import ModelHandle

        if not isinstance(value, ModelHandle) or value.kind != kind:
            return f"expected a {kind} model handle, got {type(value).__name__}"
        return None

    return check


IMAGE = SocketType("Image", "float32 (B, C, H, W) in [0, 1], sRGB, RGB or RGBA", _check_tensor((3, 4)))
MASK = SocketType("Mask", "float32 (B, 1, H, W) in [0, 1]", _check_tensor((1,)))
FLOAT = SocketType("Float", "a float", _check_instance(float, int))
INT = SocketType("Int", "an integer", _check_instance(int))
BOOL = SocketType("Bool", "true or false", _check_instance(bool))
STRING = SocketType("String", "text", _check_instance(str))
COLOR = SocketType("Color", "RGB or RGBA tuple of floats in [0, 1]", _check_color)
PATH = SocketType("Path", "a file-system path", _check_instance(str))
SOCKET_TYPES: dict[str, SocketType] = {t.name: t for t in (IMAGE, MASK, FLOAT, INT, BOOL, STRING, COLOR, PATH)}
"""Every socket type by name: the built-in ones above plus those node families register."""


def register_socket_type(socket_type: SocketType) -> SocketType:
    """Make ``socket_type`` known by name; registering the same type again is a no-op."""
    known = SOCKET_TYPES.get(socket_type.name)
    if known is not None and (known.doc, known.is_model) != (socket_type.doc, socket_type.is_model):
        raise ValueError(f"socket type {socket_type.name!r} is already registered differently")
    return SOCKET_TYPES.setdefault(socket_type.name, socket_type)


def model_socket(kind: str, doc: str) -> SocketType:
    """The socket type of a model handle whose ``kind`` is ``kind``, registered (a node family's call)."""
    return register_socket_type(SocketType(kind, doc, _check_model(kind), is_model=True))


def __getattr__(name: str) -> SocketType:
    """Older code imported model socket types from here by upper-case name (``from nodeflow.types
    import <NAME>``): that keeps working once the family has registered the type."""
    for t in SOCKET_TYPES.values():
        if t.is_model and t.name.upper() == name:
            return t
    raise AttributeError(f"module 'nodeflow.types' has no attribute {name!r} (model socket types are "
                         f"registered by their node family: import it from the family's sockets module)")


# ---------------------------------------------------------------------------------------------
# Implicit conversions: the only place where one socket type becomes another.


def luminance(rgb: torch.Tensor) -> torch.Tensor:
    """Rec. 709 luma of ``(B, 3, H, W)`` sRGB values -> ``(B, 1, H, W)``."""
    w = torch.tensor([0.2126, 0.7152, 0.0722], dtype=rgb.dtype, device=rgb.device).view(1, 3, 1, 1)
    return (rgb[:, :3] * w).sum(dim=1, keepdim=True)


def image_to_mask(image: torch.Tensor) -> torch.Tensor:
    """Image -> Mask: the alpha channel of RGBA, else luminance of RGB."""
    if image.shape[1] == 4:
        return image[:, 3:4]
    return luminance(image)


def mask_to_image(mask: torch.Tensor) -> torch.Tensor:
    """Mask -> Image: grey RGB, ``(B, 1, H, W)`` -> ``(B, 3, H, W)``."""
    return mask.expand(-1, 3, -1, -1).contiguous()


def scalar_to_image(value: float) -> torch.Tensor:
    """Float -> Image: a ``(1, 3, 1, 1)`` constant that broadcasts over any frame size."""
    return torch.full((1, 3, 1, 1), float(value), dtype=torch.float32)


def scalar_to_mask(value: float) -> torch.Tensor:
    """Float -> Mask: a ``(1, 1, 1, 1)`` constant that broadcasts over any frame size."""
    return torch.full((1, 1, 1, 1), float(value), dtype=torch.float32)


def color_to_image(value: tuple[float, ...]) -> torch.Tensor:
    """Color -> Image: a ``(1, C, 1, 1)`` constant colour (C = 3 or 4)."""
    return torch.tensor(value, dtype=torch.float32).view(1, len(value), 1, 1)


CONVERSIONS: dict[tuple[str, str], Callable[[Any], Any]] = {
    ("Mask", "Image"): mask_to_image,
    ("Image", "Mask"): image_to_mask,
    ("Float", "Image"): scalar_to_image,
    ("Int", "Image"): scalar_to_image,
    ("Float", "Mask"): scalar_to_mask,
    ("Int", "Mask"): scalar_to_mask,
    ("Color", "Image"): color_to_image,
    ("Int", "Float"): float,
    ("Bool", "Int"): int,
    ("Path", "String"): str,
    ("String", "Path"): str,
}


def conversion(src: SocketType, dst: SocketType) -> Callable[[Any], Any] | None:
    """The function that turns a ``src`` value into a ``dst`` value, identity when equal.

    Returns None when the two types do not connect.
    """
    if src == dst:
        return _identity
    return CONVERSIONS.get((src.name, dst.name))


def _identity(value: Any) -> Any:
    return value
