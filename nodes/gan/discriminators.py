"""Discriminators of the reference: PatchGAN (``NLayerDiscriminator``) and the 1x1 PixelGAN.

Module structure and state-dict keys equal the reference's ``models/networks.py`` so that
discriminator checkpoints are interchangeable too. Both output raw scores (no sigmoid): the
vanilla GAN loss applies ``BCEWithLogits`` itself.
"""

from __future__ import annotations

from typing import Literal

from torch import Tensor, nn

from .init import init_weights
from .norm import conv_bias, get_norm_layer

DiscriminatorType = Literal["basic", "n_layers", "pixel"]


class NLayerDiscriminator(nn.Module):
    """PatchGAN: ``(B, input_nc, H, W) -> (B, 1, H', W')``, one real/fake score per patch.

    With ``n_layers=3`` each score sees a 70x70 patch. Channels double per layer up to 8 * ndf.
    """

    def __init__(self, input_nc: int, ndf: int = 64, n_layers: int = 3, norm: str = "batch"):
        super().__init__()
        norm_layer = get_norm_layer(norm)
        use_bias = conv_bias(norm)
        kw, padw = 4, 1
        sequence: list[nn.Module] = [
            nn.Conv2d(input_nc, ndf, kernel_size=kw, stride=2, padding=padw),
            nn.LeakyReLU(0.2, True),
        ]
        mult = 1
        for n in range(1, n_layers):
            prev, mult = mult, min(2**n, 8)
            sequence += [
                nn.Conv2d(ndf * prev, ndf * mult, kernel_size=kw, stride=2, padding=padw, bias=use_bias),
                norm_layer(ndf * mult),
                nn.LeakyReLU(0.2, True),
            ]
        prev, mult = mult, min(2**n_layers, 8)
        sequence += [
            nn.Conv2d(ndf * prev, ndf * mult, kernel_size=kw, stride=1, padding=padw, bias=use_bias),
            norm_layer(ndf * mult),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf * mult, 1, kernel_size=kw, stride=1, padding=padw),
        ]
        self.model = nn.Sequential(*sequence)

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)


class PixelDiscriminator(nn.Module):
    """1x1 PixelGAN: ``(B, input_nc, H, W) -> (B, 1, H, W)``, judges colour per pixel."""

    def __init__(self, input_nc: int, ndf: int = 64, norm: str = "batch"):
        super().__init__()
        norm_layer = get_norm_layer(norm)
        use_bias = conv_bias(norm)
        self.net = nn.Sequential(
            nn.Conv2d(input_nc, ndf, kernel_size=1, stride=1, padding=0),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf, ndf * 2, kernel_size=1, stride=1, padding=0, bias=use_bias),
            norm_layer(ndf * 2),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf * 2, 1, kernel_size=1, stride=1, padding=0, bias=use_bias),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


def define_D(input_nc: int, ndf: int = 64, kind: str = "basic", n_layers: int = 3, norm: str = "batch",
             init_type: str = "normal", init_gain: float = 0.02) -> nn.Module:
    """Build and initialise a discriminator: ``basic`` (3-layer PatchGAN), ``n_layers``, ``pixel``."""
    if kind == "basic":
        net: nn.Module = NLayerDiscriminator(input_nc, ndf, 3, norm)
    elif kind == "n_layers":
        net = NLayerDiscriminator(input_nc, ndf, n_layers, norm)
    elif kind == "pixel":
        net = PixelDiscriminator(input_nc, ndf, norm)
    else:
        raise ValueError(f"unknown discriminator {kind!r}; expected basic, n_layers or pixel")
    return init_weights(net, init_type, init_gain)
