"""Reading generator weights written by others: reference ``.pth`` files and our safetensors.

Reference checkpoints (``latest_net_G.pth`` and friends) are plain state dicts saved with
``torch.save``; they are read with ``weights_only=True`` through
:func:`nodeflow.checkpoint.load_checkpoint`, so a file that would need to unpickle objects is refused
unless the user opts in. Before loading, the state dict is cleaned the way the reference's
``load_networks`` does: a DataParallel ``module.`` prefix is stripped, InstanceNorm buffers written
by PyTorch < 0.4 (``running_mean``/``running_var``/``num_batches_tracked`` on layers that track no
statistics) are dropped, and BatchNorm ``num_batches_tracked`` counters missing from files older
than PyTorch 0.4.1 are filled in. Anything else that does not match is an error naming the keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from nodeflow.checkpoint import CheckpointError, UnsafeCheckpointError, load_checkpoint
from nodeflow.errors import NodeError

_WRAPPER_KEYS = ("state_dict", "model", "net", "netG", "generator", "params_ema", "params")


def read_state_dict(path: Path, *, allow_pickle: bool = False, field_name: str = "path") -> dict[str, Tensor]:
    """A ``.pth``/``.pt``/``.ckpt`` file -> flat ``{key: tensor}`` (weights-only unless ``allow_pickle``)."""
    try:
        obj = load_checkpoint(path, allow_pickle=allow_pickle)
    except UnsafeCheckpointError as exc:
        raise NodeError(exc.message, field=field_name, hint=exc.hint) from None
    except CheckpointError as exc:
        raise CheckpointError(exc.message, field=field_name, hint=exc.hint) from None
    except FileNotFoundError:
        raise NodeError(f"checkpoint not found: {path}", field=field_name) from None
    except Exception as exc:
        raise NodeError(f"cannot read {path} as a torch checkpoint: {exc}", field=field_name) from None
    return unwrap_state_dict(obj, path, field_name=field_name)


def unwrap_state_dict(obj: Any, path: Path | str = "<checkpoint>", *, field_name: str = "path"
                      ) -> dict[str, Tensor]:
    """Find the tensor mapping in a loaded checkpoint (a plain state dict, a wrapper dict, or a module)."""
    if isinstance(obj, nn.Module):  # only reachable with allow_pickle
        return dict(obj.state_dict())
    if isinstance(obj, Mapping):
        tensors = {str(k): v for k, v in obj.items() if isinstance(v, Tensor)}
        if tensors and len(tensors) == len(obj):
            return tensors
        for key in _WRAPPER_KEYS:
            inner = obj.get(key)
            if isinstance(inner, Mapping | nn.Module):
                return unwrap_state_dict(inner, path, field_name=field_name)
        if tensors:
            return tensors
    raise NodeError(f"{path} holds no state dict of tensors (found {type(obj).__name__})", field=field_name,
                    hint="expected a generator state dict such as the reference's latest_net_G.pth")


def strip_prefix(state: Mapping[str, Tensor], prefix: str = "module.") -> dict[str, Tensor]:
    """Remove a DataParallel/DistributedDataParallel ``module.`` prefix (when every key has it)."""
    if state and all(k.startswith(prefix) for k in state):
        return {k[len(prefix):]: v for k, v in state.items()}
    return dict(state)


def _resolve(net: nn.Module, dotted: str) -> tuple[nn.Module | None, str]:
    """The module owning ``dotted`` (a state-dict key) and the attribute name, or (None, name)."""
    *path, name = dotted.split(".")
    module: nn.Module | None = net
    for part in path:
        module = getattr(module, part, None) if module is not None else None
        if not isinstance(module, nn.Module):
            return None, name
    return module, name


def patch_instance_norm_state(state: dict[str, Tensor], net: nn.Module) -> list[str]:
    """Drop stale InstanceNorm buffers (pre-0.4 checkpoints) in place; returns the dropped keys."""
    dropped = []
    for key in list(state):
        module, name = _resolve(net, key)
        if isinstance(module, nn.modules.instancenorm._InstanceNorm):
            stale_stat = name in ("running_mean", "running_var") and getattr(module, name, None) is None
            if stale_stat or name == "num_batches_tracked":
                dropped.append(key)
                del state[key]
    return dropped


def fill_batch_norm_counters(state: dict[str, Tensor], net: nn.Module) -> list[str]:
    """Add BatchNorm ``num_batches_tracked`` missing from pre-0.4.1 files (in place); returns them."""
    added = []
    for key, value in net.state_dict().items():
        if key.endswith("num_batches_tracked") and key not in state:
            module, _ = _resolve(net, key)
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                state[key] = torch.zeros_like(value, device="cpu")
                added.append(key)
    return added


@dataclass
class KeyDiff:
    """How a state dict differs from what a network expects."""

    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    shapes: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = field(default_factory=list)
    """(key, expected shape, file's shape)."""

    def __bool__(self) -> bool:
        return bool(self.missing or self.unexpected or self.shapes)

    def describe(self, limit: int = 8) -> str:
        parts = []

        def listed(keys: list[str]) -> str:
            more = f", ... (+{len(keys) - limit} more)" if len(keys) > limit else ""
            return ", ".join(keys[:limit]) + more

        if self.missing:
            parts.append(f"{len(self.missing)} missing from the file: {listed(self.missing)}")
        if self.unexpected:
            parts.append(f"{len(self.unexpected)} not in the network: {listed(self.unexpected)}")
        if self.shapes:
            shown = [f"{k} (network {tuple(a)}, file {tuple(b)})" for k, a, b in self.shapes]
            parts.append(f"{len(self.shapes)} with other shapes: {listed(shown)}")
        return "; ".join(parts)


def diff_keys(net: nn.Module, state: Mapping[str, Tensor]) -> KeyDiff:
    expected = net.state_dict()
    diff = KeyDiff(
        missing=[k for k in expected if k not in state],
        unexpected=[k for k in state if k not in expected],
    )
    for k, v in expected.items():
        if k in state and tuple(state[k].shape) != tuple(v.shape):
            diff.shapes.append((k, tuple(v.shape), tuple(state[k].shape)))
    return diff


def clean_state_dict(state: Mapping[str, Tensor], net: nn.Module) -> dict[str, Tensor]:
    """Reference-compatible clean-up before :func:`load_into` (prefix, stale buffers, counters)."""
    cleaned = strip_prefix(state)
    patch_instance_norm_state(cleaned, net)
    fill_batch_norm_counters(cleaned, net)
    return cleaned


def looks_like(state: Mapping[str, Tensor]) -> str:
    """What a state dict appears to hold, judged from its keys (for error messages)."""
    keys = list(strip_prefix(state))
    if not keys:
        return "an empty state dict"
    if any(".conv_block." in k for k in keys):
        blocks = {k.split(".")[1] for k in keys if ".conv_block." in k}
        return f"a pix2pix/CycleGAN ResNet generator (resnet_{len(blocks)}blocks)"
    if "model.model.0.weight" in keys:
        depth = 1  # as pix2pix's inference reads it: U-Net level prefixes nest as 1.model.3.model...
        while "model.model.1.model." + "3.model." * depth + "1.weight" in keys:
            depth += 1
        return f"a pix2pix/CycleGAN U-Net generator (unet_{2 ** (depth + 1)})"
    if any(k.startswith("head.conv.") for k in keys):
        return ("a SinGAN generator of one scale (netG.pth)" if any(k.startswith("tail.0.") for k in keys)
                else "a SinGAN discriminator (netD.pth)")
    if "model.0.weight" in keys and state[keys[-1]].ndim == 4 and state[keys[-1]].shape[0] == 1:
        return "a PatchGAN discriminator (net_D), which cannot be used for inference"
    if "net.0.weight" in keys and "net.4.weight" in keys:
        return "a pixel discriminator (net_D), which cannot be used for inference"
    return f"no architecture nodeflow knows ({len(keys)} tensors: {', '.join(keys[:3])}, ...)"


def load_into(net: nn.Module, state: Mapping[str, Tensor], *, what: str = "checkpoint",
              field_name: str = "path") -> nn.Module:
    """Clean ``state`` and load it strictly into ``net``; a mismatch raises a NodeError listing keys."""
    cleaned = clean_state_dict(state, net)
    diff = diff_keys(net, cleaned)
    if diff:
        raise NodeError(f"{what} does not fit the network (the file looks like {looks_like(state)}): "
                        f"{diff.describe(limit=4)}", field=field_name,
                        hint="check the architecture/norm options, or leave them on 'auto' to infer "
                             "them from the file")
    net.load_state_dict(cleaned, strict=True)
    return net
