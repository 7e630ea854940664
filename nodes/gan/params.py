"""Param field types shared by the GAN node families."""

from __future__ import annotations

from typing import Literal

import torch

PrecisionField = Literal["auto", "fp32", "fp16", "bf16"]
PRECISION_DOC = ("inference precision: 'auto' = fp16 autocast on CUDA and fp32 on CPU; 'bf16' also works "
                 "on CPU")


def keep_alpha(rgb: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """Re-attach ``image``'s alpha channel (if it has one) to the processed ``(B, 3, H, W)`` ``rgb``."""
    if image.shape[1] == 4:
        return torch.cat([rgb, image[:, 3:4].to(rgb)], dim=1)
    return rgb
