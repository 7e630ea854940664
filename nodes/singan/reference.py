"""Import a model trained by the reference code (tamarott/SinGAN), without unpickling modules.

The reference saves ``TrainedModels/<name>/scale_factor=0.750000,alpha=10/`` with one folder per
scale (``0/``, ``1/``, …) holding ``netG.pth`` (a state dict), plus ``Zs.pth``, ``reals.pth`` and
``NoiseAmp.pth`` (lists of tensors/numbers) and ``Gs.pth`` (pickled modules, which we never
read). All files go through :func:`nodeflow.checkpoint.load_checkpoint` (``weights_only=True``).

The reference converts images to 8 bits (truncating) before every resize between scales; the
imported model is marked ``quantize_8bit`` so that nodeflow does the same and reproduces the
reference's own outputs (its reconstruction, samples, harmonization) rather than drifting from
them by a few dB per scale.

The pyramid's re-fitted scale factor is not stored; it is recomputed from the finest real with
the reference's formula ``(min_size / min(h_N, w_N))^(1/N)`` and checked against every stored
size (``min_size`` 25 unless the model was trained with another).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import torch

from nodeflow.checkpoint import load_checkpoint
from nodeflow.errors import NodeflowError

from .handle import SinGANModel
from .networks import generator_from_state

_REQUIRED = ("Zs.pth", "reals.pth", "NoiseAmp.pth")


class ReferenceImportError(NodeflowError):
    exit_code = 2


def is_reference_folder(folder: Path) -> bool:
    return find_model_folder(folder) is not None


def find_model_folder(folder: Path) -> Path | None:
    """``folder`` itself if it holds ``Zs.pth`` …, else its single sub-folder that does."""
    folder = Path(folder)
    if all((folder / f).exists() for f in _REQUIRED):
        return folder
    if not folder.is_dir():
        return None
    hits = [d for d in sorted(folder.iterdir()) if d.is_dir() and all((d / f).exists() for f in _REQUIRED)]
    return hits[0] if len(hits) == 1 else None


def _scalar(value: Any) -> float:
    if isinstance(value, torch.Tensor):
        return float(value.detach().cpu().reshape(-1)[0])
    return float(value)


def _tensor_list(path: Path, allow_pickle: bool) -> list[Any]:
    data = load_checkpoint(path, map_location="cpu", allow_pickle=allow_pickle)
    if isinstance(data, torch.Tensor):
        data = list(data)
    if not isinstance(data, list | tuple):
        raise ReferenceImportError(f"{path}: expected a list, found {type(data).__name__}")
    return list(data)


def fit_scale_factor(sizes: list[tuple[int, int]], min_size: int = 25) -> float:
    """The factor that reproduces ``sizes`` from the finest one (reference formula, then a search)."""
    n = len(sizes) - 1
    hN, wN = sizes[-1]
    candidates = [min_size, *range(10, 65)]
    for m in candidates:
        r = math.pow(m / min(hN, wN), 1 / n)
        if all((math.ceil(hN * r ** (n - i)), math.ceil(wN * r ** (n - i))) == tuple(sizes[i])
               for i in range(n + 1)):
            return r
    # Not a reference pyramid: the geometric mean ratio of the short sides.
    return math.pow(min(sizes[0]) / min(hN, wN), 1 / n)


def import_reference(folder: str | Path, *, min_size: int = 25, allow_pickle: bool = False,
                     device: torch.device | str = "cpu") -> SinGANModel:
    """Read a reference ``TrainedModels/...`` folder into a :class:`SinGANModel`."""
    root = find_model_folder(Path(folder))
    if root is None:
        raise ReferenceImportError(
            f"{folder} is not a reference SinGAN folder: expected Zs.pth, reals.pth, NoiseAmp.pth and "
            f"per-scale folders 0/, 1/, … with netG.pth (or one sub-folder holding them)")
    zs = [z.float() for z in _tensor_list(root / "Zs.pth", allow_pickle)]
    reals = [r.float()[:, :3] for r in _tensor_list(root / "reals.pth", allow_pickle)]
    amps = [_scalar(a) for a in _tensor_list(root / "NoiseAmp.pth", allow_pickle)]
    n_trained = len(zs)
    if n_trained == 0 or len(amps) != n_trained or len(reals) < n_trained:
        raise ReferenceImportError(f"{root}: inconsistent lists (Zs {len(zs)}, reals {len(reals)}, "
                                   f"NoiseAmp {len(amps)})")
    reals = reals[:n_trained]
    gens = []
    for k in range(n_trained):
        path = root / str(k) / "netG.pth"
        if not path.exists():
            raise ReferenceImportError(f"{root}: scale {k} has no netG.pth ({path})")
        state = load_checkpoint(path, map_location="cpu", allow_pickle=allow_pickle)
        if not isinstance(state, dict):
            raise ReferenceImportError(f"{path}: expected a state dict")
        gens.append(generator_from_state({k2: v.float() if v.is_floating_point() else v
                                          for k2, v in state.items()}))
    sizes = [(int(r.shape[2]), int(r.shape[3])) for r in reals]
    m = re.search(r"scale_factor=([0-9.]+)", root.name)
    meta = {"imported_from": str(root), "scale_factor_init": float(m.group(1)) if m else None,
            "sizes": [list(s) for s in sizes]}
    model = SinGANModel(generators=list(gens), z_rec=list(zs), noise_amp=amps, reals=reals,
                        scale_factor=fit_scale_factor(sizes, min_size), first_scale=0, meta=meta,
                        quantize_8bit=True)
    return model.to(device)
