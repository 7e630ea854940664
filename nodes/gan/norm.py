"""Normalisation layers, chosen by name exactly as the reference ``get_norm_layer`` does.

The choice also decides whether convolutions carry a bias (the reference's ``use_bias`` rule):
only instance norm has no learnable shift of its own, so only then do the convolutions before it
get a bias. Batch norm is affine and tracks running stats; instance norm is neither, which is why
old checkpoints with InstanceNorm ``running_mean``/``running_var`` entries need patching on load.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Literal

from torch import Tensor, nn

NormType = Literal["batch", "instance", "none"]
NORM_TYPES: tuple[str, ...] = ("batch", "instance", "none")


class Identity(nn.Module):
    """Stands in for a norm layer when ``norm="none"`` (no parameters, no state-dict keys)."""

    def forward(self, x: Tensor) -> Tensor:
        return x


def get_norm_layer(norm: str) -> Callable[[int], nn.Module]:
    """A factory ``channels -> module`` for ``norm`` in batch | instance | none."""
    if norm == "batch":
        return functools.partial(nn.BatchNorm2d, affine=True, track_running_stats=True)
    if norm == "instance":
        return functools.partial(nn.InstanceNorm2d, affine=False, track_running_stats=False)
    if norm == "none":
        return lambda channels: Identity()
    raise ValueError(f"unknown norm {norm!r}; expected one of {', '.join(NORM_TYPES)}")


def conv_bias(norm: str) -> bool:
    """Whether convolutions followed by this norm carry a bias (reference: instance norm only)."""
    return norm == "instance"
