"""A seeded graph-file fuzzer: mutated shipped and small graphs through the loader, ``nodeflow
validate`` and (for cheap graphs) ``nodeflow run``.

Each case starts from a shipped graph or a small one, applies a few mutations (wrong types, odd
ids, out-of-range, NaN/Infinity and huge numbers, deep nesting, dangling edges, cycles, format
versions, odd input/output paths) and maybe a byte-level one (truncation, non-UTF-8 bytes,
duplicate keys, a BOM), then checks the contract of ``probe.assert_clean``: exit 0, 1 or 2, no
traceback, an actionable message. The loader itself may raise only ``GraphValidationError``.

CI runs ``NODEFLOW_FUZZ_CASES`` (default 2000) cases with ``NODEFLOW_FUZZ_SEED`` (default 0); a
longer run sets more, e.g. ``NODEFLOW_FUZZ_CASES=20000``. The count is printed.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

import nodeflow.fingerprint
import nodeflow.image_files
from nodeflow.errors import GraphValidationError
from nodeflow.graph import GraphSpec
from nodeflow.params import INPUT_PATH, OUTPUT_PATH, field_role
from nodeflow.registry import default_registry
from robustness.probe import assert_clean, cli, cli_subprocess

CASES = int(os.environ.get("NODEFLOW_FUZZ_CASES", 2000))
SEED = int(os.environ.get("NODEFLOW_FUZZ_SEED", 0))
GRAPHS = Path(__file__).resolve().parents[2] / "graphs"
REGISTRY = default_registry()
TYPES = sorted(REGISTRY)

# Graphs made only of these run in milliseconds on 32 px images; others are only validated.
CHEAP = {"SampleImage", "LoadImage", "LoadImageSequence", "Blur", "Levels", "Grayscale", "ColorConvert",
         "Crop", "Pad", "Resize", "Mix", "SetAlpha", "AlphaOver", "CameraMove", "HoldFrames", "SaveImage",
         "SaveImageSequence", "SaveGIF", "RefineMatte"}


def _known(type_name: Any) -> bool:
    return isinstance(type_name, str) and type_name in REGISTRY


def _role(type_name: Any, param: str) -> str | None:
    if _known(type_name):
        model = REGISTRY.get(type_name).Params
        if param in model.model_fields:
            return field_role(model, param)
    return None


def _edge(node: str, output: str = "image") -> dict[str, str]:
    return {"node": node, "output": output}


SMALL: dict[str, dict[str, Any]] = {
    "still": {"format": "nodeflow/1", "nodes": {
        "src": {"type": "SampleImage", "params": {"name": "camera", "max_size": 32}},
        "soft": {"type": "Blur", "params": {"size": 1.5}, "inputs": {"image": _edge("src")}},
        "grey": {"type": "Grayscale", "inputs": {"image": _edge("soft")}},
        "save": {"type": "SaveImage", "params": {"path": "still.png"}, "inputs": {"image": _edge("grey")}},
    }, "outputs": {"result": _edge("grey")}},
    "file": {"format": "nodeflow/1", "nodes": {
        "photo": {"type": "LoadImage", "params": {"path": "photo.png"}},
        "levels": {"type": "Levels", "params": {"gamma": 1.2}, "inputs": {"image": _edge("photo")}},
        "padded": {"type": "Pad", "params": {"left": 2, "top": 2}, "inputs": {"image": _edge("levels")}},
        "save": {"type": "SaveImage", "params": {"path": "out/photo.png"}, "inputs": {"image": _edge("padded")}},
    }},
    "clip": {"format": "nodeflow/1", "nodes": {
        "frames": {"type": "LoadImageSequence", "params": {"path": "frames/f_%04d.png"}},
        "still": {"type": "SampleImage", "params": {"name": "coffee", "max_size": 32}},
        "move": {"type": "CameraMove", "params": {"frames": 3, "width": 24, "height": 16},
                 "inputs": {"image": _edge("still")}},
        "mix": {"type": "Mix", "params": {"factor": 0.5},
                "inputs": {"a": _edge("frames"), "b": _edge("move")}},
        "gif": {"type": "SaveGIF", "params": {"path": "clip.gif", "fps": 12},
                "inputs": {"image": _edge("mix")}},
        "seq": {"type": "SaveImageSequence", "params": {"path": "seq/s_%04d.png"},
                "inputs": {"image": _edge("move")}},
    }},
}


def _anchored(doc: dict[str, Any]) -> dict[str, Any]:
    """A shipped graph with its relative input paths made absolute, so that a copy beside the
    fuzz cases still finds its assets."""
    for node in doc["nodes"].values():
        for name, value in node.get("params", {}).items():
            if _role(node["type"], name) == INPUT_PATH and value and not Path(value).is_absolute():
                node["params"][name] = str(GRAPHS / value)
    return doc


SHIPPED = {p.stem: _anchored(json.loads(p.read_text())) for p in sorted(GRAPHS.glob("*.json"))}
BASES = {**SMALL, **SHIPPED}

RAW = "\x00raw:"
"""A string value replaced by raw JSON text after dumping (what json.dumps cannot write)."""
RAW_NUMBERS = ["NaN", "Infinity", "-Infinity", "1e999", "-1e999", "9" * 5000, "-" + "9" * 40, "1" + "0" * 31]
RAW_TEXT = {**{n: n for n in RAW_NUMBERS}, **{f"deep{d}": "[" * d + "1" + "]" * d for d in (70, 3000)},
            "deepobj": '{"a": ' * 2000 + "1" + "}" * 2000}

# Input paths may be anything (reading is refused or fails cleanly); output paths stay relative,
# so that no case can write outside its own folder.
INPUT_PATHS = ["", "/", "/dev/zero", "/dev/null", "{ws}/fifo", "a\x00b.png", "x" * 300 + ".png",
               "~nosuchuser/a.png", "~", "{ws}/shot[1].png", "{ws}/frames/f_%04d.png", "{ws}/frames/*.png",
               "{ws}/frames", "missing.png", "/proc/self/status", ".", "{ws}/frames/f_%04d%04d.png", "%d",
               "*", "[", "{ws}/photo.png", "{ws}", "é/ü.png", "\\\\server\\share\\a.png", "{ws}/empty.png"]
OUTPUT_PATHS = ["", "out.png", "a\x00b.png", "y" * 300 + ".png", "~nosuchuser/o.png", "sub/dir/o.gif",
                "o.txt", "[x].png", "seq/f_%04d.png", "%d.png", ".", "..", "o.gif/", "é.png", "o", "o.PNG",
                "deep/" * 40 + "o.png", "f_%04d%04d.png", "photo.png"]
ODD_IDS = ["", "1abc", "a b", "é", "x" * 5000, "-", "_", "a.b", "nodes", "\x00", "💥", "src"]
FORMATS = ["nodeflow/1", "nodeflow/2", "nodeflow/0", "nodeflow/²", "nodeflow/١", "nodeflow/" + "9" * 5000,
           "nodeflow/-1", "nodeflow/1.0", "nodeflow/ 1", "other/1", "nodeflow", "", 1, None, ["nodeflow/1"],
           {"v": 1}, True]

SCALARS = st.one_of(
    st.integers(-3, 40), st.integers(-(2 ** 70), 2 ** 70), st.floats(-1e6, 1e6, allow_nan=False),
    st.booleans(), st.none(), st.text(max_size=12), st.sampled_from([RAW + n for n in RAW_NUMBERS]),
    st.sampled_from(["#00ff00", "#zz", "auto", "gaussian", "median", "camera", "px", "relative"]),
)
VALUES = st.one_of(SCALARS, st.lists(SCALARS, max_size=5), st.dictionaries(st.text(max_size=4), SCALARS,
                                                                           max_size=3))
SMALL_VALUES = st.one_of(st.integers(-3, 40), st.floats(-3, 40, allow_nan=False), st.booleans(),
                         st.none(), st.text(max_size=8), st.sampled_from([RAW + "NaN", RAW + "Infinity"]))
"""Values for graphs that will run: small, so no case allocates gigabytes."""


@st.composite
def mutation(draw: st.DrawFn, doc: dict[str, Any], runnable: bool) -> str:
    """Apply one random mutation to ``doc`` in place; returns its name (for the statistics)."""
    nodes = doc.get("nodes") if isinstance(doc.get("nodes"), dict) else None
    ids = list(nodes) if nodes else []
    kind = draw(st.sampled_from(["tweak"] * 8 + ["param", "param", "param", "path", "path", "type", "edge",
                                                "cycle", "id", "format", "deep", "drop", "unknown", "outputs",
                                                "toplevel", "node"]))
    if kind in {"tweak", "param", "path", "type", "edge", "cycle", "id", "drop", "unknown", "node"} and not ids:
        kind = "format"
    node_id = draw(st.sampled_from(ids)) if ids else None
    node = nodes[node_id] if node_id is not None else None
    if isinstance(node, dict) and not isinstance(node.get("params", {}), dict):
        node["params"] = {}
    if kind == "tweak" and isinstance(node, dict) and _known(node.get("type")):
        # a value of the right type, mostly in range: many cases should validate and run
        fields = REGISTRY.get(node["type"]).Params.model_fields
        numeric = [n for n, f in fields.items() if f.annotation in (int, float)]
        if numeric:
            name = draw(st.sampled_from(numeric))
            value = draw(st.integers(0, 6))
            node.setdefault("params", {})[name] = value / 2 if fields[name].annotation is float else value
    elif kind == "param" and isinstance(node, dict):
        type_name = node.get("type")
        known = list(REGISTRY.get(type_name).Params.model_fields) if _known(type_name) else []
        name = draw(st.sampled_from([*known, "bogus"]) if known else st.just("bogus"))
        role = _role(type_name, name)
        if role == OUTPUT_PATH:
            value = draw(st.sampled_from(OUTPUT_PATHS))
        elif role == INPUT_PATH:
            value = draw(st.sampled_from(INPUT_PATHS))
        else:
            value = draw(SMALL_VALUES if runnable else VALUES)
        node.setdefault("params", {})[name] = value
    elif kind == "path" and isinstance(node, dict):
        type_name = node.get("type")
        model = REGISTRY.get(type_name).Params if _known(type_name) else None
        fields = [f for f in (model.model_fields if model else ()) if field_role(model, f) in (INPUT_PATH,
                                                                                               OUTPUT_PATH)]
        if fields:
            name = draw(st.sampled_from(fields))
            pool = OUTPUT_PATHS if field_role(model, name) == OUTPUT_PATH else INPUT_PATHS
            node.setdefault("params", {})[name] = draw(st.sampled_from(pool))
            if draw(st.booleans()) and "overwrite" in model.model_fields:
                node["params"]["overwrite"] = True
    elif kind == "type" and isinstance(node, dict):
        pool = sorted(CHEAP) if runnable else TYPES
        node["type"] = draw(st.one_of(st.sampled_from(pool), st.sampled_from(["Blurr", "", "saveimage"]),
                                      st.sampled_from([None, 3, ["Blur"]])))
        if _has_output_path_collision(node):
            node["type"] = "Blur"
    elif kind == "edge" and isinstance(node, dict):
        name = draw(st.sampled_from(["image", "a", "b", "mask", "model", "reference", "bogus"]))
        src = draw(st.sampled_from([*ids, "nowhere", ""]))
        out = draw(st.sampled_from(["image", "alpha", "mask", "model", "path", "bogus"]))
        edge: Any = draw(st.sampled_from([{"node": src, "output": out}, {"node": src}, src, None,
                                          {"node": src, "output": out, "extra": 1}]))
        inputs = node.get("inputs") if isinstance(node.get("inputs"), dict) else {}
        inputs[name] = edge
        node["inputs"] = inputs
    elif kind == "cycle" and len(ids) >= 2:
        first, last = ids[0], draw(st.sampled_from(ids[1:]))
        if isinstance(nodes[first], dict):
            nodes[first].setdefault("inputs", {})
            if isinstance(nodes[first]["inputs"], dict):
                nodes[first]["inputs"]["image"] = {"node": last, "output": "image"}
    elif kind == "id" and node_id is not None:
        new = draw(st.sampled_from(ODD_IDS))
        nodes[new] = nodes.pop(node_id)
    elif kind == "format":
        doc["format"] = draw(st.sampled_from(FORMATS))
    elif kind == "deep":
        value: Any = draw(st.sampled_from([[[[[1]]]], RAW + "deep70", RAW + "deep3000", RAW + "deepobj"]))
        target = node.setdefault("params", {}) if isinstance(node, dict) else doc.setdefault("ui", {})
        if isinstance(target, dict):
            target[draw(st.sampled_from(["size", "path", "deep"]))] = value
    elif kind == "drop":
        key = draw(st.sampled_from(["type", "params", "inputs"]))
        if isinstance(node, dict):
            node.pop(key, None)
        else:
            doc.pop("nodes", None)
    elif kind == "unknown":
        where = draw(st.sampled_from(["doc", "node", "edge"]))
        if where == "doc":
            doc["extra"] = 1
        elif isinstance(node, dict):
            node["colour"] = "red"
    elif kind == "outputs":
        doc["outputs"] = draw(st.sampled_from([{"x": {"node": "nowhere", "output": "image"}}, [], "x",
                                               {"x": {"node": ids[0] if ids else "a", "output": "nope"}}]))
    elif kind == "toplevel":
        doc.clear()
        doc["__replace__"] = draw(st.sampled_from([[], 3, "graph", None, [1, 2]]))
    elif kind == "node" and nodes is not None:
        nodes[draw(st.sampled_from(ODD_IDS))] = draw(st.sampled_from([None, 3, "Blur", [], {}, {"type": "Blur"}]))
    return kind


def _has_output_path_collision(node: dict[str, Any]) -> bool:
    """A type change that would turn an input path (maybe absolute) into an output path: skipped,
    so that no case writes outside its folder."""
    params = node.get("params") if isinstance(node.get("params"), dict) else {}
    return any(_role(node.get("type"), k) == OUTPUT_PATH and isinstance(v, str)
               and (v.startswith(("/", "~", "{ws}")) or ".." in v) for k, v in params.items())


@st.composite
def byte_mutation(draw: st.DrawFn, data: bytes) -> tuple[str, bytes]:
    kind = draw(st.sampled_from(["none"] * 10 + ["truncate", "non-utf8", "duplicate", "bom", "flip", "surrogate"]))
    if kind == "truncate":
        return kind, data[:draw(st.integers(0, max(0, len(data) - 1)))]
    if kind == "non-utf8":
        at = draw(st.integers(0, len(data)))
        return kind, data[:at] + draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\x80"])) + data[at:]
    if kind == "duplicate":
        # a second "nodes" (or "format") key: the last would silently win
        key = draw(st.sampled_from([b'"nodes": {}, ', b'"format": "nodeflow/1", ', b'"ui": {}, "ui": {}, ']))
        return kind, data.replace(b"{", b"{" + key, 1)
    if kind == "surrogate":  # a lone UTF-16 surrogate escape: valid JSON, not encodable text
        return kind, data.replace(b'": "', b'": "\\ud800', draw(st.integers(1, 4)))
    if kind == "bom":
        return kind, b"\xef\xbb\xbf" + data
    if kind == "flip" and data:
        at = draw(st.integers(0, len(data) - 1))
        return kind, data[:at] + bytes([draw(st.integers(0, 255))]) + data[at + 1:]
    return "none", data


def _dump(doc: dict[str, Any], ws: Path) -> bytes:
    if "__replace__" in doc:
        return json.dumps(doc["__replace__"]).encode()
    text = json.dumps(doc, ensure_ascii=False).replace("{ws}", str(ws).replace("\\", "\\\\"))
    for name, raw in RAW_TEXT.items():
        text = text.replace(json.dumps(RAW + name), raw)
    return text.encode("utf-8", "surrogatepass")


def _strings(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (k, *_strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return [value] if isinstance(value, str) else []


def _runnable(doc: dict[str, Any]) -> bool:
    """Only graphs of cheap nodes whose paths stay inside the workspace are run."""
    nodes = doc.get("nodes")
    if not isinstance(nodes, dict) or not nodes:
        return False
    if not all(isinstance(n, dict) and isinstance(n.get("type"), str) and n["type"] in CHEAP
               for n in nodes.values()):
        return False
    return not any(s.startswith(("/", "~")) for s in _strings(doc))


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    """Files the graphs read: a photo, numbered frames, a FIFO, a literal ``[bracket]`` name."""
    import numpy as np
    from PIL import Image

    ws = tmp_path_factory.mktemp("fuzz")
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (20, 30, 3), dtype=np.uint8)).save(ws / "photo.png")
    Image.fromarray(rng.integers(0, 255, (20, 30, 3), dtype=np.uint8)).save(ws / "shot[1].png")
    (ws / "frames").mkdir()
    for i in range(1, 4):
        Image.fromarray(rng.integers(0, 255, (16, 24, 3), dtype=np.uint8)).save(ws / "frames" / f"f_{i:04d}.png")
    (ws / "empty.png").write_bytes(b"")
    os.mkfifo(ws / "fifo")
    assert stat.S_ISFIFO((ws / "fifo").stat().st_mode)
    return ws


@pytest.fixture
def small_limits(monkeypatch):
    """Keep every run cheap: 1 MP frames at most, folder walks of at most 2000 files."""
    monkeypatch.setattr(nodeflow.image_files, "MAX_PIXELS", 1_000_000)
    monkeypatch.setattr(nodeflow.fingerprint, "MAX_FILES", 2000)


@pytest.fixture
def grabcut_once(monkeypatch):
    """GrabCut is a pure function of its image and params (seeded), and ``validate`` of a mutated
    demo graph cuts the same photo out again in every case (a third of the fuzzer's time): each
    distinct cut is computed once. The fuzzer tests what the CLI says, not the matte."""
    import hashlib

    from nodeflow.nodes.matte import grabcut

    real, seen = grabcut.grabcut_mask, {}

    def once(rgb, *args):
        key = (hashlib.blake2b(rgb.tobytes(), digest_size=16).digest(), rgb.shape, args)
        if key not in seen:
            seen[key] = real(rgb, *args)
        return seen[key].copy()

    monkeypatch.setattr(grabcut, "grabcut_mask", once)


STATS: Counter[str] = Counter()
LOG = os.environ.get("NODEFLOW_FUZZ_LOG")
"""A file to append every error message to, for reading what users would see."""


def _log(outcome: Any) -> None:
    if LOG and outcome.code:
        with open(LOG, "a", encoding="utf-8", errors="replace") as f:
            f.write(f"{outcome.argv[0]} {outcome.code}: {' '.join(outcome.output.split())[-400:]}\n")


def test_fuzzed_graph_files_never_traceback(workspace, small_limits, grabcut_once, capsys):
    @seed(SEED)
    @settings(max_examples=CASES, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck))
    @given(st.data())
    def case(data: st.DataObject) -> None:
        base = data.draw(st.sampled_from(sorted(BASES)), label="base")
        doc = json.loads(json.dumps(BASES[base]))
        cheap_base = base in SMALL
        kinds = [data.draw(mutation(doc, cheap_base)) for _ in range(data.draw(st.integers(0, 3)))]
        raw = _dump(doc, workspace)
        byte_kind, raw = data.draw(byte_mutation(raw))
        index = STATS["cases"]
        STATS["cases"] += 1
        STATS.update(f"mutation:{k}" for k in kinds)
        STATS[f"bytes:{byte_kind}"] += 1
        path = workspace / f"case{index % 50}.json"
        path.write_bytes(raw)

        # 1. the loader: a GraphSpec or a GraphValidationError, nothing else
        with contextlib.suppress(GraphValidationError):
            GraphSpec.load(path)
        STATS["loader"] += 1
        # 2. nodeflow validate
        outcome = cli(["validate", str(path)])
        _log(outcome)
        assert_clean(outcome, f"case {index} (base {base}, mutations {kinds}, bytes {byte_kind})")
        STATS["validate"] += 1
        STATS[f"validate exit {outcome.code}"] += 1
        # 3. nodeflow run, for small graphs of cheap nodes
        if cheap_base and byte_kind == "none" and _runnable(doc):
            out_dir = workspace / "runs" / f"r{index}" / "sub"
            argv = ["run", str(path), "--output-dir", str(out_dir), "--device", "cpu", "--no-cache"]
            if base == "clip":
                argv += ["--frames", "0:2"]
            outcome = cli(argv)
            _log(outcome)
            assert_clean(outcome, f"case {index} (base {base}, mutations {kinds})")
            STATS["run"] += 1
            STATS[f"run exit {outcome.code}"] += 1

    case()
    with capsys.disabled():
        summary = ", ".join(f"{k} {v}" for k, v in sorted(STATS.items()))
        print(f"\ngraph fuzzer (seed {SEED}): {STATS['cases']} cases: {summary}")
    assert STATS["cases"] >= min(CASES, 2000) * 0.9
    assert STATS["run"] >= STATS["cases"] * 0.05, "too few cases reached `nodeflow run`"
    assert STATS["validate exit 0"] > 0 and STATS["validate exit 2"] > 0


SUBPROCESS_CASES = [
    ("non-UTF-8", b'{"format": "nodeflow/1", "nodes": {"\xff": {}}}'),
    ("deep", b"[" * 200_000 + b"]" * 200_000),
    ("huge int", b'{"format": "nodeflow/1", "nodes": {"a": {"type": "Blur", "params": {"size": ' + b"9" * 9000 + b"}}}}"),
    ("format", '{"format": "nodeflow/١", "nodes": {}}'.encode()),
    ("duplicate", b'{"format": "nodeflow/1", "nodes": {"a": {"type": "Bogus"}, "a": {"type": "SampleImage"}}}'),
    ("fifo input", b'{"format": "nodeflow/1", "nodes": {"a": {"type": "LoadImage", "params": {"path": "{ws}/fifo"}}}}'),
]


@pytest.mark.parametrize(("name", "raw"), SUBPROCESS_CASES, ids=[c[0] for c in SUBPROCESS_CASES])
def test_real_processes_exit_cleanly(workspace, tmp_path, name, raw):
    """A few of the worst through the real ``nodeflow`` command: exit 2, no traceback, no hang."""
    path = tmp_path / "case.json"
    path.write_bytes(raw.replace(b"{ws}", str(workspace).encode()))
    outcome = cli_subprocess(["validate", str(path)], timeout=120)
    assert_clean(outcome, name)
    assert outcome.code == 2, outcome.output
