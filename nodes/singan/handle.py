"""The trained SinGAN pyramid as a socket value (``SinGAN`` handle) and its file format.

On disk (our format), a folder with two files, both readable without unpickling anything:

- ``singan.safetensors``: every trained scale's generator (``G{k}.<param>``, BatchNorm running
  statistics included), the fixed reconstruction noise ``Z{k}`` (zero-padded, ``(1, 3, h+10, w+10)``,
  like the reference's ``Zs``), the pyramid ``real{k}`` (``(1, 3, h, w)`` in [-1, 1]) and the noise
  amplitudes ``noise_amp`` (float64, one per scale);
- ``singan.json``: format tag, scale factor, first trained scale, the generators' widths,
  ``quantize_8bit`` (absent = false) and training metadata (preset, timings, reconstruction errors).
- the finest scale's critic (``D.<param>``), when the model was trained by nodeflow after it began
  keeping it: what a fine-tune on a composite (``finetune.py``, as ConSinGAN) starts from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch

from nodeflow.checkpoint import load_json, load_safetensors, save_json, save_safetensors
from nodeflow.errors import NodeflowError
from nodeflow.handles import ModelHandle

from .networks import Generator

FORMAT = "nodeflow-singan/1"
WEIGHTS = "singan.safetensors"
OPTIONS = "singan.json"


@dataclass(frozen=True)
class PyramidFacts:
    """What is known of a SinGAN model before it is trained (a ``preflight`` fact): its scales."""

    N: int
    """Index of the finest scale."""
    first_scale: int = 0


def check_scale_known(known: Any, n: Any, field: str = "scale", low: int = 1) -> None:
    """Preflight check of an injection scale against a model or its facts (nothing known: no check).

    ``n`` may be an int or a non-int choice such as ``"auto"`` (not checked here).
    """
    if isinstance(known, SinGANModel | PyramidFacts) and isinstance(n, int) and not isinstance(n, bool):
        _check_scale(n, known.N, known.first_scale, field, low)


def _check_scale(n: int, N: int, first_scale: int, field: str, low: int) -> None:
    from nodeflow.errors import NodeError

    lo = max(low, first_scale)
    if not lo <= n <= N:
        hint = f"this model has scales 0…{N}; use {lo} ≤ {field} ≤ {N}"
        if first_scale > low:
            hint += f" (it was trained from scale {first_scale} up only)"
        raise NodeError(f"scale {n} is out of range {lo}…{N}", field=field, hint=hint)


@dataclass
class SinGANModel(ModelHandle):
    """A trained pyramid: scales 0 (coarsest) … N (finest).

    Scales below ``first_scale`` have no generator (a model trained only for injection at
    ``n ≥ first_scale``); ``generators[k]``, ``z_rec[k]`` are None there.
    """

    kind: ClassVar[str] = "SinGAN"

    generators: list[Generator | None]
    z_rec: list[torch.Tensor | None]
    """Padded reconstruction noise per scale, ``(1, 3, h + 2p, w + 2p)``."""
    noise_amp: list[float]
    reals: list[torch.Tensor]
    """``(1, 3, h, w)`` in [-1, 1], coarsest first."""
    scale_factor: float
    first_scale: int = 0
    meta: dict[str, Any] = field(default_factory=dict)
    quantize_8bit: bool = False
    """Go through 8 bits (truncating) before every resize between scales, as the reference code
    does: set for models imported from it (so they reproduce its outputs) and for models trained
    with ``quantize_8bit``; nodeflow's own models keep full precision."""
    critic: dict[str, torch.Tensor] | None = None
    """State of the finest scale's critic at the end of training (None: imported, or trained before
    models kept it); a fine-tune continues from it, as ConSinGAN's does."""

    def __post_init__(self) -> None:
        for g in self.generators:
            if g is not None:
                g.eval()
                g.requires_grad_(False)

    # -- shape facts ---------------------------------------------------------------------------
    @property
    def num_scales(self) -> int:
        return len(self.reals)

    @property
    def N(self) -> int:
        """Index of the finest scale (the reference's ``len(reals) - 1``)."""
        return len(self.reals) - 1

    @property
    def sizes(self) -> list[tuple[int, int]]:
        return [(int(r.shape[2]), int(r.shape[3])) for r in self.reals]

    @property
    def pad(self) -> int:
        g = next(g for g in self.generators if g is not None)
        return g.pad

    @property
    def device(self) -> torch.device:
        return self.reals[0].device

    # -- handle protocol -----------------------------------------------------------------------
    def to(self, device: torch.device | str) -> SinGANModel:
        """Move in place (modules move in place anyway; the tensors follow) and return self."""
        device = torch.device(device)
        if device != self.device:
            for g in self.generators:
                if g is not None:
                    g.to(device)
            self.z_rec = [None if z is None else z.to(device) for z in self.z_rec]
            self.reals = [r.to(device) for r in self.reals]
            if self.critic is not None:
                self.critic = {n: t.to(device) for n, t in self.critic.items()}
        return self

    def save(self, folder: Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        tensors: dict[str, torch.Tensor] = {
            "noise_amp": torch.tensor(self.noise_amp, dtype=torch.float64)}
        widths: list[list[int] | None] = []
        for k, g in enumerate(self.generators):
            tensors[f"real{k}"] = self.reals[k]
            if g is None:
                widths.append(None)
                continue
            widths.append(list(g.widths))
            for name, t in g.state_dict().items():
                tensors[f"G{k}.{name}"] = t
            z = self.z_rec[k]
            assert z is not None
            tensors[f"Z{k}"] = z
        for name, t in (self.critic or {}).items():
            tensors[f"D.{name}"] = t
        save_safetensors(folder / WEIGHTS, tensors)
        save_json(folder / OPTIONS, {
            "format": FORMAT, "scale_factor": self.scale_factor, "first_scale": self.first_scale,
            "num_scales": self.num_scales, "widths": widths,
            "ker": next(g for g in self.generators if g is not None).ker, "meta": self.meta,
            **({"quantize_8bit": True} if self.quantize_8bit else {})})

    @classmethod
    def load(cls, folder: Path, device: torch.device | str = "cpu") -> SinGANModel:
        folder = Path(folder)
        opts = load_json(folder / OPTIONS)
        if opts.get("format") != FORMAT:
            raise NodeflowError(f"{folder}: not a nodeflow SinGAN model (format {opts.get('format')!r})")
        tensors = load_safetensors(folder / WEIGHTS, device="cpu")
        gens: list[Generator | None] = []
        zs: list[torch.Tensor | None] = []
        for k, widths in enumerate(opts["widths"]):
            if widths is None:
                gens.append(None)
                zs.append(None)
                continue
            g = Generator(widths, nc=3, ker=int(opts["ker"]))
            prefix = f"G{k}."
            g.load_state_dict({n[len(prefix):]: t for n, t in tensors.items() if n.startswith(prefix)},
                              strict=True)
            gens.append(g)
            zs.append(tensors[f"Z{k}"])
        critic = {n[2:]: t for n, t in tensors.items() if n.startswith("D.")} or None
        model = cls(generators=gens, z_rec=zs, noise_amp=[float(a) for a in tensors["noise_amp"].tolist()],
                    reals=[tensors[f"real{k}"] for k in range(int(opts["num_scales"]))],
                    scale_factor=float(opts["scale_factor"]), first_scale=int(opts["first_scale"]),
                    meta=dict(opts.get("meta") or {}), quantize_8bit=bool(opts.get("quantize_8bit", False)),
                    critic=critic)
        return model.to(device)

    # -- conveniences --------------------------------------------------------------------------
    def check_scale(self, n: int, field: str = "scale", low: int = 1) -> None:
        """Raise a NodeError unless ``n`` is a scale this model can start generating at."""
        _check_scale(n, self.N, self.first_scale, field, low)
