"""Generators shared by the pix2pix and CycleGAN families: U-Net and ResNet, key-for-key the reference's.

Module structure and ``state_dict`` key names equal junyanz/pytorch-CycleGAN-and-pix2pix
``models/networks.py``, so its published ``latest_net_G.pth`` files load as they are:

- ``ResnetGenerator`` (``resnet_6blocks``/``resnet_9blocks``): ``model.<i>`` in one Sequential,
  ResNet blocks as ``model.<i>.conv_block.<j>``; 2 stride-2 downsamplings, so sizes must be
  multiples of 4.
- ``UnetGenerator`` (``unet_128``/``unet_256``): nested ``UnetSkipConnectionBlock``s, keys like
  ``model.model.1.model.3.model.1.weight``; ``num_downs`` halvings, so sizes must be multiples of
  ``2**num_downs`` (128 and 256 at their training size bring the bottleneck to 1x1). ``unet_32`` and
  ``unet_64`` (5 and 6 downs) are the same class with fewer levels, for small images.

:class:`GeneratorSpec` names an architecture plus its options; :func:`infer_generator_spec` reads
them back from a state dict's keys and shapes.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any, Literal

import torch
from torch import Tensor, nn

from nodeflow.errors import NodeError

from .checkpoints import load_into, strip_prefix
from .init import init_weights
from .norm import conv_bias, get_norm_layer

GeneratorName = Literal["unet_256", "unet_128", "unet_64", "unet_32", "resnet_9blocks", "resnet_6blocks"]
_ARCH = re.compile(r"^(?:resnet_(?P<blocks>\d+)blocks|unet_(?P<size>\d+))$")


class ResnetBlock(nn.Module):
    """``x + conv_block(x)``: pad, 3x3 conv, norm, ReLU, [dropout], pad, 3x3 conv, norm."""

    def __init__(self, dim: int, padding_type: str, norm: str, use_dropout: bool, use_bias: bool):
        super().__init__()
        norm_layer = get_norm_layer(norm)
        block: list[nn.Module] = []
        for second in (False, True):
            p = 0
            if padding_type == "reflect":
                block.append(nn.ReflectionPad2d(1))
            elif padding_type == "replicate":
                block.append(nn.ReplicationPad2d(1))
            elif padding_type == "zero":
                p = 1
            else:
                raise ValueError(f"padding {padding_type!r} is not implemented")
            block += [nn.Conv2d(dim, dim, kernel_size=3, padding=p, bias=use_bias), norm_layer(dim)]
            if not second:
                block.append(nn.ReLU(True))
                if use_dropout:
                    block.append(nn.Dropout(0.5))
        self.conv_block = nn.Sequential(*block)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    """``(B, input_nc, H, W) -> (B, output_nc, H, W)`` in [-1, 1]; H, W multiples of 4.

    7x7 conv, two stride-2 convs, ``n_blocks`` ResNet blocks at 4*ngf channels, two transposed
    convs back up, 7x7 conv, tanh (Johnson et al.'s fast-style-transfer network).
    """

    def __init__(self, input_nc: int, output_nc: int, ngf: int = 64, norm: str = "batch",
                 use_dropout: bool = False, n_blocks: int = 6, padding_type: str = "reflect"):
        if n_blocks < 0:
            raise ValueError("n_blocks must be >= 0")
        super().__init__()
        norm_layer = get_norm_layer(norm)
        use_bias = conv_bias(norm)
        model: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(input_nc, ngf, kernel_size=7, padding=0, bias=use_bias),
            norm_layer(ngf),
            nn.ReLU(True),
        ]
        n_down = 2
        for i in range(n_down):
            mult = 2**i
            model += [nn.Conv2d(ngf * mult, ngf * mult * 2, kernel_size=3, stride=2, padding=1, bias=use_bias),
                      norm_layer(ngf * mult * 2), nn.ReLU(True)]
        mult = 2**n_down
        model += [ResnetBlock(ngf * mult, padding_type, norm, use_dropout, use_bias) for _ in range(n_blocks)]
        for i in range(n_down):
            mult = 2 ** (n_down - i)
            model += [nn.ConvTranspose2d(ngf * mult, ngf * mult // 2, kernel_size=3, stride=2, padding=1,
                                         output_padding=1, bias=use_bias),
                      norm_layer(ngf * mult // 2), nn.ReLU(True)]
        model += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, kernel_size=7, padding=0), nn.Tanh()]
        self.model = nn.Sequential(*model)

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)


class UnetSkipConnectionBlock(nn.Module):
    """One U-Net level: ``x -> cat([x, up(sub(down(x)))])`` (the outermost level returns no skip).

    ``model`` is a Sequential: outermost ``[downconv, sub, uprelu, upconv, tanh]``; innermost
    ``[downrelu, downconv, uprelu, upconv, upnorm]``; others ``[downrelu, downconv, downnorm, sub,
    uprelu, upconv, upnorm(, dropout)]`` — the indices fix the state-dict keys.
    """

    def __init__(self, outer_nc: int, inner_nc: int, input_nc: int | None = None,
                 submodule: nn.Module | None = None, outermost: bool = False, innermost: bool = False,
                 norm: str = "batch", use_dropout: bool = False):
        super().__init__()
        self.outermost = outermost
        norm_layer = get_norm_layer(norm)
        use_bias = conv_bias(norm)
        if input_nc is None:
            input_nc = outer_nc
        downconv = nn.Conv2d(input_nc, inner_nc, kernel_size=4, stride=2, padding=1, bias=use_bias)
        downrelu = nn.LeakyReLU(0.2, True)
        uprelu = nn.ReLU(True)
        if outermost:
            assert submodule is not None
            upconv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, kernel_size=4, stride=2, padding=1)
            model: list[nn.Module] = [downconv, submodule, uprelu, upconv, nn.Tanh()]
        elif innermost:
            upconv = nn.ConvTranspose2d(inner_nc, outer_nc, kernel_size=4, stride=2, padding=1, bias=use_bias)
            model = [downrelu, downconv, uprelu, upconv, norm_layer(outer_nc)]
        else:
            assert submodule is not None
            upconv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, kernel_size=4, stride=2, padding=1, bias=use_bias)
            model = [downrelu, downconv, norm_layer(inner_nc), submodule, uprelu, upconv, norm_layer(outer_nc)]
            if use_dropout:
                model.append(nn.Dropout(0.5))
        self.model = nn.Sequential(*model)

    def forward(self, x: Tensor) -> Tensor:
        if self.outermost:
            return self.model(x)
        return torch.cat([x, self.model(x)], 1)


class UnetGenerator(nn.Module):
    """``(B, input_nc, H, W) -> (B, output_nc, H, W)`` in [-1, 1]; H, W multiples of ``2**num_downs``.

    Built from the innermost level out: ``num_downs - 5`` levels at 8*ngf (with dropout when
    asked), then 8->4->2->1 * ngf, then the outermost level.
    """

    def __init__(self, input_nc: int, output_nc: int, num_downs: int, ngf: int = 64, norm: str = "batch",
                 use_dropout: bool = False):
        if num_downs < 5:
            raise ValueError("a U-Net needs num_downs >= 5")
        super().__init__()
        block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, norm=norm, innermost=True)
        for _ in range(num_downs - 5):
            block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, submodule=block, norm=norm, use_dropout=use_dropout)
        block = UnetSkipConnectionBlock(ngf * 4, ngf * 8, submodule=block, norm=norm)
        block = UnetSkipConnectionBlock(ngf * 2, ngf * 4, submodule=block, norm=norm)
        block = UnetSkipConnectionBlock(ngf, ngf * 2, submodule=block, norm=norm)
        self.model = UnetSkipConnectionBlock(output_nc, ngf, input_nc=input_nc, submodule=block, outermost=True,
                                             norm=norm)

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)


# ---------------------------------------------------------------------------------------------
# architecture specs


def parse_arch(arch: str) -> tuple[str, int]:
    """``'resnet_9blocks'`` -> ('resnet', 9); ``'unet_256'`` -> ('unet', 8 downsamplings)."""
    m = _ARCH.match(arch)
    if m is None:
        raise ValueError(f"unknown generator {arch!r}; expected resnet_<n>blocks or unet_<size>")
    if m.group("blocks") is not None:
        return "resnet", int(m.group("blocks"))
    size = int(m.group("size"))
    downs = size.bit_length() - 1
    if size != 2**downs or downs < 5:
        raise ValueError(f"unknown generator {arch!r}; U-Net sizes are powers of two >= 32")
    return "unet", downs


@dataclass(frozen=True)
class GeneratorSpec:
    """Everything needed to rebuild a generator (the JSON saved beside its weights)."""

    arch: str
    input_nc: int = 3
    output_nc: int = 3
    ngf: int = 64
    norm: str = "batch"
    dropout: bool = False

    def __post_init__(self) -> None:
        parse_arch(self.arch)

    @property
    def family(self) -> str:
        return parse_arch(self.arch)[0]

    @property
    def multiple(self) -> int:
        """Frame sizes the network accepts are multiples of this."""
        family, n = parse_arch(self.arch)
        return 4 if family == "resnet" else 2**n

    def build(self, init_type: str | None = None, init_gain: float = 0.02) -> nn.Module:
        family, n = parse_arch(self.arch)
        if family == "resnet":
            net: nn.Module = ResnetGenerator(self.input_nc, self.output_nc, self.ngf, self.norm, self.dropout, n)
        else:
            net = UnetGenerator(self.input_nc, self.output_nc, n, self.ngf, self.norm, self.dropout)
        return init_weights(net, init_type, init_gain) if init_type else net

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GeneratorSpec:
        names = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in names})


def _unet_prefix(depth: int) -> str:
    """State-dict prefix of U-Net level ``depth`` (0 = outermost)."""
    return "model.model." + ("1.model." + "3.model." * (depth - 1) if depth else "")


def infer_generator_spec(state: dict[str, Tensor], *, field_name: str = "path") -> GeneratorSpec:
    """Read architecture, channels, ngf, norm and (for ResNets) dropout from a state dict's keys."""
    state = strip_prefix(state)
    try:
        if any(".conv_block." in k for k in state):
            blocks = sorted({int(k.split(".")[1]) for k in state if ".conv_block." in k})
            n = len(blocks)
            first = state["model.1.weight"]
            last = state[f"model.{17 + n}.weight"]
            # the second conv sits at index 5, or at 6 when a Dropout precedes its padding
            dropout = f"model.{blocks[0]}.conv_block.5.weight" not in state
            norm = "batch" if "model.2.weight" in state else ("instance" if "model.1.bias" in state else "none")
            return GeneratorSpec(f"resnet_{n}blocks", int(first.shape[1]), int(last.shape[0]),
                                 int(first.shape[0]), norm, dropout)
        if "model.model.0.weight" in state:
            depth = 1
            while _unet_prefix(depth + 1) + "1.weight" in state:
                depth += 1
            first = state["model.model.0.weight"]
            last = state["model.model.3.weight"]  # ConvTranspose2d: (in, out, k, k)
            p1 = _unet_prefix(1)
            norm = "batch" if p1 + "2.weight" in state else ("instance" if p1 + "1.bias" in state else "none")
            return GeneratorSpec(f"unet_{2 ** (depth + 1)}", int(first.shape[1]), int(last.shape[1]),
                                 int(first.shape[0]), norm, False)
    except (KeyError, ValueError) as exc:
        raise NodeError(f"the weights look like a pix2pix/CycleGAN generator but are incomplete ({exc})",
                        field=field_name) from None
    sample = ", ".join(list(state)[:5])
    raise NodeError(f"cannot recognise a U-Net or ResNet generator from the keys ({sample}, ...)",
                    field=field_name, hint="expected a generator state dict such as latest_net_G.pth; "
                                           "discriminator files (net_D) cannot be used for inference")


def build_generator(spec: GeneratorSpec, state: dict[str, torch.Tensor], device: torch.device | str,
                    what: str, field_name: str = "path") -> nn.Module:
    """``spec``'s network with ``state`` loaded (reference clean-up applied), in eval mode on ``device``."""
    net = spec.build()
    load_into(net, state, what=what, field_name=field_name)
    return net.eval().to(device)
