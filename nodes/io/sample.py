"""SampleImage: scikit-image's bundled test images, for demos that need no files."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import torch
from pydantic import Field

from nodeflow.context import RunContext
from nodeflow.errors import NodeError
from nodeflow.node import Node, Output
from nodeflow.params import NodeParams
from nodeflow.types import IMAGE

from ..composite.tensor_ops import resize

SampleName = Literal[
    "astronaut", "camera", "coffee", "chelsea", "cat", "rocket", "coins", "moon", "page", "text",
    "horse", "clock", "brick", "grass", "gravel", "colorwheel", "logo", "immunohistochemistry",
    "hubble_deep_field", "retina", "cell", "checkerboard", "microaneurysms",
]
"""Images shipped inside the scikit-image package (no download needed)."""


def load_sample(name: str) -> np.ndarray:
    """``skimage.data.<name>()`` as float32 ``(H, W, 3|4)`` in [0, 1]."""
    try:
        import skimage.data
    except ImportError:
        raise NodeError("SampleImage needs scikit-image, which is not installed", field="name",
                        hint="pip install 'nodeflow[demo]' (or scikit-image)") from None
    arr = np.asarray(getattr(skimage.data, name)())
    if arr.dtype == bool:
        arr = arr.astype(np.float32)
    elif arr.dtype == np.uint16:
        arr = arr.astype(np.float32) / 65535.0
    elif arr.dtype == np.uint8:
        arr = arr.astype(np.float32) / 255.0
    else:
        arr = np.clip(arr.astype(np.float32), 0, 1)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    return arr


class SampleImage(Node):
    """A test image from scikit-image (``skimage.data``) by name, for demos without files.

    E.g. astronaut, camera (B&W), coffee, chelsea (a cat), rocket, logo (RGBA). Grey images
    become three equal channels. ``max_size`` shrinks the longer side (keeps demos and tests
    fast). Needs scikit-image (``pip install nodeflow[demo]``).
    """

    category = "input"
    outputs = (Output("image", IMAGE, "(1, 3|4, H, W)"),)

    class Params(NodeParams):
        name: SampleName = Field("astronaut", description="skimage.data image name")
        max_size: int = Field(0, ge=0, le=8192, description="shrink so the longer side is at most this; 0 = as is")

    def run(self, ctx: RunContext) -> dict[str, Any]:
        arr = load_sample(self.params.name)
        image = torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))[None].to(ctx.device)
        h, w = image.shape[-2:]
        m = self.params.max_size
        if m and max(h, w) > m:
            s = m / max(h, w)
            image = resize(image, (max(1, round(h * s)), max(1, round(w * s))), "bilinear")
        return {"image": image}
