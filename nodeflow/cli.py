"""``nodeflow`` command line: run, validate, nodes, schema, train, cache.

User errors print a clear message and exit non-zero without a traceback (``--verbose`` adds it):
2 for an invalid graph or arguments, 1 for a node that failed, 130 when cancelled (Ctrl-C),
143 when stopped by SIGTERM (see :mod:`nodeflow.stop_signals`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from nodeflow.errors import Cancelled, GraphValidationError, NodeflowError, Problem, explain_exception
from nodeflow.executors import executor_names, unused_options
from nodeflow.frames import parse_frames, resolve_frames

EXIT_OK, EXIT_FAILED, EXIT_INVALID, EXIT_CANCELLED = 0, 1, 2, 130
MAX_THREADS = max(64, 4 * (os.cpu_count() or 1))
"""More torch threads than this only wait on each other (and thousands crash OpenMP)."""


class UsageError(NodeflowError):
    exit_code = EXIT_INVALID

    def __init__(self, message: str, *, hint: str | None = None):
        super().__init__(f"{message} (hint: {hint})" if hint else message)


# ---------------------------------------------------------------------------------------------
# argument helpers


def parse_set(items: Sequence[str]) -> list[tuple[str, str, Any]]:
    """``node.param=value`` -> (node, param, value); value is JSON when it parses, else a string.

    The JSON is as strict as a graph file's (no NaN, huge numbers, deep nesting)."""
    from nodeflow.spec import JSONSyntaxError, parse_json

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


def executor_options(args: argparse.Namespace) -> dict[str, Any]:
    """The executor options of ``nodeflow run`` (None: not given), named as ``run_plan`` takes them."""
    return {"workers": args.workers, "scheduler": args.scheduler, "max_in_flight": args.max_in_flight}


def check_run_options(args: argparse.Namespace) -> None:
    """Refuse option values that would fail deep inside a run, before the graph is read (its own
    problems would hide an argument mistake)."""
    check_folder_option("--output-dir", args.output_dir)
    check_folder_option("--preview", args.preview)
    if args.batch_size < 1:
        raise UsageError(f"--batch-size {args.batch_size}: must be at least 1")
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers {args.workers}: the Dask cluster needs at least 1 worker process")
    if args.max_in_flight is not None and args.max_in_flight < 1:
        raise UsageError(f"--max-in-flight {args.max_in_flight}: at least 1 task must be in flight")
    unused = unused_options(args.executor, executor_options(args))
    if unused:
        raise UsageError(f"{', '.join('--' + u.replace('_', '-') for u in unused)}: not used by --executor {args.executor} "
                         "(add --executor dask)")


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
    """First Ctrl-C (or SIGTERM) asks the run to stop cleanly; a second one interrupts at once."""
    from nodeflow.stop_signals import active

    stop = active()
    if stop is None:  # called outside main(): nothing installed
        yield
        return
    with stop.cancelling(session.cancel, lambda text: console.print(f"[yellow]{text}[/]")):
        yield


# ---------------------------------------------------------------------------------------------
# commands


def _console():
    from rich.console import Console

    return Console(stderr=True)


def cmd_run(args: argparse.Namespace) -> int:
    from nodeflow.graph import GraphSpec
    from nodeflow.preview import PreviewWriter, preview_clashes
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
        frames = resolve_frames(fr, plan.frame_count, text=args.frames)
    listeners: list[Any] = []
    reporter = ConsoleReporter(console, verbose=args.verbose)
    listeners.append(reporter)
    if args.preview:
        clashes = preview_clashes(plan, args.preview)
        if clashes:
            raise UsageError(f"--preview {args.preview}: refusing to overwrite inputs of this graph or files "
                             f"nodeflow did not write: {'; '.join(clashes[:3])} (hint: choose another --preview folder)")
        listeners.append(PreviewWriter(args.preview, inputs=plan.input_files))
    with reporter, cancel_on_sigint(session, console):
        results = session.run_plan(plan, frames=frames, device=args.device, batch_size=args.batch_size,
                                   use_cache=not args.no_cache, listeners=listeners, executor=args.executor,
                                   collect_outputs=False, **executor_options(args))
    console.print(reporter.summary())
    for name, value in results.items():
        shape = getattr(value, "shape", None)
        console.print(f"output {name}: {tuple(shape) if shape is not None else value!r}")
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    from nodeflow.graph import GraphSpec
    from nodeflow.registry import default_registry
    from nodeflow.session import Session
    from nodeflow.validate import validate_graph

    graph_path = Path(args.graph)
    spec = GraphSpec.load(graph_path)
    apply_sets(spec, parse_set(args.set or []))
    vg = validate_graph(spec, default_registry(), base_dir=graph_path.resolve().parent)
    if vg.problems:
        raise GraphValidationError(vg.problems)
    # then what only cheap upstream values reveal (image sizes -> pyramid sizes), training nothing
    session = Session(cache_dir=args.cache_dir)
    session.preflight(session.plan(spec, base_dir=graph_path.resolve().parent, output_dir=Path.cwd()))
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
    from nodeflow.param_info import param_infos

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
    params = param_infos(cls.Params)
    for p in params:
        default = "required" if p.required else f"default {p.default!r}"
        bounds = p.bounds_text()
        extra = f", {bounds}" if bounds else ""
        lines.append(f"  {p.name}: {p.type_text()} ({default}{extra}) {p.description}".rstrip())
    if not params:
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
        busy = cache.clear()
        print(f"cleared {cache.root}" + (f" (kept {len(busy)} entries another process is working on)"
                                         if busy else ""))
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
    """One option per param (positional for ``cls.cli_positional``); help shows default and range."""
    from nodeflow.param_info import param_infos

    for p in param_infos(cls.Params):
        if p.name in cls.cli_positional:
            parser.add_argument(p.name, help=p.description)
            continue
        flag = "--" + p.name.replace("_", "-")
        kwargs: dict[str, Any] = {"dest": p.name, "help": p.description, "default": argparse.SUPPRESS}
        if p.optional:  # "null" (or a number) on the command line
            kwargs["type"] = _json_or_str
        elif p.kind == "bool":
            kwargs["action"] = argparse.BooleanOptionalAction
        elif p.kind == "choice":
            kwargs["choices"] = list(p.choices)
            kwargs["type"] = type(p.choices[0])
        elif p.kind in ("int", "float", "str", "path"):
            kwargs["type"] = {"int": int, "float": float}.get(p.kind, str)
        else:
            kwargs["type"] = _json_or_str
        notes = [f"default {p.default!r}"] if p.default is not None else []
        if p.bounds_text():
            notes.append(p.bounds_text())
        if notes:
            kwargs["help"] = f"{p.description} ({', '.join(notes)})".strip()
        parser.add_argument(flag, **kwargs)


def _json_or_str(text: str) -> Any:
    from nodeflow.spec import JSONSyntaxError, parse_json

    try:
        return parse_json(text, field="argument")
    except JSONSyntaxError:
        return text
    except GraphValidationError as exc:
        raise argparse.ArgumentTypeError(exc.problems[0].message) from None


def cmd_train(args: argparse.Namespace) -> int:
    from nodeflow.graph import GraphSpec, NodeSpec
    from nodeflow.handles import ModelHandle
    from nodeflow.model_out import check_model_out, save_model_folder
    from nodeflow.param_info import param_infos
    from nodeflow.params import INPUT_PATH, fields_with_role
    from nodeflow.progress import ConsoleReporter
    from nodeflow.session import Session

    cls = args.train_cls
    params = {p.name: getattr(args, p.name) for p in param_infos(cls.Params) if hasattr(args, p.name)}
    out = Path(args.out)
    inputs = [Path(str(params[n])).expanduser() for n in fields_with_role(cls.Params, INPUT_PATH) if params.get(n)]
    check_model_out(cls.type_name, out, inputs, args.overwrite)  # before training, not after
    model_out = next((o.name for o in cls.outputs if o.type.is_model or o.type.name == cls.cli_train), cls.outputs[0].name)
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
    check_model_out(cls.type_name, out, inputs, args.overwrite)  # again: it may have changed meanwhile
    save_model_folder(out, handle.save)
    console.print(reporter.summary())
    console.print(f"saved {handle.kind} model to {out}")
    return EXIT_OK


# ---------------------------------------------------------------------------------------------


GLOBAL_OPTIONS: tuple[tuple[tuple[str, ...], dict[str, Any]], ...] = (
    (("--verbose", "-v"), {"action": "store_true", "help": "tracebacks and per-batch logs"}),
    (("--cache-dir",), {"help": "disk cache folder (default $NODEFLOW_CACHE_DIR or the user cache)"}),
    (("--threads",), {"type": int, "metavar": "N",
                      "help": "CPU threads for torch (default: all cores; 1 is faster on a busy machine)"}),
    (("--device",), {"help": "auto | cpu | cuda[:N] | mps, for run and train (default auto)"}),
)
"""Options every command accepts before or after its name (``nodeflow --threads 1 run g.json``
and ``nodeflow run g.json --threads 1`` are the same)."""
GLOBAL_DEFAULTS = {"verbose": False, "cache_dir": None, "threads": None, "device": "auto"}


def _global_options(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """Add the global options; below the top level they default to 'not given' so that an option
    given before the command is not reset by the sub-command's default."""
    for flags, kwargs in GLOBAL_OPTIONS:
        parser.add_argument(*flags, **kwargs, default=GLOBAL_DEFAULTS[flags[0][2:].replace("-", "_")]
                            if top else argparse.SUPPRESS)


def _command_name(argv: Sequence[str]) -> str | None:
    """The first argument that is not a global option (or its value): the command."""
    takes_value = {f for flags, kw in GLOBAL_OPTIONS if kw.get("action") is None for f in flags}
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in takes_value:
            skip = True
        elif not arg.startswith("-"):
            return arg
    return None


def build_parser(with_train: bool = True) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nodeflow", description="Compositor-style node graphs for film work.")
    _global_options(parser, top=True)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = argparse.ArgumentParser(add_help=False)
    _global_options(common, top=False)
    run = sub.add_parser("run", parents=[common], help="run a graph file")
    run.add_argument("graph")
    run.add_argument("--frames", help="frame range START:STOP[:STEP] or N (default: all)")
    run.add_argument("--set", action="append", metavar="NODE.PARAM=VALUE", help="override a param (repeatable)")
    run.add_argument("--batch-size", type=int, default=8, help="frames per batch (default 8)")
    run.add_argument("--output-dir", help="folder that relative output paths resolve against (default: .)")
    run.add_argument("--output", action="append", help="graph output to compute (default: all + sinks)")
    run.add_argument("--no-cache", action="store_true", help="neither read nor write cached results")
    run.add_argument("--preview", metavar="DIR", help="write a small PNG of every Image/Mask output to DIR")
    run.add_argument("--executor", choices=executor_names(), default="local",
                     help="local (default) or dask: frame batches in parallel on a Dask cluster")
    run.add_argument("--workers", type=int, metavar="N",
                     help="dask: worker processes of the local cluster (default 2)")
    run.add_argument("--scheduler", metavar="ADDRESS",
                     help="dask: a running scheduler (tcp://host:8786) instead of a local cluster")
    run.add_argument("--max-in-flight", type=int, metavar="N",
                     help="dask: tasks outstanding at once (their results wait in memory for their turn; "
                          "default: one run of about 96 frames per worker); lower it for large frames")
    run.set_defaults(func=cmd_run)

    val = sub.add_parser("validate", parents=[common], help="check a graph file and list every problem")
    val.add_argument("graph")
    val.add_argument("--set", action="append", metavar="NODE.PARAM=VALUE")
    val.set_defaults(func=cmd_validate)

    nodes = sub.add_parser("nodes", parents=[common], help="list node types, or describe one")
    nodes.add_argument("type", nargs="?")
    nodes.set_defaults(func=cmd_nodes)

    schema = sub.add_parser("schema", parents=[common], help="print the JSON Schema of the graph format")
    schema.set_defaults(func=cmd_schema)

    cache = sub.add_parser("cache", parents=[common], help="inspect or clear the disk cache")
    cache.add_argument("action", choices=["info", "clear"])
    cache.set_defaults(func=cmd_cache)

    edit = sub.add_parser("edit", parents=[common], help="open the node editor (needs the [gui] extra)")
    edit.add_argument("graph", nargs="?", help="graph file to open (created on save if missing)")
    edit.add_argument("--output-dir", help="folder that relative output paths resolve against "
                                           "(default: the graph file's folder)")
    edit.set_defaults(func=cmd_edit)

    train = sub.add_parser("train", parents=[common], help="train a model and save it to a folder")
    kinds = train.add_subparsers(dest="kind", required=True, metavar="KIND")
    if with_train:
        for kind, cls in sorted(training_nodes().items()):
            p = kinds.add_parser(kind, help=cls.summary(), description=cls.doc(), parents=[common])
            add_param_arguments(p, cls)
            p.add_argument("--out", required=True, help="folder to save the trained model in")
            p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
            p.add_argument("--no-cache", action="store_true")
            p.set_defaults(func=cmd_train, train_cls=cls)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The CLI, with SIGINT/SIGTERM turned into a clean stop and their exit status."""
    from nodeflow.stop_signals import stop_signals

    with stop_signals() as stop:
        code = EXIT_CANCELLED
        try:
            code = _main(argv)
        except KeyboardInterrupt:  # a second Ctrl-C while reporting the outcome
            pass
        finally:
            stop.finished = True  # from here on, stop signals are ignored
        return stop.exit_code(code)


def _main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    verbose = "--verbose" in argv or "-v" in argv
    try:
        # Training sub-commands are built from the node registry, so only when asked for.
        parser = build_parser(with_train=_command_name(argv) == "train")
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
