"""Salient-object segmentation with an ONNX model (rembg's U²-Net family) via onnxruntime.

Pre/post-processing follows rembg: resize to the model's input (320x320 for U²-Net), scale by
the image's maximum, normalise with ImageNet mean/std, then min-max normalise the first
output's first channel and resize it back. onnxruntime is an optional dependency
(``pip install nodeflow[matte]``); the weights are the user's to download.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from nodeflow.errors import NodeError

MODEL_HOME_ENV = "U2NET_HOME"
"""rembg's variable for its model folder; default ``~/.u2net``."""
DEFAULT_SIZE = 320
NORMALIZATION: dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    "imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),  # u2net, u2netp, u2net_human_seg, silueta
    "centered": ((0.5, 0.5, 0.5), (1.0, 1.0, 1.0)),  # isnet-general-use
}
DOWNLOAD_URL = "https://github.com/danielgatis/rembg/releases/download/v0.0.0/{name}.onnx"


def model_dir() -> Path:
    return Path(os.environ.get(MODEL_HOME_ENV, "~/.u2net")).expanduser()


def resolve_model(model_path: Path | None, model_name: str) -> Path:
    """The model file to use, or a :class:`NodeError` saying where to put it."""
    path = model_path if model_path is not None else model_dir() / f"{model_name}.onnx"
    if not path.is_file():
        field = "model_path" if model_path is not None else "model_name"
        raise NodeError(
            f"segmentation model file not found: {path}", field=field,
            hint=f"download {DOWNLOAD_URL.format(name=model_name)} (rembg's U²-Net models) and put it at "
                 f"{model_dir() / (model_name + '.onnx')} (or set ${MODEL_HOME_ENV}), "
                 "or point model_path at the file")
    return path


def _providers(device: torch.device) -> list[str]:
    import onnxruntime as ort

    available = ort.get_available_providers()
    wanted = ["CUDAExecutionProvider"] if device.type == "cuda" else []
    return [p for p in wanted if p in available] + ["CPUExecutionProvider"]


@functools.lru_cache(maxsize=2)
def _session(path: str, mtime_ns: int, providers: tuple[str, ...]) -> Any:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    return ort.InferenceSession(path, sess_options=opts, providers=list(providers))


class Segmenter:
    """An onnxruntime session plus the rembg-style pre/post-processing."""

    def __init__(self, path: Path, device: torch.device):
        try:
            import onnxruntime  # noqa: F401
        except ImportError:
            raise NodeError("method 'model' needs onnxruntime, which is not installed", field="method",
                            hint="pip install 'nodeflow[matte]' (or onnxruntime-gpu)") from None
        try:
            self.session = _session(str(path), path.stat().st_mtime_ns, tuple(_providers(device)))
        except Exception as exc:
            raise NodeError(f"cannot load ONNX model {path}: {exc}", field="model_path",
                            hint="use a U²-Net family .onnx file such as rembg's u2net.onnx") from None
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        shape = list(inp.shape)
        self.fixed_batch = shape[0] if isinstance(shape[0], int) else None
        h, w = shape[2:4] if len(shape) == 4 else (None, None)
        self.size = (h if isinstance(h, int) else DEFAULT_SIZE, w if isinstance(w, int) else DEFAULT_SIZE)

    def preprocess(self, rgb: torch.Tensor, normalization: str) -> torch.Tensor:
        """``(B, 3, H, W)`` in [0, 1] -> ``(B, 3, h, w)`` model input (float32)."""
        # bilinear (not rembg's Lanczos): no ringing, which min-max normalisation would amplify
        x = F.interpolate(rgb, size=self.size, mode="bilinear", align_corners=False, antialias=True)
        x = x / x.amax(dim=(1, 2, 3), keepdim=True).clamp_min(1e-6)  # rembg divides by the maximum
        mean, std = NORMALIZATION[normalization]
        mean_t = torch.tensor(mean, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        std_t = torch.tensor(std, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        return (x - mean_t) / std_t

    @staticmethod
    def postprocess(pred: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """First channel ``(B, 1, h, w)`` -> min-max normalised matte ``(B, 1, H, W)``."""
        lo = pred.amin(dim=(1, 2, 3), keepdim=True)
        hi = pred.amax(dim=(1, 2, 3), keepdim=True)
        pred = (pred - lo) / (hi - lo).clamp_min(1e-6)
        return F.interpolate(pred, size=size, mode="bilinear", align_corners=False).clamp(0, 1)

    def __call__(self, rgb: torch.Tensor, normalization: str = "imagenet") -> torch.Tensor:
        """``(B, 3, H, W)`` -> ``(B, 1, H, W)`` matte on ``rgb``'s device."""
        x = self.preprocess(rgb.float(), normalization).cpu().numpy().astype(np.float32)
        chunks = [x[i:i + 1] for i in range(len(x))] if self.fixed_batch == 1 else [x]
        preds = [self.session.run(None, {self.input_name: c})[0] for c in chunks]
        pred = torch.from_numpy(np.concatenate(preds, axis=0)).to(rgb.device)
        if pred.ndim == 3:
            pred = pred[:, None]
        return self.postprocess(pred[:, :1].float(), tuple(rgb.shape[-2:]))
