"""The ``Pix2Pix`` model handle: one generator plus what it was trained to do.

Saved as ``generator.safetensors`` (weights; the options are also embedded in its metadata so
the file alone is enough) plus ``options.json``::

    {"format": "nodeflow-pix2pix/1", "generator": {"arch": "unet_256", "input_nc": 1, "output_nc": 2,
     "ngf": 64, "norm": "batch", "dropout": true}, "mode": "colorization", "direction": "AtoB",
     "net_size": 256}

``mode`` says how frames become network input: ``colorization`` (L -> ab in Lab, 1 -> 2 channels),
``gray2rgb`` (luminance -> RGB, 1 -> 3) or ``aligned`` (image -> image, e.g. labels -> facades).
``net_size`` is the square size the generator was trained at (used by ``resolution: model``).
An optional ``"ab_bins": {"grid": 10, "temperature": 0.38}`` marks a colorizer whose head predicts
ab-bin logits, decoded by the annealed mean (:mod:`.bins`); it is still L -> ab to every caller.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar, Literal

import torch
from safetensors import safe_open
from torch import nn

from nodeflow.checkpoint import load_json, load_safetensors, save_json, save_safetensors
from nodeflow.errors import NodeError
from nodeflow.handles import ModelHandle

from ..gan.checkpoints import load_into
from ..gan.generators import GeneratorSpec, build_generator, parse_arch
from .bins import BinnedResnetGenerator

Mode = Literal["colorization", "gray2rgb", "aligned"]
FORMAT = "nodeflow-pix2pix/1"
WEIGHTS = "generator.safetensors"
OPTIONS = "options.json"
META_KEY = "nodeflow"


def mode_for_channels(input_nc: int, output_nc: int) -> str:
    """What a generator with these channel counts most likely does."""
    if input_nc == 1 and output_nc == 2:
        return "colorization"
    if input_nc == 1 and output_nc == 3:
        return "gray2rgb"
    return "aligned"


def default_net_size(spec: GeneratorSpec) -> int:
    """Training size of a generator: a U-Net's own size (bottleneck 1x1), else 256 (the reference's)."""
    family, n = parse_arch(spec.arch)
    return 2**n if family == "unet" else 256


def save_generator(path: Path, net: nn.Module, options: dict[str, Any]) -> None:
    """Weights as safetensors with ``options`` (JSON) in the file's metadata."""
    save_safetensors(path, net.state_dict(), metadata={META_KEY: json.dumps(options, sort_keys=True)})


def read_safetensors_options(path: Path) -> dict[str, Any] | None:
    """The options embedded by :func:`save_generator`, or None for a bare safetensors file."""
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
    text = meta.get(META_KEY)
    return json.loads(text) if text else None


class Pix2PixHandle(ModelHandle):
    kind: ClassVar[str] = "Pix2Pix"

    def __init__(self, net: nn.Module, spec: GeneratorSpec, *, mode: str | None = None,
                 direction: str = "AtoB", net_size: int | None = None):
        self.net = net.eval()
        self.spec = spec
        self.mode = mode or mode_for_channels(spec.input_nc, spec.output_nc)
        self.direction = direction
        self.net_size = int(net_size or default_net_size(spec))

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    def options(self) -> dict[str, Any]:
        options = {"format": FORMAT, "generator": self.spec.to_dict(), "mode": self.mode,
                   "direction": self.direction, "net_size": self.net_size}
        if isinstance(self.net, BinnedResnetGenerator):
            options["ab_bins"] = self.net.options()
        return options

    @classmethod
    def from_options(cls, options: dict[str, Any], state: dict[str, torch.Tensor],
                     device: torch.device | str = "cpu", what: str = "checkpoint") -> Pix2PixHandle:
        if options.get("format") != FORMAT:
            raise NodeError(f"{what} is not a nodeflow Pix2Pix model (format {options.get('format')!r})",
                            field="path")
        spec = GeneratorSpec.from_dict(options["generator"])
        if options.get("ab_bins"):
            bins = options["ab_bins"]
            try:
                grid, temperature = float(bins["grid"]), float(bins["temperature"])
            except (TypeError, KeyError, ValueError):
                raise NodeError(f"{what}: options.json's ab_bins must be {{\"grid\": number, \"temperature\": "
                                f"number}}, got {bins!r}", field="path",
                                hint="re-save the model with train_colorizer.py, or fix options.json") from None
            net = load_into(BinnedResnetGenerator(spec, grid, temperature), state, what=what).eval().to(device)
        else:
            net = build_generator(spec, state, device, what)
        return cls(net, spec, mode=options.get("mode"),
                   direction=options.get("direction", "AtoB"), net_size=options.get("net_size"))

    # -- ModelHandle ---------------------------------------------------------------------------
    def save(self, folder: Path) -> None:
        folder = Path(folder)
        save_generator(folder / WEIGHTS, self.net, self.options())
        save_json(folder / OPTIONS, self.options())

    @classmethod
    def load(cls, folder: Path, device: torch.device | str = "cpu") -> Pix2PixHandle:
        folder = Path(folder)
        options = load_json(folder / OPTIONS)
        return cls.from_options(options, load_safetensors(folder / WEIGHTS), device, what=str(folder))

    def to(self, device: torch.device | str) -> Pix2PixHandle:
        if self.device != torch.device(device):
            self.net.to(device)
        return self
