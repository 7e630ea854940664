"""Param field types shared by the GAN node families."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import torch
from pydantic import Field

from nodeflow.errors import NodeError
from nodeflow.params import NOT_IN_CACHE_KEY, NodeParams, OutputPathOrEmpty

PrecisionField = Literal["auto", "fp32", "fp16", "bf16"]
PRECISION_DOC = ("inference precision: 'auto' = fp16 autocast on CUDA and fp32 on CPU; 'bf16' also works "
                 "on CPU")


def keep_alpha(rgb: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """Re-attach ``image``'s alpha channel (if it has one) to the processed ``(B, 3, H, W)`` ``rgb``."""
    if image.shape[1] == 4:
        return torch.cat([rgb, image[:, 3:4].to(rgb)], dim=1)
    return rgb


class GANTrainingParams(NodeParams):
    """Params every GAN training node shares (the reference's common options), defaults as there.

    Subclasses add their data/loss params and override defaults that differ (norm, dropout, ...).
    ``checkpoint_every``/``preview_*`` cannot change the trained model, so they are not part of
    the cache key: changing them never retrains.
    """

    ngf: int = Field(64, ge=1, le=512, description="generator filters in the first layer")
    discriminator: Literal["basic", "n_layers", "pixel"] = Field(
        "basic", description="basic: 70x70 PatchGAN; n_layers: PatchGAN with n_layers_d; pixel: 1x1")
    ndf: int = Field(64, ge=1, le=512, description="discriminator filters in the first layer")
    n_layers_d: int = Field(3, ge=1, le=8, description="PatchGAN layers (discriminator n_layers)")
    init_type: Literal["normal", "xavier", "kaiming", "orthogonal"] = Field("normal", description="weight init")
    init_gain: float = Field(0.02, gt=0, le=1, description="scale of normal/xavier/orthogonal init")
    lr: float = Field(2e-4, gt=0, le=1, description="Adam learning rate")
    beta1: float = Field(0.5, ge=0, lt=1, description="Adam beta1")
    niter: int = Field(2000, ge=0, le=10_000_000, description="steps at the initial learning rate")
    niter_decay: int = Field(2000, ge=0, le=10_000_000, description="steps of linear decay to zero")
    load_size: int = Field(286, ge=8, le=8192, description="resize images to this square first")
    crop_size: int = Field(256, ge=8, le=8192, description="random crop size = network input size")
    preprocess: Literal["resize_and_crop", "crop", "resize"] = Field(
        "resize_and_crop", description="resize to load_size then crop | crop only | resize to crop_size")
    flip: bool = Field(True, description="random horizontal flips")
    checkpoint_every: Annotated[int, NOT_IN_CACHE_KEY] = Field(
        500, ge=0, le=10_000_000, description="steps between resumable checkpoints")
    preview_every: Annotated[int, NOT_IN_CACHE_KEY] = Field(
        250, ge=0, le=10_000_000, description="steps between preview images (0: none)")
    preview_dir: Annotated[OutputPathOrEmpty, NOT_IN_CACHE_KEY] = Field(
        "", description="folder for previews; empty: the node's scratch folder")
    seed: int = Field(0, ge=0, description="seed for init, sampling, augmentation (and dropout/pools)")


def check_schedule(p: Any) -> None:
    """Refuse a training that cannot run: no steps, or crops larger than the loaded image."""
    if p.niter + p.niter_decay < 1:
        raise NodeError("niter + niter_decay must be at least 1", field="niter")
    if p.crop_size > p.load_size and p.preprocess == "resize_and_crop":
        raise NodeError(f"crop_size {p.crop_size} exceeds load_size {p.load_size}", field="crop_size",
                        hint="raise load_size or lower crop_size")
