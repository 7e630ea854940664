"""Preflight: a node's problem that cheap upstream values reveal is reported before any training.

``Levels`` stands for a training whose output size follows from its input's size (like a SinGAN
pyramid from its scene); ``Pick`` for a node whose param must fit that output (an injection scale).
"""

from __future__ import annotations

import pytest
from engine_nodes import CALLS, make_registry, reset
from pydantic import Field

from nodeflow.errors import NodeError, NodeExecutionError
from nodeflow.events import NodeStarted
from nodeflow.graph import Graph
from nodeflow.node import Input, Node, Output
from nodeflow.params import NodeParams
from nodeflow.session import Session
from nodeflow.types import IMAGE, INT


class Levels(Node):
    """Expensive: as many levels as the image's height halves down to 1."""

    category = "test"
    expensive = True
    inputs = (Input("image", IMAGE),)
    outputs = (Output("levels", INT),)

    @staticmethod
    def count(height: int) -> int:
        return max(0, height.bit_length() - 1)

    def preflight(self, ctx, known):
        image = known.get("image")
        return None if image is None else {"levels": {"levels": self.count(int(image.shape[2]))}}

    def run(self, ctx, image):
        CALLS[ctx.node_id] += 1
        return {"levels": self.count(int(image.shape[2]))}


class Pick(Node):
    """Needs 1 ≤ n ≤ levels; ``n`` may also be "auto"."""

    category = "test"
    inputs = (Input("levels", INT),)
    outputs = (Output("value", INT),)

    class Params(NodeParams):
        n: int | str = Field(1, description="a level, or 'auto'")

    def preflight(self, ctx, known):
        levels = known.get("levels")
        top = levels["levels"] if isinstance(levels, dict) else levels
        if isinstance(top, int) and isinstance(self.params.n, int) and not 1 <= self.params.n <= top:
            raise NodeError(f"n {self.params.n} is out of range 1…{top}", field="n", hint=f"use 1 ≤ n ≤ {top}")

    def run(self, ctx, levels):
        CALLS[ctx.node_id] += 1
        return {"value": levels if self.params.n == "auto" else int(self.params.n)}


@pytest.fixture(autouse=True)
def _reset():
    reset()


def graph(tmp_path, *, n, expensive_scene=False, cache_dir=None) -> Graph:
    registry = make_registry()
    registry.register(Levels)
    registry.register(Pick)
    g = Graph(registry=registry, base_dir=tmp_path, session=Session(registry=registry, cache_dir=cache_dir))
    if expensive_scene:  # the scene itself comes out of a training (a colorized still)
        scene = g.add("Offset", id="scene", image=g.add("Slow", id="slow").image, offset=0.1).image
    else:
        scene = g.add("Const", id="scene", size=16).image
    levels = g.add("Levels", id="levels", image=scene)
    g.output("value", g.add("Pick", id="pick", levels=levels.levels, n=n).value)
    return g


def test_out_of_range_param_is_refused_before_the_training(tmp_path):
    g = graph(tmp_path, n=9, cache_dir=tmp_path / "c")
    events = []
    with pytest.raises(NodeExecutionError) as err:
        g.run(device="cpu", on_event=events.append)
    assert str(err.value) == "node pick (Pick): n: n 9 is out of range 1…4 (hint: use 1 ≤ n ≤ 4)"
    assert CALLS["levels"] == 0
    assert not any(isinstance(e, NodeStarted) and e.node_id == "levels" for e in events)


def test_in_range_and_auto_run_and_reuse_the_preflight_values(tmp_path):
    for n, expected in ((4, 4), ("auto", 4)):
        reset()
        assert graph(tmp_path, n=n, cache_dir=tmp_path / "c").run(device="cpu")["value"] == expected
        assert CALLS["scene"] == 1  # computed once, for the preflight, and reused by the run


def test_session_preflight_checks_without_training(tmp_path):
    g = graph(tmp_path, n=5, cache_dir=tmp_path / "c")
    plan = g.session.plan(g.spec, base_dir=tmp_path)
    with pytest.raises(NodeExecutionError, match=r"^node pick \(Pick\): n: n 5 is out of range 1…4"):
        g.session.preflight(plan)
    assert CALLS["levels"] == 0
    good = graph(tmp_path, n=2, cache_dir=tmp_path / "c")
    good.session.preflight(good.session.plan(good.spec, base_dir=tmp_path))
    assert CALLS["levels"] == 0


def test_scene_from_a_training_is_checked_once_computed_before_the_next_training(tmp_path):
    g = graph(tmp_path, n=99, expensive_scene=True, cache_dir=tmp_path / "c")
    # nothing cached: the preflight cannot know the scene yet and trains nothing
    g.session.preflight(g.session.plan(g.spec, base_dir=tmp_path))
    assert CALLS["slow"] == 0
    with pytest.raises(NodeExecutionError, match=r"n 99 is out of range 1…2"):
        g.run(device="cpu")
    assert CALLS["slow"] == 1 and CALLS["levels"] == 0
    # now the upstream training is cached: the preflight alone finds the problem
    reset()
    again = graph(tmp_path, n=99, expensive_scene=True, cache_dir=tmp_path / "c")
    with pytest.raises(NodeExecutionError, match=r"n 99 is out of range 1…2"):
        again.session.preflight(again.session.plan(again.spec, base_dir=tmp_path))
    assert CALLS["slow"] == 0 and CALLS["levels"] == 0


def test_no_cache_run_still_checks_first(tmp_path):
    g = graph(tmp_path, n=7)
    with pytest.raises(NodeExecutionError, match="n 7 is out of range"):
        g.run(device="cpu", use_cache=False)
    assert CALLS["levels"] == 0
