"""Finding and loading CycleGAN generators: our folders/files and the reference's ``.pth`` files."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from nodeflow.checkpoint import check_safetensors, load_safetensors
from nodeflow.errors import NodeError

from ..gan.checkpoints import read_state_dict, strip_prefix
from ..gan.generators import GeneratorSpec, build_generator
from ..pix2pix.handle import read_safetensors_options
from ..pix2pix.loading import find_reference_file, resolve_spec
from .handle import OPTIONS, CycleGANHandle


def _read(path: Path, allow_pickle: bool, field_name: str) -> tuple[dict[str, torch.Tensor], int | None]:
    """A generator file's state dict and the net_size recorded in it (ours only)."""
    if not path.is_file():
        raise NodeError(f"model not found: {path}", field=field_name)
    if path.suffix == ".safetensors":
        check_safetensors(path)
        options = read_safetensors_options(path) or {}
        return strip_prefix(load_safetensors(path)), options.get("net_size")
    return read_state_dict(path, allow_pickle=allow_pickle, field_name=field_name), None


def _build(path: Path, arch: str, norm: str, allow_pickle: bool, device: torch.device | str,
           field_name: str) -> tuple[nn.Module, GeneratorSpec, int | None]:
    state, net_size = _read(path, allow_pickle, field_name)
    spec = resolve_spec(state, arch, norm, field_name=field_name)
    return build_generator(spec, state, device, str(path), field_name), spec, net_size


def load_cyclegan(path: Path, *, path_b: Path | None = None, arch: str = "auto", norm: str = "auto",
                  net_size: int = 0, allow_pickle: bool = False,
                  device: torch.device | str = "cpu") -> CycleGANHandle:
    """Our folder, or reference generator files: ``path`` is G_A (A -> B), ``path_b`` G_B (B -> A).

    A reference checkpoint folder is searched for ``latest_net_G_A.pth`` + ``latest_net_G_B.pth``
    (a training run) or ``latest_net_G.pth`` (a published single-direction model).
    """
    if not path.exists():
        raise NodeError(f"model not found: {path}", field="path")
    if path.is_dir():
        if (path / OPTIONS).is_file() and path_b is None and arch == "auto" and norm == "auto":
            handle = CycleGANHandle.load(path, device)
            if net_size:
                handle.net_size = net_size
            return handle
        if (path / "latest_net_G_A.pth").is_file():
            if path_b is None and (path / "latest_net_G_B.pth").is_file():
                path_b = path / "latest_net_G_B.pth"
            path = path / "latest_net_G_A.pth"
        else:
            path = find_reference_file(path, ("latest_net_G.pth", "G_A.safetensors"))
    g_a, spec_a, size_a = _build(path, arch, norm, allow_pickle, device, "path")
    g_b = spec_b = None
    if path_b is not None:
        g_b, spec_b, _ = _build(path_b, arch, norm, allow_pickle, device, "path_b")
    return CycleGANHandle(g_a, spec_a, g_b, spec_b, net_size=net_size or size_a or 256)
