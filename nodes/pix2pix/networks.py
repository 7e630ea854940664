"""The pix2pix generators: they live in :mod:`..gan.generators`, shared with CycleGAN (re-exported here)."""

from __future__ import annotations

from ..gan.generators import (
    GeneratorName,
    GeneratorSpec,
    ResnetBlock,
    ResnetGenerator,
    UnetGenerator,
    UnetSkipConnectionBlock,
    infer_generator_spec,
    parse_arch,
)

__all__ = [
    "GeneratorName",
    "GeneratorSpec",
    "ResnetBlock",
    "ResnetGenerator",
    "UnetGenerator",
    "UnetSkipConnectionBlock",
    "infer_generator_spec",
    "parse_arch",
]
