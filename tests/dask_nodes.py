"""A node for Dask tests: per-frame work that takes a while and tells which process ran it."""

from __future__ import annotations

import os
import time
from pathlib import Path

import torch
from pydantic import Field

from nodeflow.errors import NodeError
from nodeflow.node import Input, Node, Output
from nodeflow.params import NodeParams
from nodeflow.types import IMAGE


class SlowInvert(Node):
    """Inverts and mirrors frames after ``sleep`` seconds; marks ``<marks>/<pid>_<first frame>``
    when it starts; fails on run frame ``fail_at``."""

    category = "test"
    inputs = (Input("image", IMAGE),)
    outputs = (Output("image", IMAGE),)

    class Params(NodeParams):
        sleep: float = Field(0.0, ge=0)
        marks: str = ""
        fail_at: int = -1

    def run(self, ctx, image):
        if self.params.fail_at in ctx.frames:
            raise NodeError(f"failing on purpose at frame {self.params.fail_at}", field="fail_at",
                            hint="set fail_at to -1")
        if self.params.marks:
            Path(self.params.marks, f"{os.getpid()}_{ctx.frames[0]}").touch()
        time.sleep(self.params.sleep)
        return {"image": torch.flip(1.0 - image, dims=(-1,))}


class FirstFrameMark(Node):
    """Marks every frame with the first frame of the first batch this instance saw (a decision
    made on the first batch and kept, like Harmonize's ``scale: auto``)."""

    category = "test"
    first_batch_decides = True
    inputs = (Input("image", IMAGE),)
    outputs = (Output("image", IMAGE),)

    def __init__(self, params: NodeParams):
        super().__init__(params)
        self._first: int | None = None

    def run(self, ctx, image):
        if self._first is None:
            self._first = ctx.frames[0]
        time.sleep(0.2)  # both workers get batches
        return {"image": image * 0 + self._first / 100}


class FirstFrameMarkUndeclared(FirstFrameMark):
    """The same without declaring it: each worker's instance decides on its own first batch."""

    first_batch_decides = False


class FirstFrameMarkOrReference(FirstFrameMark):
    """The same, but with ``reference`` connected it decides on the reference's mean instead (as
    Harmonize decides on its reference still): then the first batch decides nothing."""

    inputs = (Input("image", IMAGE), Input("reference", IMAGE, optional=True))

    def decides_on_first_batch(self, connected):
        return "reference" not in connected

    def run(self, ctx, image, reference=None):
        if reference is None:
            return super().run(ctx, image)
        time.sleep(0.2)
        return {"image": image * 0 + reference.mean()}
