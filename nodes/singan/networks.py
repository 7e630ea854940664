"""Per-scale generator and Markovian discriminator of SinGAN.

Both are 5 unpadded 3×3 conv blocks (conv, BatchNorm, LeakyReLU 0.2); the generator ends in a
3-channel conv + tanh and adds its input image back (``G(z + up(x)) + up(x)``, so each scale only
learns the residual detail), the discriminator ends in a 1-channel conv: a map of patch scores
(receptive field 11 px). Widths follow the reference: ``nfc = min(32 · 2^⌊n/4⌋, 128)`` at scale
``n``, with the reference's body-width rule. Module names equal the reference's so its per-scale
``netG.pth`` state dicts load as they are.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def scale_width(scale: int, nfc: int = 32, min_nfc: int = 32, max_nfc: int = 128) -> tuple[int, int]:
    """``(nfc, min_nfc)`` used at ``scale`` (the reference doubles both every 4 scales, up to 128)."""
    k = 2 ** (scale // 4)
    return min(nfc * k, max_nfc), min(min_nfc * k, max_nfc)


def block_widths(nfc: int, min_nfc: int, num_layer: int = 5) -> list[int]:
    """Output channels of the head and the ``num_layer - 2`` body blocks (reference rule)."""
    widths = [nfc]
    for i in range(num_layer - 2):
        widths.append(max(int(nfc / 2 ** (i + 1)), min_nfc))
    return widths


class ConvBlock(nn.Sequential):
    def __init__(self, cin: int, cout: int, ker: int = 3):
        super().__init__()
        self.add_module("conv", nn.Conv2d(cin, cout, kernel_size=ker, stride=1, padding=0))
        self.add_module("norm", nn.BatchNorm2d(cout))
        self.add_module("LeakyRelu", nn.LeakyReLU(0.2, inplace=True))


def _body(widths: list[int], ker: int) -> nn.Sequential:
    body = nn.Sequential()
    for i in range(1, len(widths)):
        body.add_module(f"block{i}", ConvBlock(widths[i - 1], widths[i], ker))
    return body


class Generator(nn.Module):
    """Residual generator of one scale.

    ``forward(z, y)``: ``z`` = noise·amp + ``y``, both ``(B, C, h + 2p, w + 2p)`` (zero-padded by
    ``p = num_layer · (ker - 1) / 2`` = 5); returns ``(B, C, h, w)`` = net(z) + centre crop of y.
    """

    def __init__(self, widths: list[int], nc: int = 3, ker: int = 3):
        super().__init__()
        self.widths = list(widths)
        self.nc = nc
        self.ker = ker
        self.head = ConvBlock(nc, widths[0], ker)
        self.body = _body(widths, ker)
        self.tail = nn.Sequential(nn.Conv2d(widths[-1], nc, kernel_size=ker, stride=1, padding=0), nn.Tanh())

    @property
    def pad(self) -> int:
        return (len(self.widths) + 1) * (self.ker - 1) // 2

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        x = self.tail(self.body(self.head(z)))
        ind = (y.shape[2] - x.shape[2]) // 2
        return x + y[:, :, ind: y.shape[2] - ind, ind: y.shape[3] - ind]


class Discriminator(nn.Module):
    """Markovian (patch) WGAN critic: ``(B, C, h, w)`` -> ``(B, 1, h - 10, w - 10)`` scores."""

    def __init__(self, widths: list[int], nc: int = 3, ker: int = 3):
        super().__init__()
        self.head = ConvBlock(nc, widths[0], ker)
        self.body = _body(widths, ker)
        self.tail = nn.Conv2d(widths[-1], 1, kernel_size=ker, stride=1, padding=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.tail(self.body(self.head(x)))


@torch.no_grad()
def init_weights(module: nn.Module, generator: torch.Generator) -> None:
    """The reference's init (conv N(0, 0.02), BN weight N(1, 0.02), bias 0), seeded.

    Conv biases keep PyTorch's default distribution U(±1/√fan_in) but are drawn from ``generator``
    too, so a model depends on nothing but the seed.
    """
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            m.weight.copy_(torch.randn(m.weight.shape, generator=generator) * 0.02)
            if m.bias is not None:
                bound = 1 / math.sqrt(m.weight.shape[1] * m.weight.shape[2] * m.weight.shape[3])
                m.bias.copy_((torch.rand(m.bias.shape, generator=generator) * 2 - 1) * bound)
        elif isinstance(m, nn.BatchNorm2d):
            m.weight.copy_(1 + torch.randn(m.weight.shape, generator=generator) * 0.02)
            m.bias.zero_()


def generator_from_state(state: dict[str, torch.Tensor]) -> Generator:
    """Build a :class:`Generator` whose shapes match a (reference or our) state dict."""
    head = state["head.conv.weight"]
    widths = [head.shape[0]]
    i = 1
    while f"body.block{i}.conv.weight" in state:
        widths.append(state[f"body.block{i}.conv.weight"].shape[0])
        i += 1
    g = Generator(widths, nc=head.shape[1], ker=head.shape[2])
    g.load_state_dict(state, strict=True)
    return g
