"""Weight initialisation schemes of the reference (``init_weights``), gain 0.02 by default."""

from __future__ import annotations

from typing import Literal

from torch import nn
from torch.nn import init

InitType = Literal["normal", "xavier", "kaiming", "orthogonal"]


def init_weights(net: nn.Module, init_type: str = "normal", gain: float = 0.02) -> nn.Module:
    """Initialise conv/linear weights with ``init_type`` (biases 0), batch-norm weights ~ N(1, gain).

    Matches by class name like the reference, so ConvTranspose2d counts as a conv. Returns ``net``.
    """

    def init_func(m: nn.Module) -> None:
        name = type(m).__name__
        weight = getattr(m, "weight", None)
        if weight is not None and ("Conv" in name or "Linear" in name):
            if init_type == "normal":
                init.normal_(weight.data, 0.0, gain)
            elif init_type == "xavier":
                init.xavier_normal_(weight.data, gain=gain)
            elif init_type == "kaiming":
                init.kaiming_normal_(weight.data, a=0, mode="fan_in")
            elif init_type == "orthogonal":
                init.orthogonal_(weight.data, gain=gain)
            else:
                raise ValueError(f"unknown init_type {init_type!r}")
            bias = getattr(m, "bias", None)
            if bias is not None:
                init.constant_(bias.data, 0.0)
        elif "BatchNorm2d" in name and weight is not None:
            init.normal_(weight.data, 1.0, gain)
            init.constant_(m.bias.data, 0.0)

    net.apply(init_func)
    return net
