"""Tiny node types for engine tests: they count their calls so tests can assert evaluation counts."""

from __future__ import annotations

import time
import weakref
from collections import Counter
from pathlib import Path

import torch
from pydantic import Field

from nodeflow.errors import NodeError
from nodeflow.node import Input, Node, Output
from nodeflow.params import InputPath, NodeParams, OutputPath
from nodeflow.registry import Registry
from nodeflow.types import FLOAT, IMAGE, INT, MASK, STRING

CALLS: Counter[str] = Counter()
LIVE = {"frames": 0, "peak": 0}


def _track(t: torch.Tensor) -> torch.Tensor:
    LIVE["frames"] += t.shape[0]
    LIVE["peak"] = max(LIVE["peak"], LIVE["frames"])
    n = t.shape[0]
    weakref.finalize(t, lambda: LIVE.__setitem__("frames", LIVE["frames"] - n))
    return t


class Const(Node):
    """A constant RGB image."""

    category = "test"
    outputs = (Output("image", IMAGE), Output("value", FLOAT))

    class Params(NodeParams):
        value: float = Field(0.5, ge=0, le=1, description="grey level")
        size: int = Field(4, ge=1, le=4096)

    def run(self, ctx):
        CALLS[ctx.node_id] += 1
        s = self.params.size
        return {"image": torch.full((1, 3, s, s), self.params.value, device=ctx.device),
                "value": self.params.value}


class Offset(Node):
    """Adds ``offset`` (param) and ``amount`` (socket) to an image."""

    category = "test"
    inputs = (Input("image", IMAGE), Input("amount", FLOAT, default=0.0))
    outputs = (Output("image", IMAGE),)

    class Params(NodeParams):
        offset: float = 0.0
        mode: str = Field("add", pattern="^(add|sub)$")

    def run(self, ctx, image, amount):
        CALLS[ctx.node_id] += 1
        sign = 1 if self.params.mode == "add" else -1
        return {"image": image + sign * (self.params.offset + amount)}


class MaskIn(Node):
    """Takes a mask (for conversion tests)."""

    category = "test"
    inputs = (Input("mask", MASK),)
    outputs = (Output("mask", MASK),)

    def run(self, ctx, mask):
        CALLS[ctx.node_id] += 1
        return {"mask": mask}


class ImageIn(Node):
    """Takes an image (for conversion tests)."""

    category = "test"
    inputs = (Input("image", IMAGE),)
    outputs = (Output("image", IMAGE),)

    def run(self, ctx, image):
        return {"image": image}


class Frames(Node):
    """A frame source: frame f is filled with f / 1000."""

    category = "test"
    frame_source = True
    outputs = (Output("image", IMAGE), Output("index", INT))

    class Params(NodeParams):
        count: int = Field(10, ge=1)
        size: int = 2

    def frame_count(self, ctx):
        return self.params.count

    def run(self, ctx):
        CALLS[ctx.node_id] += 1
        s = self.params.size
        batch = torch.stack([torch.full((3, s, s), f / 1000.0) for f in ctx.frames]).to(ctx.device)
        return {"image": _track(batch), "index": ctx.frames[0]}


class CountSink(Node):
    """Counts the frames it receives; optional file written atomically at finish."""

    category = "test"
    sink = True
    inputs = (Input("image", IMAGE),)
    received: list[tuple[int, ...] | None] = []
    aborted: list[str] = []

    class Params(NodeParams):
        path: OutputPath = "count.txt"
        fail_at: int = -1
        cancel_at: int = -1

    def __init__(self, params):
        super().__init__(params)
        self.count = 0
        self.tmp: Path | None = None

    def run(self, ctx, image):
        CALLS[ctx.node_id] += 1
        CountSink.received.append(ctx.frames)
        if self.tmp is None:
            target = ctx.output_path(self.params.path)
            target.parent.mkdir(parents=True, exist_ok=True)
            self.tmp = target.with_name(f".{target.name}.part")
        self.count += image.shape[0]
        self.tmp.write_text(str(self.count))
        if ctx.frames and self.params.fail_at in ctx.frames:
            raise NodeError("failing on purpose", field="fail_at", hint="set fail_at to -1")
        if ctx.frames and self.params.cancel_at in ctx.frames:
            ctx.cancel_token.cancel()
            ctx.progress(1, 2, "cancel point")
        return {}

    def finish(self, ctx):
        if self.tmp is not None:
            self.tmp.replace(ctx.output_path(self.params.path))

    def abort(self):
        CountSink.aborted.append(self.params.path)
        if self.tmp is not None and self.tmp.exists():
            self.tmp.unlink()


class ReadText(Node):
    """Reads a text file (an input path)."""

    category = "test"
    outputs = (Output("text", STRING),)

    class Params(NodeParams):
        path: InputPath

    def run(self, ctx):
        CALLS[ctx.node_id] += 1
        return {"text": ctx.input_path(self.params.path).read_text()}


class Slow(Node):
    """Expensive: disk-cached. Produces a tensor from a seed."""

    category = "test"
    expensive = True
    inputs = (Input("image", IMAGE, optional=True),)
    outputs = (Output("image", IMAGE),)

    class Params(NodeParams):
        seed: int = 0
        steps: int = 3
        sleep: float = 0.0

    def run(self, ctx, image=None):
        CALLS[ctx.node_id] += 1
        g = ctx.generator()
        for i in range(self.params.steps):
            time.sleep(self.params.sleep)
            ctx.progress(i + 1, self.params.steps, f"step {i + 1}")
        return {"image": torch.rand((1, 3, 4, 4), generator=g).to(ctx.device)}


class Boom(Node):
    """Raises a non-nodeflow exception."""

    category = "test"
    outputs = (Output("image", IMAGE),)

    def run(self, ctx):
        raise ZeroDivisionError("division by zero in user code")


TEST_NODES = (Const, Offset, MaskIn, ImageIn, Frames, CountSink, ReadText, Slow, Boom)


def make_registry() -> Registry:
    registry = Registry()
    for cls in TEST_NODES:
        registry.register(cls)
    return registry


def reset() -> None:
    CALLS.clear()
    CountSink.received.clear()
    CountSink.aborted.clear()
    LIVE["frames"] = 0
    LIVE["peak"] = 0
