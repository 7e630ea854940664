"""LoadImage: one still from a file."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from nodeflow.context import RunContext
from nodeflow.errors import NodeError
from nodeflow.image_files import read_image
from nodeflow.node import Node, Output
from nodeflow.params import InputPath, NodeParams
from nodeflow.types import IMAGE, MASK

from ..composite.tensor_ops import alpha_of


class LoadImage(Node):
    """Read a PNG, JPEG, TIFF, WebP or BMP file, 8 or 16 bits per channel.

    Grayscale files (a B&W film frame) become three equal channels; alpha is kept (RGBA);
    EXIF orientation is applied. The result is a still ``(1, C, H, W)`` that broadcasts over
    any clip it is combined with.
    """

    category = "input"
    outputs = (
        Output("image", IMAGE, "(1, 3|4, H, W)"),
        Output("alpha", MASK, "(1, 1, H, W) the file's alpha, ones when it has none"),
    )

    class Params(NodeParams):
        path: InputPath = Field(description="image file, relative to the graph file's folder")

    def run(self, ctx: RunContext) -> dict[str, Any]:
        path = ctx.input_path(self.params.path)
        try:
            image = read_image(path)
        except FileNotFoundError:
            raise NodeError(f"file not found: {path}", field="path",
                            hint="relative paths are relative to the graph file's folder") from None
        except (OSError, ValueError) as exc:
            raise NodeError(f"cannot read {path} as an image: {exc}", field="path",
                            hint="use PNG, JPEG, TIFF, WebP or BMP") from None
        image = image.to(ctx.device)
        return {"image": image, "alpha": alpha_of(image)}
