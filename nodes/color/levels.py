"""Levels: input black/white points, gamma, output range (the classic levels dialog)."""

from __future__ import annotations

from typing import Any

import torch
from pydantic import Field, model_validator

from nodeflow.context import RunContext
from nodeflow.node import Input, Node, Output
from nodeflow.params import NodeParams
from nodeflow.types import IMAGE

from ..composite.tensor_ops import join_alpha, split_alpha


def levels(x: torch.Tensor, in_black: float, in_white: float, gamma: float,
           out_black: float, out_white: float) -> torch.Tensor:
    """``out_black + (out_white - out_black) * clip((x - in_black) / (in_white - in_black)) ** (1/gamma)``."""
    t = ((x - in_black) / (in_white - in_black)).clamp(0, 1)
    if gamma != 1.0:
        t = t.pow(1.0 / gamma)
    return out_black + (out_white - out_black) * t


class Levels(Node):
    """Levels and gamma: remap black point, white point and mid-tones.

    Stretches ``in_black .. in_white`` to ``out_black .. out_white`` with a gamma in between
    (gamma > 1 brightens mid-tones). Applies to RGB; alpha passes through. Leave the points at
    0 and 1 for a plain gamma.
    """

    category = "color"
    inputs = (Input("image", IMAGE, "(B, 3|4, H, W)"),)
    outputs = (Output("image", IMAGE, "(B, 3|4, H, W)"),)

    class Params(NodeParams):
        in_black: float = Field(0.0, ge=0, le=1, description="input value mapped to out_black")
        in_white: float = Field(1.0, ge=0, le=1, description="input value mapped to out_white")
        gamma: float = Field(1.0, gt=0, le=10, description="mid-tone gamma; > 1 brightens")
        out_black: float = Field(0.0, ge=0, le=1, description="darkest output value")
        out_white: float = Field(1.0, ge=0, le=1, description="brightest output value")

        @model_validator(mode="after")
        def _points_ordered(self) -> Levels.Params:
            if self.in_white <= self.in_black:
                raise ValueError("in_white must be greater than in_black")
            return self

    def run(self, ctx: RunContext, image: torch.Tensor) -> dict[str, Any]:
        p = self.params
        rgb, alpha = split_alpha(image)
        out = levels(rgb, p.in_black, p.in_white, p.gamma, p.out_black, p.out_white)
        return {"image": join_alpha(out, alpha)}
