"""The ``SinGAN`` socket type: registered by this family, so the engine never names it."""

from __future__ import annotations

from nodeflow.types import model_socket

SINGAN = model_socket("SinGAN", "a trained SinGAN pyramid handle")
