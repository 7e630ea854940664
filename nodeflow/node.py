"""How a node type is declared: sockets, params, flags, then one ``run``.

A node file should read like a spec::

    class Blur(Node):
        \"\"\"Gaussian blur of an image.\"\"\"

        category = "filter"
        inputs = (Input("image", IMAGE),)
        outputs = (Output("image", IMAGE),)

        class Params(NodeParams):
            sigma: float = Field(2.0, ge=0, le=200, description="Gaussian sigma in pixels")

        def run(self, ctx, image):
            return {"image": kornia.filters.gaussian_blur2d(image, ...)}

One instance is made per node per run, so a sink may keep state (an open video writer) across
the frame batches of that run; ``finish`` is called once after the last batch and ``abort`` if
the run fails or is cancelled, so nothing half-written is left behind.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from nodeflow.params import NodeParams, NoParams
from nodeflow.types import SocketType

if TYPE_CHECKING:
    from nodeflow.context import RunContext


_REQUIRED = object()


@dataclass(frozen=True)
class Input:
    """An input socket. Optional when ``optional`` is set or a ``default`` is given."""

    name: str
    type: SocketType
    doc: str = ""
    optional: bool = False
    default: Any = _REQUIRED

    @property
    def required(self) -> bool:
        return not self.optional and self.default is _REQUIRED

    def default_value(self) -> Any:
        return None if self.default is _REQUIRED else self.default


@dataclass(frozen=True)
class Output:
    """An output socket."""

    name: str
    type: SocketType
    doc: str = ""


class Node:
    """Base class of every node type. Subclasses declare data and implement :meth:`run`."""

    type_name: ClassVar[str] = ""
    """Name used in graph files; defaults to the class name."""
    category: ClassVar[str] = "misc"
    version: ClassVar[int] = 1
    """Bump when outputs change for the same params: it invalidates cached results."""
    inputs: ClassVar[tuple[Input, ...]] = ()
    outputs: ClassVar[tuple[Output, ...]] = ()
    Params: ClassVar[type[NodeParams]] = NoParams

    expensive: ClassVar[bool] = False
    """Results are kept in the persistent disk cache (trainings). Outputs must be picklable-free:
    tensors, scalars, strings or :class:`~nodeflow.handles.ModelHandle` values."""
    sink: ClassVar[bool] = False
    """Has side effects (writes files): always runs when planned, never cached."""
    frame_source: ClassVar[bool] = False
    """Produces frames: implements :meth:`frame_count`; its dependents become time-varying."""
    first_batch_decides: ClassVar[bool] = False
    """Decides something on the first batch of a run it sees and keeps it (a choice made from the
    first frames). An executor that splits a clip between several instances (Dask) first runs the
    run's first batch through each of them, so that every instance decides as the local one does.
    A node whose choice depends on its connections says so in :meth:`decides_on_first_batch`."""
    cli_train: ClassVar[str | None] = None
    """If set, ``nodeflow train <cli_train>`` runs this node and saves its model output."""
    cli_positional: ClassVar[tuple[str, ...]] = ()
    """Params given positionally to ``nodeflow train``."""

    def __init__(self, params: NodeParams):
        self.params = params

    # -- declaration helpers -------------------------------------------------------------------
    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.__dict__.get("type_name"):
            cls.type_name = cls.__name__

    @classmethod
    def doc(cls) -> str:
        return inspect.cleandoc(cls.__doc__ or "")

    @classmethod
    def summary(cls) -> str:
        return cls.doc().split("\n\n")[0].replace("\n", " ")

    @classmethod
    def input(cls, name: str) -> Input | None:
        return next((i for i in cls.inputs if i.name == name), None)

    @classmethod
    def output(cls, name: str) -> Output | None:
        return next((o for o in cls.outputs if o.name == name), None)

    # -- behaviour -----------------------------------------------------------------------------
    def frame_count(self, ctx: RunContext) -> int:
        """Number of frames a frame source provides (frame sources only; ``ctx.frames`` is None)."""
        raise NotImplementedError(f"{self.type_name} is not a frame source")

    def decides_on_first_batch(self, connected: frozenset[str]) -> bool:
        """Whether this instance, with the inputs named in ``connected`` wired, decides on its run's
        first batch (see ``first_batch_decides``, the default). An executor that splits the clip
        replays the first batch only where this says so: the replay costs a batch per instance."""
        return self.first_batch_decides

    def check(self, ctx: RunContext) -> None:
        """Called for every planned node before anything runs: raise ``NodeError`` for problems that
        can be seen from params alone (an output file that exists without ``overwrite``), so they
        surface before a long training upstream rather than after it. For a time-varying node
        ``ctx.frames`` holds every frame of the run here (None for a static one)."""

    def preflight(self, ctx: RunContext, known: dict[str, Any]) -> dict[str, Any] | None:
        """Check what is known of the inputs before the expensive work, and say what is known of the outputs.

        ``known`` maps input names to what is known before this node runs: the value itself where
        the input was cheap to compute (a loaded image, a cached model), else the facts an upstream
        ``preflight`` returned for it (any object the consumer understands, e.g. "a model pyramid
        with scales 0…5"); inputs that nothing is known about are absent. Raise ``NodeError`` for
        problems (an injection scale out of range); return ``{output name: facts}`` or None.
        Called several times per run as more becomes known (must be cheap and side-effect free).
        """
        return None

    def run(self, ctx: RunContext, **inputs: Any) -> dict[str, Any]:
        """Compute the outputs from the inputs. Time-varying nodes get ``ctx.frames``."""
        raise NotImplementedError

    def finish(self, ctx: RunContext) -> None:
        """Called once after the last batch of a successful run (close files, rename temps)."""

    def abort(self) -> None:
        """Called when the run fails or is cancelled: remove temporary files."""
