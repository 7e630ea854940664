"""The ``CycleGAN`` model handle: the A -> B generator and, when known, the B -> A one.

Saved as ``G_A.safetensors`` (+ ``G_B.safetensors``), each with its options embedded, plus
``options.json``::

    {"format": "nodeflow-cyclegan/1", "G_A": {"arch": "resnet_9blocks", "input_nc": 3, ...},
     "G_B": {...} or null, "net_size": 256}

A reference ``latest_net_G.pth`` (the published style_monet, horse2zebra, ... files) is one
direction only: it becomes ``G_A`` and ``Stylize`` with ``direction: BtoA`` is an error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from nodeflow.checkpoint import load_json, load_safetensors, save_json
from nodeflow.errors import NodeError
from nodeflow.handles import ModelHandle

from ..gan.generators import GeneratorSpec, build_generator
from ..pix2pix.handle import save_generator

FORMAT = "nodeflow-cyclegan/1"
OPTIONS = "options.json"
WEIGHTS = {"AtoB": "G_A.safetensors", "BtoA": "G_B.safetensors"}
SPEC_KEYS = {"AtoB": "G_A", "BtoA": "G_B"}


class CycleGANHandle(ModelHandle):
    kind: ClassVar[str] = "CycleGAN"

    def __init__(self, g_a: nn.Module, spec_a: GeneratorSpec, g_b: nn.Module | None = None,
                 spec_b: GeneratorSpec | None = None, *, net_size: int = 256):
        self.nets: dict[str, nn.Module] = {"AtoB": g_a.eval()}
        self.specs: dict[str, GeneratorSpec] = {"AtoB": spec_a}
        if g_b is not None:
            if spec_b is None:
                raise ValueError("G_B needs its spec")
            self.nets["BtoA"] = g_b.eval()
            self.specs["BtoA"] = spec_b
        self.net_size = int(net_size)

    def generator(self, direction: str) -> tuple[nn.Module, GeneratorSpec]:
        """The network and spec for ``direction`` ('AtoB' or 'BtoA')."""
        if direction not in self.nets:
            raise NodeError(f"this CycleGAN model has no {direction} generator (only "
                            f"{', '.join(self.nets)})", field="direction",
                            hint="a reference latest_net_G.pth holds one direction; load latest_net_G_B.pth "
                                 "as path_b, or use direction AtoB")
        return self.nets[direction], self.specs[direction]

    def options(self) -> dict[str, Any]:
        return {"format": FORMAT, "net_size": self.net_size,
                **{SPEC_KEYS[d]: (self.specs[d].to_dict() if d in self.specs else None) for d in SPEC_KEYS}}

    @classmethod
    def from_options(cls, options: dict[str, Any], states: dict[str, dict[str, torch.Tensor]],
                     device: torch.device | str = "cpu", what: str = "model") -> CycleGANHandle:
        if options.get("format") != FORMAT:
            raise NodeError(f"{what} is not a nodeflow CycleGAN model (format {options.get('format')!r})",
                            field="path")
        nets: dict[str, tuple[nn.Module, GeneratorSpec]] = {}
        for d, key in SPEC_KEYS.items():
            if options.get(key) and d in states:
                spec = GeneratorSpec.from_dict(options[key])
                nets[d] = (build_generator(spec, states[d], device, f"{what} ({key})"), spec)
        if "AtoB" not in nets:
            raise NodeError(f"{what} has no G_A generator", field="path")
        g_b, spec_b = nets.get("BtoA", (None, None))
        return cls(*nets["AtoB"], g_b, spec_b, net_size=options.get("net_size", 256))

    # -- ModelHandle ---------------------------------------------------------------------------
    def save(self, folder: Path) -> None:
        folder = Path(folder)
        options = self.options()
        for d, net in self.nets.items():
            save_generator(folder / WEIGHTS[d], net, options)
        save_json(folder / OPTIONS, options)

    @classmethod
    def load(cls, folder: Path, device: torch.device | str = "cpu") -> CycleGANHandle:
        folder = Path(folder)
        options = load_json(folder / OPTIONS)
        states = {d: load_safetensors(folder / name) for d, name in WEIGHTS.items() if (folder / name).is_file()}
        return cls.from_options(options, states, device, what=str(folder))

    def to(self, device: torch.device | str) -> CycleGANHandle:
        for net in self.nets.values():
            if next(net.parameters()).device != torch.device(device):
                net.to(device)
        return self
