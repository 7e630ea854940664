"""``nodeflow`` command line: run, validate, nodes, schema, train, cache.

User errors print a clear message and exit non-zero without a traceback (``--verbose`` adds it):
2 for an invalid graph or arguments, 1 for a node that failed, 130 when cancelled.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import traceback
import typing
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from nodeflow.errors import Cancelled, GraphValidationError, NodeflowError, Problem, explain_exception

EXIT_OK, EXIT_FAILED, EXIT_INVALID, EXIT_CANCELLED = 0, 1, 2, 130
MAX_THREADS = max(64, 4 * (os.cpu_count() or 1))
"""More torch threads than this only wait on each other (and thousands crash OpenMP)."""


class UsageError(NodeflowError):
    exit_code = EXIT_INVALID

    def __init__(self, message: str, *, hint: str | None = None):
        super().__init__(f"{message} (hint: {hint})" if hint else message)


# ---------------------------------------------------------------------------------------------
# argument helpers


def parse_frames(text: str | None) -> tuple[int, int | None, int] | None:
    """``"0:48"`` -> (0, 48, 1); ``"10"`` -> (10, 11, 1); ``"5:"`` -> (5, None, 1); ``"0:48:2"``."""
    if text is None:
        return None
    parts = text.split(":")
    try:
        if len(parts) == 1:
            f = int(parts[0])
            return (f, f + 1, 1)
        if len(parts) in (2, 3):
            start = int(parts[0]) if parts[0] else 0
            stop = int(parts[1]) if parts[1] else None
            step = int(parts[2]) if len(parts) == 3 and parts[2] else 1
            if step <= 0 or start < 0 or (stop is not None and stop <= start):
                raise ValueError
            return (start, stop, step)
    except ValueError:
        pass
    raise UsageError(f"--frames {text!r}: expected N, START:STOP or START:STOP:STEP (e.g. 0:48)")


def parse_set(items: Sequence[str]) -> list[tuple[str, str, Any]]:
    """``node.param=value`` -> (node, param, value); value is JSON when it parses, else a string.

    The JSON is as strict as a graph file's (no NaN, huge numbers, deep nesting)."""
    from nodeflow.graph import JSONSyntaxError, parse_json

    out = []
    for item in items:
        target, eq, raw = item.partition("=")
        node, dot, param = target.partition(".")
        if not eq or not dot or not node or not param:
            raise UsageError(f"--set {item!r}: expected NODE.PARAM=VALUE (e.g. --set blur.sigma=3)")
        try:
            value = parse_json(raw, field=f"--set {target}")
        except JSONSyntaxError:
            value = raw  # not JSON: a plain string
        out.append((node, param, value))
    return out


def check_folder_option(option: str, value: str | None) -> None:
    """A folder option (--output-dir, --preview, --cache-dir) must not name a file."""
    if value is None:
        return
    if "\0" in value:
        raise UsageError(f"{option}: a path cannot contain a NUL byte")
    path = Path(value)
    if path.exists() and not path.is_dir():
        raise UsageError(f"{option} {value} is a file, not a folder",
                         hint=f"give {option} a folder (it is created if missing)")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise UsageError(f"{option} {value}: {parent} is a file, not a folder")
            break


def check_run_options(args: argparse.Namespace) -> None:
    """Refuse option values that would fail deep inside a run."""
    check_folder_option("--output-dir", args.output_dir)
    check_folder_option("--preview", args.preview)
    if args.batch_size < 1:
        raise UsageError(f"--batch-size {args.batch_size}: must be at least 1")
    if args.executor == "dask" and args.workers < 1:
        raise UsageError(f"--workers {args.workers}: the Dask cluster needs at least 1 worker thread")


def apply_sets(spec: Any, sets: list[tuple[str, str, Any]]) -> None:
    problems = []
    for node, param, value in sets:
        if node not in spec.nodes:
            problems.append(Problem(f"--set: no node {node!r} in this graph", field=f"{node}.{param}",
                                    hint=f"nodes: {', '.join(spec.nodes)}"))
            continue
        spec.nodes[node].params[param] = value
    if problems:
        raise GraphValidationError(problems)


@contextmanager
def cancel_on_sigint(session: Any, console: Any) -> Iterator[None]:
    """First Ctrl-C asks the run to stop cleanly; a second one interrupts at once."""
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum: int, frame: Any) -> None:
        if session.cancel_token.cancelled:
            signal.signal(signal.SIGINT, signal.default_int_handler)
            raise KeyboardInterrupt
        console.print("[yellow]cancelling… (Ctrl-C again to interrupt at once)[/]")
        session.cancel()

    signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


# ---------------------------------------------------------------------------------------------
# commands


def _console():
    from rich.console import Console

    return Console(stderr=True)


def cmd_run(args: argparse.Namespace) -> int:
    from nodeflow.graph import GraphSpec
    from nodeflow.preview import PreviewWriter
    from nodeflow.progress import ConsoleReporter
    from nodeflow.session import Session

    console = _console()
    check_run_options(args)
    graph_path = Path(args.graph)
    spec = GraphSpec.load(graph_path)
    apply_sets(spec, parse_set(args.set or []))
    session = Session(cache_dir=args.cache_dir)
    output_dir = Path(args.output_dir) if args.output_dir else Path.cwd()
    plan = session.plan(spec, base_dir=graph_path.resolve().parent, output_dir=output_dir,
                        outputs=args.output or None)
    frames = None
    fr = parse_frames(args.frames)
    if fr is not None:
        if plan.frame_count is None:
            raise UsageError("--frames given, but nothing in this graph is time-varying")
        start, stop, step = fr
        stop = plan.frame_count if stop is None else stop
        if stop > plan.frame_count:
            raise UsageError(f"--frames {args.frames}: the sources provide {plan.frame_count} frames "
                             f"(0:{plan.frame_count})")
        frames = range(start, stop, step)
    listeners: list[Any] = []
    reporter = ConsoleReporter(console, verbose=args.verbose)
    listeners.append(reporter)
    if args.preview:
        listeners.append(PreviewWriter(args.preview))
    with reporter, cancel_on_sigint(session, console):
        results = session.run_plan(plan, frames=frames, device=args.device, batch_size=args.batch_size,
                                   use_cache=not args.no_cache, listeners=listeners, executor=args.executor,
                                   workers=args.workers, scheduler=args.scheduler)
    console.print(reporter.summary())
    for name, value in results.items():
        shape = tuple(value.shape) if hasattr(value, "shape") else None
        console.print(f"output {name}: {shape if shape is not None else value!r}")
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    from nodeflow.graph import GraphSpec
    from nodeflow.registry import default_registry
    from nodeflow.validate import validate_graph

    graph_path = Path(args.graph)
    spec = GraphSpec.load(graph_path)
    apply_sets(spec, parse_set(args.set or []))
    vg = validate_graph(spec, default_registry(), base_dir=graph_path.resolve().parent)
    if vg.problems:
        raise GraphValidationError(vg.problems)
    print(f"{graph_path}: valid ({len(spec.nodes)} nodes)")
    return EXIT_OK


def cmd_nodes(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from nodeflow.registry import default_registry

    registry = default_registry()
    console = Console()
    if args.type:
        if args.type not in registry:
            close = registry.closest(args.type)
            raise UsageError(f"unknown node type {args.type!r}" + (f"; did you mean {', '.join(close)}?"
                                                                     if close else ""))
        console.print(describe_node(registry.get(args.type)), markup=False, highlight=False)
        return EXIT_OK
    table = Table(title=f"{len(registry)} node types")
    for col in ("type", "category", "summary"):
        table.add_column(col)
    for name in sorted(registry, key=lambda n: (registry.get(n).category, n)):
        cls = registry.get(name)
        table.add_row(escape(name), escape(cls.category), escape(cls.summary()))
    console.print(table)
    for f in registry.failures:
        console.print(f"[yellow]skipped node package {escape(f.name)}: {escape(f.error)}[/]")
    return EXIT_OK


def describe_node(cls: Any) -> str:
    from pydantic_core import PydanticUndefined

    lines = [f"{cls.type_name}  (category {cls.category}, version {cls.version})", "", cls.doc(), ""]
    flags = [f for f in ("expensive", "sink", "frame_source") if getattr(cls, f)]
    if flags:
        lines += [f"flags: {', '.join(flags)}", ""]
    lines.append("inputs:")
    for i in cls.inputs or ():
        req = "required" if i.required else f"optional, default {i.default_value()!r}"
        lines.append(f"  {i.name}: {i.type.name} ({req}) {i.doc}".rstrip())
    if not cls.inputs:
        lines.append("  (none)")
    lines.append("outputs:")
    for o in cls.outputs or ():
        lines.append(f"  {o.name}: {o.type.name} {o.doc}".rstrip())
    if not cls.outputs:
        lines.append("  (none)")
    lines.append("params:")
    for name, info in cls.Params.model_fields.items():
        ann = getattr(info.annotation, "__name__", None) or str(info.annotation).replace("typing.", "")
        if typing.get_origin(info.annotation) is typing.Literal:
            ann = " | ".join(repr(a) for a in typing.get_args(info.annotation))
        bounds = []
        for meta in info.metadata:
            for attr, sym in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
                v = getattr(meta, attr, None)
                if v is not None:
                    bounds.append(f"{sym} {v}")
        default = "required" if info.default is PydanticUndefined else f"default {info.default!r}"
        extra = f", {' '.join(bounds)}" if bounds else ""
        lines.append(f"  {name}: {ann} ({default}{extra}) {info.description or ''}".rstrip())
    if not cls.Params.model_fields:
        lines.append("  (none)")
    return "\n".join(lines)


def cmd_schema(args: argparse.Namespace) -> int:
    from nodeflow.registry import default_registry
    from nodeflow.schema import graph_schema

    print(json.dumps(graph_schema(default_registry()), indent=2))
    return EXIT_OK


def cmd_cache(args: argparse.Namespace) -> int:
    from nodeflow.cache import DiskCache

    cache = DiskCache(Path(args.cache_dir) if args.cache_dir else None)
    if args.action == "clear":
        cache.clear()
        print(f"cleared {cache.root}")
        return EXIT_OK
    info = cache.info()
    print(f"cache folder: {info.root}\nentries: {info.entries}\nsize: {info.bytes / 1e6:.1f} MB\n"
          f"unfinished (resumable) work: {info.scratch_entries}")
    return EXIT_OK


def cmd_edit(args: argparse.Namespace) -> int:
    try:
        from nodeflow.gui.app import main as edit_main
    except ImportError as exc:
        raise UsageError(f"the editor needs the [gui] extra (PyQt6, NodeGraphQt): "
                         f"pip install -e '.[gui]' ({exc})") from None
    argv = [args.graph] if args.graph else []
    if args.output_dir:
        argv += ["--output-dir", args.output_dir]
    if args.cache_dir:
        argv += ["--cache-dir", args.cache_dir]
    return int(edit_main(argv))


# -- train: one command per training node type, built from the node's params -------------------


def training_nodes() -> dict[str, Any]:
    from nodeflow.registry import default_registry

    registry = default_registry()
    return {registry.get(n).cli_train: registry.get(n) for n in registry if registry.get(n).cli_train}


def add_param_arguments(parser: argparse.ArgumentParser, cls: Any) -> None:
    from pydantic_core import PydanticUndefined

    for name, info in cls.Params.model_fields.items():
        ann = info.annotation
        help_text = info.description or ""
        if name in cls.cli_positional:
            parser.add_argument(name, help=help_text)
            continue
        flag = "--" + name.replace("_", "-")
        kwargs: dict[str, Any] = {"dest": name, "help": help_text, "default": argparse.SUPPRESS}
        if ann is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        elif typing.get_origin(ann) is typing.Literal:
            kwargs["choices"] = list(typing.get_args(ann))
            kwargs["type"] = type(typing.get_args(ann)[0])
        elif ann in (int, float, str):
            kwargs["type"] = ann
        else:
            kwargs["type"] = _json_or_str
        if info.default is not PydanticUndefined and info.default is not None:
            kwargs["help"] = f"{help_text} (default {info.default!r})".strip()
        parser.add_argument(flag, **kwargs)


def _json_or_str(text: str) -> Any:
    from nodeflow.graph import JSONSyntaxError, parse_json

    try:
        return parse_json(text, field="argument")
    except JSONSyntaxError:
        return text
    except GraphValidationError as exc:
        raise argparse.ArgumentTypeError(exc.problems[0].message) from None


def cmd_train(args: argparse.Namespace) -> int:
    from nodeflow.graph import GraphSpec, NodeSpec
    from nodeflow.handles import ModelHandle
    from nodeflow.progress import ConsoleReporter
    from nodeflow.session import Session

    cls = args.train_cls
    params = {name: getattr(args, name) for name in cls.Params.model_fields if hasattr(args, name)}
    model_out = next((o.name for o in cls.outputs if o.type.name in ("Pix2Pix", "CycleGAN", "SinGAN")
                      or o.type.name == cls.cli_train), cls.outputs[0].name)
    spec = GraphSpec(nodes={"train": NodeSpec(type=cls.type_name, params=params)},
                     outputs={"model": {"node": "train", "output": model_out}})  # type: ignore[dict-item]
    console = _console()
    session = Session(cache_dir=args.cache_dir)
    reporter = ConsoleReporter(console, verbose=args.verbose)
    with reporter, cancel_on_sigint(session, console):
        result = session.run(spec, base_dir=Path.cwd(), device=args.device, use_cache=not args.no_cache,
                             listeners=[reporter])
    handle = result["model"]
    if not isinstance(handle, ModelHandle):
        raise NodeflowError(f"{cls.type_name} did not return a model handle")
    out = Path(args.out)
    if out.exists() and any(out.iterdir()) and not args.overwrite:
        raise UsageError(f"--out {out} exists and is not empty; pass --overwrite or choose another folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        handle.save(tmp)
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    console.print(reporter.summary())
    console.print(f"saved {handle.kind} model to {out}")
    return EXIT_OK


# ---------------------------------------------------------------------------------------------


def build_parser(with_train: bool = True) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nodeflow", description="Compositor-style node graphs for film work.")
    parser.add_argument("--verbose", "-v", action="store_true", help="tracebacks and per-batch logs")
    parser.add_argument("--cache-dir", help="disk cache folder (default $NODEFLOW_CACHE_DIR or the user cache)")
    parser.add_argument("--threads", type=int, metavar="N",
                        help="CPU threads for torch (default: all cores; 1 is faster on a busy machine)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run a graph file")
    run.add_argument("graph")
    run.add_argument("--frames", help="frame range START:STOP[:STEP] or N (default: all)")
    run.add_argument("--set", action="append", metavar="NODE.PARAM=VALUE", help="override a param (repeatable)")
    run.add_argument("--device", default="auto", help="auto | cpu | cuda[:N] | mps (default auto)")
    run.add_argument("--batch-size", type=int, default=8, help="frames per batch (default 8)")
    run.add_argument("--output-dir", help="folder that relative output paths resolve against (default: .)")
    run.add_argument("--output", action="append", help="graph output to compute (default: all + sinks)")
    run.add_argument("--no-cache", action="store_true", help="neither read nor write cached results")
    run.add_argument("--preview", metavar="DIR", help="write a small PNG of every Image/Mask output to DIR")
    run.add_argument("--threads", type=int, metavar="N", default=argparse.SUPPRESS,
                     help="CPU threads for torch (same as the global option)")
    run.add_argument("--executor", choices=["local", "dask"], default="local",
                     help="local (default) or dask: frame batches in parallel on a Dask cluster")
    run.add_argument("--workers", type=int, default=2, help="dask: threads of the local cluster (default 2)")
    run.add_argument("--scheduler", help="dask: address of a running scheduler instead of a local cluster")
    run.set_defaults(func=cmd_run)

    val = sub.add_parser("validate", help="check a graph file and list every problem")
    val.add_argument("graph")
    val.add_argument("--set", action="append", metavar="NODE.PARAM=VALUE")
    val.set_defaults(func=cmd_validate)

    nodes = sub.add_parser("nodes", help="list node types, or describe one")
    nodes.add_argument("type", nargs="?")
    nodes.set_defaults(func=cmd_nodes)

    schema = sub.add_parser("schema", help="print the JSON Schema of the graph format")
    schema.set_defaults(func=cmd_schema)

    cache = sub.add_parser("cache", help="inspect or clear the disk cache")
    cache.add_argument("action", choices=["info", "clear"])
    cache.set_defaults(func=cmd_cache)

    edit = sub.add_parser("edit", help="open the node editor (needs the [gui] extra)")
    edit.add_argument("graph", nargs="?", help="graph file to open (created on save if missing)")
    edit.add_argument("--output-dir", help="folder that relative output paths resolve against "
                                           "(default: the graph file's folder)")
    edit.set_defaults(func=cmd_edit)

    train = sub.add_parser("train", help="train a model and save it to a folder")
    kinds = train.add_subparsers(dest="kind", required=True, metavar="KIND")
    if with_train:
        for kind, cls in sorted(training_nodes().items()):
            p = kinds.add_parser(kind, help=cls.summary(), description=cls.doc())
            add_param_arguments(p, cls)
            p.add_argument("--out", required=True, help="folder to save the trained model in")
            p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
            p.add_argument("--device", default="auto")
            p.add_argument("--no-cache", action="store_true")
            p.add_argument("--threads", type=int, metavar="N", default=argparse.SUPPRESS,
                           help="CPU threads for torch (same as the global option)")
            p.set_defaults(func=cmd_train, train_cls=cls)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    verbose = "--verbose" in argv or "-v" in argv
    try:
        # Training sub-commands are built from the node registry, so only when asked for.
        parser = build_parser(with_train="train" in argv[:3])
        args = parser.parse_args(argv)
        args.verbose = args.verbose or verbose
        check_folder_option("--cache-dir", args.cache_dir)
        if args.threads is not None and not 1 <= args.threads <= MAX_THREADS:
            raise UsageError(f"--threads {args.threads}: must be between 1 and {MAX_THREADS}",
                             hint=f"this machine has {os.cpu_count()} cores")
        if args.threads:
            import torch

            torch.set_num_threads(max(1, args.threads))
        return int(args.func(args))
    except NodeflowError as exc:
        if verbose:
            traceback.print_exc()
        from rich.markup import escape

        _console().print(f"[red]error:[/] {escape(str(exc))}", highlight=False)
        return exc.exit_code if exc.exit_code else EXIT_FAILED
    except (OSError, MemoryError) as exc:  # the environment (disk full, read-only), not a bug
        if verbose:
            traceback.print_exc()
        from rich.markup import escape

        message, hint = explain_exception(exc)
        _console().print(f"[red]error:[/] {escape(message)}" + (f" (hint: {escape(hint)})" if hint else ""),
                         highlight=False)
        return EXIT_FAILED
    except (KeyboardInterrupt, Cancelled):
        _console().print("[yellow]cancelled[/]")
        return EXIT_CANCELLED


if __name__ == "__main__":
    raise SystemExit(main())
