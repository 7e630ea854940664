"""AlphaOver: place a foreground over a background (position, scale, rotation, opacity)."""

from __future__ import annotations

import math
from typing import Any, Literal

import torch
import torch.nn.functional as F
from pydantic import Field

from nodeflow.context import RunContext
from nodeflow.node import Input, Node, Output
from nodeflow.params import NodeParams
from nodeflow.types import IMAGE, MASK

from .tensor_ops import alpha_of, broadcast_batch, resize_mask, split_alpha


def place(fg_premul: torch.Tensor, size: tuple[int, int], center: tuple[float, float],
          scale: float, rotation: float) -> torch.Tensor:
    """Warp premultiplied RGBA ``(B, 4, h, w)`` onto a ``size = (H, W)`` canvas.

    The foreground's centre lands on ``center = (x, y)`` (canvas px), scaled by ``scale`` and
    rotated ``rotation`` degrees counter-clockwise. Outside the foreground is transparent (0),
    so a foreground partly outside the frame is simply clipped. Scaling is done first with an
    antialiased resize; the remaining warp samples bilinearly at pixel centres, so an
    unrotated placement whose top-left lands on a whole pixel copies pixels exactly.
    """
    b, _, h, w = fg_premul.shape
    if scale != 1.0:
        nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
        fg_premul = F.interpolate(fg_premul, size=(nh, nw), mode="bilinear", align_corners=False,
                                  antialias=True)
        h, w = nh, nw
    H, W = size
    dev, dt = fg_premul.device, fg_premul.dtype
    ys = torch.arange(H, device=dev, dtype=dt) + 0.5
    xs = torch.arange(W, device=dev, dtype=dt) + 0.5
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    dx, dy = gx - center[0], gy - center[1]
    # inverse of the counter-clockwise (on screen, y down) rotation
    c, s = math.cos(math.radians(rotation)), math.sin(math.radians(rotation))
    fx = c * dx - s * dy + w / 2.0
    fy = s * dx + c * dy + h / 2.0
    grid = torch.stack([fx / w * 2.0 - 1.0, fy / h * 2.0 - 1.0], dim=-1)
    grid = grid.unsqueeze(0).expand(b, H, W, 2)
    return F.grid_sample(fg_premul, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def over(fg_rgb_premul: torch.Tensor, fg_alpha: torch.Tensor, background: torch.Tensor) -> torch.Tensor:
    """Porter-Duff *over* with a premultiplied foreground and a straight background.

    ``out_a = a_f + (1 - a_f) a_b`` and ``out_rgb_premul = rgb_f a_f + (1 - a_f) rgb_b a_b``;
    the result is returned straight (RGBA when the background is RGBA, else RGB).
    """
    bg_rgb, bg_alpha = split_alpha(background)
    if bg_alpha is None:
        return (fg_rgb_premul + (1 - fg_alpha) * bg_rgb).clamp(0, 1)
    out_a = fg_alpha + (1 - fg_alpha) * bg_alpha
    out_p = fg_rgb_premul + (1 - fg_alpha) * bg_rgb * bg_alpha
    out_rgb = torch.where(out_a > 1e-6, out_p / out_a.clamp_min(1e-6), torch.zeros_like(out_p))
    return torch.cat([out_rgb.clamp(0, 1), out_a.clamp(0, 1)], dim=1)


class AlphaOver(Node):
    """Composite a foreground over a background: placed, scaled, rotated, with opacity.

    The maths is premultiplied *over* (the foreground is premultiplied before any resampling,
    so edges do not darken or fringe). Outputs the composite and the placed matte in background
    coordinates: the mask that harmonisation (SinGAN, ColorMatch) needs. A still foreground
    broadcasts over a background clip and vice versa.
    """

    category = "composite"
    inputs = (
        Input("background", IMAGE, "what the foreground is placed over (RGB or RGBA)"),
        Input("foreground", IMAGE, "the cut-out subject, RGBA with straight alpha (RGB = opaque)"),
        Input("mask", MASK, "optional matte replacing the foreground's alpha", optional=True),
    )
    outputs = (
        Output("image", IMAGE, "the composite, background size; RGBA if the background has alpha"),
        Output("mask", MASK, "the foreground's matte as placed on the background (times opacity)"),
    )

    class Params(NodeParams):
        x: float = Field(0.5, description="horizontal position of the foreground's centre")
        y: float = Field(0.5, description="vertical position of the foreground's centre")
        units: Literal["relative", "px"] = Field(
            "relative", description="x/y as fractions of the background size (0.5 = centre) or pixels")
        scale: float = Field(1.0, gt=0, le=64, description="size of the foreground relative to its pixels")
        rotation: float = Field(0.0, ge=-360, le=360, description="degrees, counter-clockwise")
        opacity: float = Field(1.0, ge=0, le=1, description="multiplies the foreground's alpha")

    def run(self, ctx: RunContext, background: torch.Tensor, foreground: torch.Tensor,
            mask: torch.Tensor | None = None) -> dict[str, Any]:
        p = self.params
        fg_rgb, _ = split_alpha(foreground)
        alpha = alpha_of(foreground)
        if mask is not None:
            alpha = resize_mask(mask, tuple(foreground.shape[-2:])).expand(-1, 1, *fg_rgb.shape[-2:])
        fg_rgb, alpha, background = broadcast_batch(fg_rgb, alpha, background,
                                                    names=("foreground", "mask", "background"))
        alpha = alpha * p.opacity
        H, W = background.shape[-2:]
        cx, cy = (p.x * W, p.y * H) if p.units == "relative" else (p.x, p.y)
        fg_premul = torch.cat([fg_rgb * alpha, alpha], dim=1)
        placed = place(fg_premul, (H, W), (cx, cy), p.scale, p.rotation).clamp(0, 1)
        placed_rgb, placed_a = placed[:, :3], placed[:, 3:4]
        placed_rgb = torch.minimum(placed_rgb, placed_a)  # premultiplied colour never exceeds alpha
        return {"image": over(placed_rgb, placed_a, background), "mask": placed_a.contiguous()}

