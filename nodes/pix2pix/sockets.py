"""The ``Pix2Pix`` socket type: registered by this family, so the engine never names it."""

from __future__ import annotations

from nodeflow.types import model_socket

PIX2PIX = model_socket("Pix2Pix", "a Pix2Pix generator handle")
