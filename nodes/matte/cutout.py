"""CutOut: separate the subject from its background, by one of five methods."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import torch
from pydantic import Field

from nodeflow.context import RunContext
from nodeflow.errors import NodeError
from nodeflow.image_files import read_image
from nodeflow.node import Input, Node, Output
from nodeflow.params import Color, InputPathOrEmpty, NodeParams
from nodeflow.types import IMAGE, MASK, image_to_mask

from ..composite.tensor_ops import broadcast_batch, join_alpha, resize_mask, split_alpha
from .chroma import chroma_matte, suppress_spill
from .grabcut import grabcut_batch
from .segment_model import Segmenter, resolve_model

Fraction = Annotated[float, Field(ge=0, le=1)]


class CutOut(Node):
    """Cut the subject out: RGBA with the matte as alpha, plus the matte itself.

    Methods: ``alpha`` uses the image's own alpha; ``mask`` uses the mask input or
    ``mask_path``; ``chroma`` keys out a screen colour (with spill suppression); ``grabcut``
    runs OpenCV GrabCut seeded by ``rect`` or, without it, by the image border; ``model`` runs
    a U²-Net-family ONNX file (rembg's ``u2net.onnx`` etc.) with onnxruntime. With a method
    other than ``mask``, a connected mask multiplies the result (a garbage matte).
    Follow with RefineMatte to clean the matte up.
    """

    category = "matte"
    inputs = (
        Input("image", IMAGE, "(B, 3|4, H, W) frames with the subject"),
        Input("mask", MASK, "(B or 1, 1, H, W): the matte for method 'mask', else a garbage matte",
              optional=True),
    )
    outputs = (
        Output("image", IMAGE, "(B, 4, H, W) the image with the matte as straight alpha"),
        Output("mask", MASK, "(B, 1, H, W) the matte, 1 = subject"),
    )

    class Params(NodeParams):
        method: Literal["alpha", "mask", "chroma", "grabcut", "model"] = Field(
            "grabcut", description="how the subject is found")
        mask_path: InputPathOrEmpty = Field(
            "", description="mask: a matte image (alpha, else grey) used when no mask is connected")
        key_color: Color = Field((0.0, 1.0, 0.0), description="chroma: the screen colour")
        tolerance: float = Field(0.15, ge=0, le=2, description=(
            "chroma: hue/saturation distance from the key, relative to the key's saturation, "
            "still keyed out fully"))
        softness: float = Field(0.1, ge=0, le=2, description="chroma: width of the soft edge beyond tolerance")
        spill: float = Field(1.0, ge=0, le=1, description="chroma: how much of the key's colour cast to remove")
        rect: tuple[Fraction, Fraction, Fraction, Fraction] | None = Field(
            None, description="grabcut: subject box [x, y, w, h] as fractions; none = seed from border")
        border: float = Field(0.05, gt=0, le=0.45, description="grabcut: sure-background border (fraction)")
        border_sides: Literal["all", "no_bottom"] = Field(
            "all", description="grabcut: edges seeded as background; no_bottom for a subject cut off "
                               "by the bottom edge")
        iterations: int = Field(5, ge=1, le=30, description="grabcut: iterations")
        model_path: InputPathOrEmpty = Field(
            "", description="model: ONNX file; empty = <model_name>.onnx in $U2NET_HOME or ~/.u2net")
        model_name: str = Field("u2net", pattern=r"^[A-Za-z0-9_.\-]+$",
                                description="model: rembg model name used when model_path is empty")
        normalization: Literal["imagenet", "centered"] = Field(
            "imagenet", description="model: input normalisation; imagenet for U²-Net, centered for ISNet")

    def __init__(self, params: NodeParams):
        super().__init__(params)
        self._file_mask: torch.Tensor | None = None
        self._segmenter: Segmenter | None = None

    def run(self, ctx: RunContext, image: torch.Tensor, mask: torch.Tensor | None = None) -> dict[str, Any]:
        p = self.params
        rgb, alpha = split_alpha(image)
        size = tuple(rgb.shape[-2:])
        if p.method == "alpha":
            if alpha is None:
                raise NodeError("the image has no alpha channel", field="method",
                                hint="use method chroma, grabcut or model, or connect a mask")
            matte = alpha
        elif p.method == "mask":
            matte = self._mask(ctx, mask, size)
        elif p.method == "chroma":
            matte = chroma_matte(rgb, p.key_color, p.tolerance, p.softness)
            rgb = suppress_spill(rgb, p.key_color, p.spill)
        elif p.method == "grabcut":
            matte = grabcut_batch(rgb, p.rect, p.border, p.iterations, ctx.seed,
                                  bottom=p.border_sides == "all",
                                  progress=lambda i, n: ctx.progress(i, n, "GrabCut"))
        else:
            matte = self._model(ctx)(rgb, p.normalization)
        if mask is not None and p.method != "mask":
            matte = matte * resize_mask(mask, size)
        rgb, matte = broadcast_batch(rgb, matte, names=("image", "mask"))
        matte = matte.clamp(0, 1).contiguous()
        return {"image": join_alpha(rgb, matte), "mask": matte}

    def _mask(self, ctx: RunContext, mask: torch.Tensor | None, size: tuple[int, int]) -> torch.Tensor:
        if mask is not None:
            return resize_mask(mask, size)
        if not self.params.mask_path:
            raise NodeError("method 'mask' needs a mask", field="mask_path",
                            hint="connect the mask input or set mask_path to a matte image")
        if self._file_mask is None:
            path = ctx.input_path(self.params.mask_path)
            try:
                self._file_mask = image_to_mask(read_image(path)).to(ctx.device)
            except (OSError, ValueError) as exc:
                raise NodeError(f"cannot read mask file {path}: {exc}", field="mask_path") from None
        return resize_mask(self._file_mask, size)

    def _model(self, ctx: RunContext) -> Segmenter:
        if self._segmenter is None:
            given = ctx.input_path(self.params.model_path) if self.params.model_path else None
            self._segmenter = Segmenter(resolve_model(given, self.params.model_name), ctx.device)
        return self._segmenter

