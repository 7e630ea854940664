"""Running nodeflow as a careless user would, and judging what came back.

``cli`` calls ``main(argv)`` in this process (fast: the fuzzer's thousands of cases);
``cli_subprocess`` runs the real ``nodeflow`` command. ``assert_clean`` is the contract every
case must keep: an exit code of 0, 1 or 2, no traceback, and on failure an ``error:`` line that
names something the user can act on (a node, a field, an option or the file).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

from nodeflow.cli import main

ALLOWED_CODES = {0, 1, 2}
# What an actionable message names: a node, a graph field, a CLI option, a file or folder path.
ACTIONABLE = re.compile(r"node\s+\S+|^\s+- [^\s:]+: |--[a-z-]+|[\w.~-]*/[\w./%*?\[\]-]*|\.json|hint:",
                        re.MULTILINE)


@dataclass
class Outcome:
    argv: list[str]
    code: int | None
    output: str
    """stdout + stderr."""
    escaped: str | None = None
    """The traceback of an exception that escaped ``main`` (a bug), else None."""


def cli(argv: list[str]) -> Outcome:
    """``nodeflow ARGV`` in this process, output captured."""
    out, err = io.StringIO(), io.StringIO()
    escaped = None
    code: int | None = None
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse usage errors
            code = exc.code if isinstance(exc.code, int) else 2
        except BaseException:
            escaped = traceback.format_exc()
    return Outcome(argv, code, out.getvalue() + err.getvalue(), escaped)


def cli_subprocess(argv: list[str], *, timeout: float = 120, cwd: Path | None = None) -> Outcome:
    """The real ``nodeflow`` command (``python -m nodeflow.cli``), with a time limit: a hang fails."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200"}
    proc = subprocess.run([sys.executable, "-m", "nodeflow.cli", *argv], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd, env=env, errors="replace")
    return Outcome(argv, proc.returncode, proc.stdout + proc.stderr)


def assert_clean(outcome: Outcome, what: str = "") -> None:
    """The contract: allowed exit code, no traceback, an actionable error message on failure."""
    label = f"{what}: nodeflow {' '.join(a[:80] for a in outcome.argv)}"
    assert outcome.escaped is None, f"{label}\nexception escaped main():\n{outcome.escaped}"
    assert "Traceback (most recent call last)" not in outcome.output, f"{label}\n{outcome.output[-3000:]}"
    assert outcome.code in ALLOWED_CODES, f"{label}\nexit code {outcome.code}\n{outcome.output[-3000:]}"
    if outcome.code != 0:
        assert "error:" in outcome.output or "usage:" in outcome.output, f"{label}\n{outcome.output[-3000:]}"
        message = outcome.output[outcome.output.find("error:"):]
        assert ACTIONABLE.search(message), f"{label}\nmessage names nothing to act on:\n{message[:2000]}"
