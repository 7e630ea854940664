"""ColorConvert: RGB <-> Lab / HSV / YCbCr, packed into [0, 1] so the result is still an Image."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal

import kornia.color as kc
import torch
from pydantic import Field

from nodeflow.context import RunContext
from nodeflow.node import Input, Node, Output
from nodeflow.params import NodeParams
from nodeflow.types import IMAGE

from ..composite.tensor_ops import join_alpha, split_alpha

_LAB_OFFSET = (0.0, 128.0, 128.0)
_LAB_SCALE = (100.0, 255.0, 255.0)


def _per_channel(x: torch.Tensor, values: tuple[float, float, float]) -> torch.Tensor:
    return torch.tensor(values, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)


def rgb_to_lab01(rgb: torch.Tensor) -> torch.Tensor:
    """sRGB ``(B, 3, H, W)`` -> CIE Lab (D65) packed as ``L/100, (a+128)/255, (b+128)/255``."""
    lab = kc.rgb_to_lab(rgb)
    return (lab + _per_channel(lab, _LAB_OFFSET)) / _per_channel(lab, _LAB_SCALE)


def lab01_to_rgb(lab01: torch.Tensor, clip: bool = True) -> torch.Tensor:
    """Inverse of :func:`rgb_to_lab01`; out-of-gamut colours are clipped to [0, 1]."""
    lab = lab01 * _per_channel(lab01, _LAB_SCALE) - _per_channel(lab01, _LAB_OFFSET)
    return kc.lab_to_rgb(lab, clip=clip)


def rgb_to_hsv01(rgb: torch.Tensor) -> torch.Tensor:
    """sRGB -> HSV with hue as a fraction of a turn."""
    hsv = kc.rgb_to_hsv(rgb)
    return torch.cat([hsv[:, :1] / (2 * math.pi), hsv[:, 1:]], dim=1)


def hsv01_to_rgb(hsv01: torch.Tensor) -> torch.Tensor:
    return kc.hsv_to_rgb(torch.cat([hsv01[:, :1] * (2 * math.pi), hsv01[:, 1:]], dim=1)).clamp(0, 1)


CONVERSIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "rgb_to_lab": rgb_to_lab01,
    "lab_to_rgb": lab01_to_rgb,
    "rgb_to_hsv": rgb_to_hsv01,
    "hsv_to_rgb": hsv01_to_rgb,
    "rgb_to_ycbcr": kc.rgb_to_ycbcr,
    "ycbcr_to_rgb": lambda x: kc.ycbcr_to_rgb(x).clamp(0, 1),
}


class ColorConvert(Node):
    """Convert between sRGB and Lab, HSV or YCbCr (kornia, on the run's device).

    Results stay Images in [0, 1]: Lab is packed as ``L/100, (a+128)/255, (b+128)/255``, HSV's
    hue is a fraction of a turn, YCbCr is full-range with chroma centred on 0.5. Alpha passes
    through. Lab -> RGB clips out-of-gamut colours.
    """

    category = "color"
    inputs = (Input("image", IMAGE, "(B, 3|4, H, W)"),)
    outputs = (Output("image", IMAGE, "(B, 3|4, H, W) in the target space"),)

    class Params(NodeParams):
        conversion: Literal["rgb_to_lab", "lab_to_rgb", "rgb_to_hsv", "hsv_to_rgb",
                            "rgb_to_ycbcr", "ycbcr_to_rgb"] = Field(
            "rgb_to_lab", description="source and target colour space")

    def run(self, ctx: RunContext, image: torch.Tensor) -> dict[str, Any]:
        rgb, alpha = split_alpha(image)
        return {"image": join_alpha(CONVERSIONS[self.params.conversion](rgb.float()), alpha)}
