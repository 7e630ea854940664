"""Running a Pix2Pix generator on frames: colorization with the original L, and plain translation.

Resolution: with ``resolution="model"`` the network input is resized, aspect kept, so its longest
side is the size it was trained at (``handle.net_size``, 256 for ``unet_256``), padded to the
network's multiple (never stretched to a square), and its output resized back; for
colorization only the predicted ab (low-frequency colour) is resized, and it is recombined with
the frame's own full-resolution L, so no detail is lost. With ``resolution="full"`` the frame is
padded to the network's multiple (256 for ``unet_256``, 4 for ResNets) and cropped back.
"""

from __future__ import annotations

from torch import Tensor

from nodeflow.types import luminance

from ..gan.inference import resize, run_generator
from ..gan.lab import lab_norm_to_rgb, lightness_norm, rgb_to_lab_norm
from .handle import Pix2PixHandle


def generate(handle: Pix2PixHandle, x: Tensor, *, resolution: str = "model", precision: str = "auto",
             per_image_norm: bool = False) -> Tensor:
    """``(B, input_nc, H, W)`` in [-1, 1] -> float32 ``(B, output_nc, H', W')`` in [-1, 1].

    ``H', W'`` = the aspect-kept :func:`model_size` (longest side ``net_size``) for
    ``resolution="model"``, else ``H, W``.
    """
    return run_generator(handle.net, x, multiple=handle.spec.multiple, net_size=handle.net_size,
                         resolution=resolution, precision=precision, per_image_norm=per_image_norm)


def _network_input(handle: Pix2PixHandle, rgb: Tensor) -> Tensor:
    """Frames ``(B, 3, H, W)`` in [0, 1] -> network input in [-1, 1] for the handle's mode."""
    if handle.mode == "colorization":
        return lightness_norm(rgb)
    if handle.spec.input_nc == 1:
        return luminance(rgb) * 2 - 1
    if handle.spec.input_nc == 3:
        return rgb * 2 - 1
    raise ValueError(f"a generator with {handle.spec.input_nc} input channels cannot take RGB frames")


def colorize(handle: Pix2PixHandle, rgb: Tensor, *, resolution: str = "model", precision: str = "auto",
             saturation: float = 1.0, per_image_norm: bool = False) -> Tensor:
    """Gray (or colour) frames ``(B, 3, H, W)`` in [0, 1] -> colourised ``(B, 3, H, W)``, same L."""
    rgb = rgb[:, :3].float()
    l_norm = lightness_norm(rgb)
    net_input = l_norm if handle.mode == "colorization" else _network_input(handle, rgb)
    out = generate(handle, net_input, resolution=resolution, precision=precision, per_image_norm=per_image_norm)
    if handle.mode == "colorization":
        ab = out
    else:  # an RGB-producing generator: keep only its colour
        ab = rgb_to_lab_norm((out[:, :3] + 1) / 2)[1]
    ab = resize(ab, tuple(rgb.shape[-2:]))
    return lab_norm_to_rgb(l_norm, ab * saturation)


def translate(handle: Pix2PixHandle, rgb: Tensor, *, resolution: str = "model", precision: str = "auto",
              per_image_norm: bool = False) -> Tensor:
    """Frames ``(B, 3, H, W)`` in [0, 1] -> the generator's output as RGB ``(B, 3, H, W)`` in [0, 1]."""
    rgb = rgb[:, :3].float()
    if handle.mode == "colorization":
        return colorize(handle, rgb, resolution=resolution, precision=precision, per_image_norm=per_image_norm)
    out = generate(handle, _network_input(handle, rgb), resolution=resolution, precision=precision,
                   per_image_norm=per_image_norm)
    out = resize(out, tuple(rgb.shape[-2:]))
    if out.shape[1] == 1:
        out = out.expand(-1, 3, -1, -1)
    elif out.shape[1] != 3:
        raise ValueError(f"a generator with {out.shape[1]} output channels does not produce RGB")
    return ((out + 1) / 2).clamp(0, 1)
