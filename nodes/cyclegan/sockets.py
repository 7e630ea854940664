"""The ``CycleGAN`` socket type: registered by this family, so the engine never names it."""

from __future__ import annotations

from nodeflow.types import model_socket

CYCLEGAN = model_socket("CycleGAN", "a CycleGAN generator pair handle")
