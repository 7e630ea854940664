"""Small tensor helpers shared by the compositor families: batches, alpha, premultiplied resizing.

Everything stays on the input's device. Images are straight (non-premultiplied) alpha
``(B, C, H, W)`` with C = 3 or 4; masks ``(B, 1, H, W)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from nodeflow.errors import NodeError

EPS = 1e-6


def broadcast_batch(*tensors: torch.Tensor, names: tuple[str, ...] = ()) -> list[torch.Tensor]:
    """Expand batches of 1 to the common batch size B (a still over a clip).

    Raises :class:`NodeError` when two batch sizes differ and neither is 1.
    """
    sizes = {t.shape[0] for t in tensors}
    b = max(sizes)
    if sizes - {1, b}:
        labels = names or tuple(f"input {i}" for i in range(len(tensors)))
        got = ", ".join(f"{n}={t.shape[0]}" for n, t in zip(labels, tensors, strict=False))
        raise NodeError(f"batch sizes do not match ({got})",
                        hint="connect frames of the same clip, or a single still (batch of 1)")
    return [t.expand(b, *t.shape[1:]) if t.shape[0] != b else t for t in tensors]


def split_alpha(image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``(B, C, H, W)`` -> RGB ``(B, 3, H, W)`` and alpha ``(B, 1, H, W)`` (None when C = 3)."""
    if image.shape[1] == 4:
        return image[:, :3], image[:, 3:4]
    return image[:, :3], None


def alpha_of(image: torch.Tensor) -> torch.Tensor:
    """The alpha channel ``(B, 1, H, W)``, ones for an RGB image."""
    rgb, alpha = split_alpha(image)
    return alpha if alpha is not None else torch.ones_like(rgb[:, :1])


def join_alpha(rgb: torch.Tensor, alpha: torch.Tensor | None) -> torch.Tensor:
    """RGB and optional alpha -> RGB or RGBA, broadcasting batches of 1."""
    if alpha is None:
        return rgb
    rgb, alpha = broadcast_batch(rgb, alpha, names=("image", "alpha"))
    return torch.cat([rgb, alpha.expand(-1, 1, *rgb.shape[2:])], dim=1)


def premultiply(image: torch.Tensor) -> torch.Tensor:
    """Straight -> premultiplied (RGB scaled by alpha); RGB images pass unchanged."""
    rgb, alpha = split_alpha(image)
    return image if alpha is None else torch.cat([rgb * alpha, alpha], dim=1)


def unpremultiply(image: torch.Tensor) -> torch.Tensor:
    """Premultiplied -> straight; fully transparent pixels get RGB 0."""
    rgb, alpha = split_alpha(image)
    if alpha is None:
        return image
    safe = alpha.clamp_min(EPS)
    rgb = torch.where(alpha > EPS, rgb / safe, torch.zeros_like(rgb)).clamp(0, 1)
    return torch.cat([rgb, alpha], dim=1)


FILTERS = ("bilinear", "bicubic", "area", "nearest")


def resize(image: torch.Tensor, size: tuple[int, int], filter: str = "bilinear") -> torch.Tensor:
    """Resize ``(B, C, H, W)`` to ``size = (h, w)``, antialiased when shrinking.

    RGBA is resized premultiplied, so transparent pixels' colours do not bleed into edges.
    """
    h, w = size
    if tuple(image.shape[-2:]) == (h, w):
        return image
    x = premultiply(image)
    if filter in ("bilinear", "bicubic"):
        x = F.interpolate(x, size=(h, w), mode=filter, align_corners=False, antialias=True)
    elif filter == "area":
        x = F.interpolate(x, size=(h, w), mode="area")
    else:
        x = F.interpolate(x, size=(h, w), mode="nearest-exact")
    return unpremultiply(x.clamp(0, 1))


def resize_mask(mask: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear, antialiased resize of a ``(B, 1, H, W)`` mask to ``size = (h, w)``."""
    if tuple(mask.shape[-2:]) == tuple(size):
        return mask
    return F.interpolate(mask, size=size, mode="bilinear", align_corners=False, antialias=True).clamp(0, 1)


def check_same_size(a: torch.Tensor, b: torch.Tensor, what: str, hint: str | None = None,
                    field: str | None = None) -> None:
    """Raise :class:`NodeError` (naming ``field``) unless the spatial sizes match (1x1 constants broadcast)."""
    sa, sb = tuple(a.shape[-2:]), tuple(b.shape[-2:])
    if sa != sb and (1, 1) not in (sa, sb):
        raise NodeError(f"{what}: sizes differ ({sa[1]}x{sa[0]} vs {sb[1]}x{sb[0]})", field=field,
                        hint=hint or "put a Resize node (with a reference input) in front of one of them")
