"""Finding and loading Pix2Pix generators: our folders/files and the reference's ``.pth`` files."""

from __future__ import annotations

from pathlib import Path

import torch

from nodeflow.checkpoint import check_safetensors, load_safetensors
from nodeflow.errors import NodeError

from ..gan.checkpoints import looks_like, read_state_dict, strip_prefix
from .handle import (
    OPTIONS,
    Pix2PixHandle,
    build_generator,
    default_net_size,
    read_safetensors_options,
)
from .networks import GeneratorSpec, infer_generator_spec

REFERENCE_NAMES = ("latest_net_G.pth", "latest_net_G_A.pth")


def find_reference_file(folder: Path, names: tuple[str, ...] = REFERENCE_NAMES, field_name: str = "path") -> Path:
    """The generator file in a reference checkpoint folder (``latest_net_G.pth`` first)."""
    for name in names:
        if (folder / name).is_file():
            return folder / name
    candidates = sorted(folder.glob("*net_G*.pth")) or sorted(folder.glob("*.pth")) + sorted(
        folder.glob("*.safetensors"))
    if len(candidates) == 1:
        return candidates[0]
    listed = ", ".join(p.name for p in candidates[:6]) or "none"
    raise NodeError(f"cannot tell which file in {folder} is the generator (candidates: {listed})",
                    field=field_name, hint="name the file itself, e.g. .../latest_net_G.pth")


def resolve_spec(state: dict[str, torch.Tensor], arch: str = "auto", norm: str = "auto",
                 field_name: str = "path") -> GeneratorSpec:
    """The inferred spec, with explicitly chosen architecture/norm taking precedence."""
    try:
        spec = infer_generator_spec(state, field_name=field_name)
    except NodeError as exc:
        raise NodeError(f"{exc.message}; the file looks like {looks_like(state)}", field=exc.field,
                        hint=exc.hint) from None
    if arch != "auto" or norm != "auto":
        spec = GeneratorSpec(arch if arch != "auto" else spec.arch, spec.input_nc, spec.output_nc, spec.ngf,
                             norm if norm != "auto" else spec.norm, spec.dropout)
    return spec


def load_pix2pix(path: Path, *, arch: str = "auto", norm: str = "auto", mode: str = "auto", net_size: int = 0,
                 allow_pickle: bool = False, device: torch.device | str = "cpu") -> Pix2PixHandle:
    """Our folder / ``.safetensors`` file, or a reference state dict (``.pth``), as a handle."""
    if not path.exists():
        raise NodeError(f"model not found: {path}", field="path")
    if path.is_dir():
        if (path / OPTIONS).is_file():
            handle = Pix2PixHandle.load(path, device)
            return _override(handle, mode, net_size)
        path = find_reference_file(path)
    options = None
    if path.suffix == ".safetensors":
        check_safetensors(path)
        options = read_safetensors_options(path)
        state = strip_prefix(load_safetensors(path))
    else:
        state = read_state_dict(path, allow_pickle=allow_pickle)
    if options is not None and arch == "auto" and norm == "auto":
        return _override(Pix2PixHandle.from_options(options, state, device, what=str(path)), mode, net_size)
    spec = resolve_spec(state, arch, norm)
    net = build_generator(spec, state, device, what=str(path))
    handle = Pix2PixHandle(net, spec, mode=None if mode == "auto" else mode,
                           net_size=net_size or default_net_size(spec))
    _check_mode(handle)
    return handle


def _override(handle: Pix2PixHandle, mode: str, net_size: int) -> Pix2PixHandle:
    if mode != "auto":
        handle.mode = mode
    if net_size:
        handle.net_size = net_size
    _check_mode(handle)
    return handle


def _check_mode(handle: Pix2PixHandle) -> None:
    want = {"colorization": (1, 2), "gray2rgb": (1, 3)}.get(handle.mode)
    have = (handle.spec.input_nc, handle.spec.output_nc)
    if want is not None and have != want:
        raise NodeError(f"mode {handle.mode!r} needs a generator with {want[0]} -> {want[1]} channels, this one "
                        f"has {have[0]} -> {have[1]}", field="mode", hint="leave mode on 'auto'")
    if handle.mode == "aligned" and handle.spec.input_nc not in (1, 3):
        raise NodeError(f"a generator with {handle.spec.input_nc} input channels cannot take RGB frames",
                        field="mode")
