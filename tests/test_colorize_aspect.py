"""Colour is predicted on an aspect-preserving size near the model's scale, never on a stretched square."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from nodeflow.nodes.gan.inference import model_size, run_generator
from nodeflow.nodes.gan.lab import rgb_to_lab_norm
from nodeflow.nodes.pix2pix.apply import colorize
from nodeflow.nodes.pix2pix.handle import Pix2PixHandle
from nodeflow.nodes.pix2pix.networks import GeneratorSpec


class PointwiseColour(nn.Module):
    """A stand-in generator: a = L, b = -L at every pixel (so colour must land where its L is).

    Records the shape of every input it sees.
    """

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))
        self.seen: list[tuple[int, ...]] = []

    def forward(self, x: Tensor) -> Tensor:
        self.seen.append(tuple(x.shape))
        return torch.cat([x, -x], 1) * 0.3 * self.scale


def handle(net: nn.Module, net_size: int = 64) -> Pix2PixHandle:
    return Pix2PixHandle(net, GeneratorSpec("unet_32", 1, 2, 4), mode="colorization", net_size=net_size)


@pytest.mark.parametrize(("h", "w", "want"), [(272, 640, (27, 64)), (640, 272, (64, 27)), (50, 50, (64, 64)),
                                              (10, 1000, (1, 64))])
def test_model_size_keeps_the_aspect_and_fits_the_longest_side(h, w, want):
    assert model_size(h, w, 64) == want


def test_a_wide_frame_is_seen_at_its_own_aspect_padded_not_stretched():
    net = PointwiseColour()
    frame = torch.rand(2, 3, 68, 160)  # 2.35 : 1
    out = colorize(handle(net), frame, resolution="model")
    assert out.shape == frame.shape
    # longest side 64, aspect kept (27 x 64), padded to unet_32's multiple: 32 x 64, never 64 x 64
    assert net.seen == [(2, 1, 32, 64)]


def test_padded_model_resolution_puts_colour_where_its_lightness_is():
    # a vertical bar on a dark ground: its colour must come back at the bar, not shifted by the padding
    frame = torch.full((1, 3, 60, 150), 0.2)
    frame[..., 20:40, 100:120] = 0.9
    out = colorize(handle(PointwiseColour()), frame, resolution="model")
    _, ab = rgb_to_lab_norm(out)
    a = ab[0, 0]
    inside, outside = a[24:36, 104:116].mean(), a[:, :60].mean()
    assert inside > outside + 0.1
    assert a[24:36, 104:116].std() < 0.05  # no gradient across the bar from a shifted prediction


def test_square_frames_are_unchanged_by_the_padding_path():
    net = PointwiseColour()
    x = torch.rand(1, 1, 48, 48) * 2 - 1
    y = run_generator(net, x, multiple=32, net_size=64, resolution="model")
    assert net.seen == [(1, 1, 64, 64)] and y.shape == (1, 2, 64, 64)
