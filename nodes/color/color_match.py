"""ColorMatch: transfer colour statistics in Lab, the classical harmonisation baseline."""

from __future__ import annotations

from typing import Any, Literal

import torch
from pydantic import Field

from nodeflow.context import RunContext
from nodeflow.errors import NodeError
from nodeflow.node import Input, Node, Output
from nodeflow.params import NodeParams
from nodeflow.types import IMAGE, MASK

from ..composite.tensor_ops import broadcast_batch, join_alpha, resize_mask, split_alpha
from .convert import lab01_to_rgb, rgb_to_lab01
from .matching import match_histogram, match_mean_std

CHANNELS = {"all": (0, 1, 2), "color": (1, 2), "lightness": (0,)}


class ColorMatch(Node):
    """Make an image's colours follow a reference: mean/std (Reinhard) or histogram matching,
    per channel in CIE Lab.

    For harmonising a pasted subject: connect the composite as ``image`` and ``reference``,
    AlphaOver's placed mask as ``mask`` and set ``reference_region`` to ``outside_mask``: the
    subject's statistics move towards the scene around it, and only the subject changes.
    ``mask`` weights the image's statistics and limits where the result applies;
    ``reference_mask`` weights the reference's statistics.
    """

    category = "color"
    inputs = (
        Input("image", IMAGE, "(B, 3|4, H, W) to adjust"),
        Input("reference", IMAGE, "(B or 1, 3|4, H', W') the look to match"),
        Input("mask", MASK, "optional (B or 1, 1, H, W): region of image measured and changed",
              optional=True),
        Input("reference_mask", MASK, "optional: region of the reference measured", optional=True),
    )
    outputs = (Output("image", IMAGE, "(B, 3|4, H, W), alpha kept"),)

    class Params(NodeParams):
        method: Literal["mean_std", "histogram"] = Field("mean_std", description="statistic matched")
        channels: Literal["all", "color", "lightness"] = Field(
            "all", description="Lab channels matched: all, only a/b (colour), or only L")
        strength: float = Field(1.0, ge=0, le=1, description="0 = unchanged, 1 = fully matched")
        reference_region: Literal["all", "outside_mask"] = Field(
            "all", description="measure the reference everywhere (or in reference_mask), or outside "
                               "`mask` (the reference must then be the image's size)")

    def run(self, ctx: RunContext, image: torch.Tensor, reference: torch.Tensor,
            mask: torch.Tensor | None = None, reference_mask: torch.Tensor | None = None) -> dict[str, Any]:
        p = self.params
        rgb, alpha = split_alpha(image)
        ref_rgb, ref_alpha = split_alpha(reference)
        size, ref_size = tuple(rgb.shape[-2:]), tuple(ref_rgb.shape[-2:])
        w_x = resize_mask(mask, size) if mask is not None else torch.ones_like(rgb[:, :1])
        if p.reference_region == "outside_mask":
            if mask is None:
                raise NodeError("reference_region 'outside_mask' needs the mask input", field="mask",
                                hint="connect AlphaOver's mask, or set reference_region to 'all'")
            if ref_size != size:
                raise NodeError("reference_region 'outside_mask' needs reference and image of one size",
                                field="reference_region", hint="connect the composite itself as reference")
            w_r = 1 - w_x
        elif reference_mask is not None:
            w_r = resize_mask(reference_mask, ref_size)
        else:
            w_r = torch.ones_like(ref_rgb[:, :1])
        if ref_alpha is not None:  # transparent reference pixels carry no colour
            w_r = w_r * ref_alpha
        w_stats = w_x * alpha if alpha is not None else w_x  # ... nor transparent image pixels
        rgb, w_x, w_stats, ref_rgb, w_r = broadcast_batch(
            rgb, w_x, w_stats, ref_rgb, w_r, names=("image", "mask", "alpha", "reference", "reference_mask"))
        lab = rgb_to_lab01(rgb)
        ref_lab = lab if reference is image else rgb_to_lab01(ref_rgb)  # harmonising against itself
        fn = match_mean_std if p.method == "mean_std" else match_histogram
        matched = fn(lab, w_stats, ref_lab, w_r)
        keep = torch.zeros(3, dtype=torch.bool, device=lab.device)
        keep[list(CHANNELS[p.channels])] = True
        matched = torch.where(keep.view(1, 3, 1, 1), matched, lab)
        out = lab01_to_rgb(matched)
        blend = p.strength * (w_x if mask is not None else 1.0)
        out = rgb + blend * (out - rgb)
        return {"image": join_alpha(out.clamp(0, 1), alpha)}
