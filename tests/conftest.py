"""Shared test set-up: every test gets its own disk cache, a headless Qt and one torch thread."""

from __future__ import annotations

import os

import pytest
import torch

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# The tests' tensors are tiny: one thread is faster for them and immune to a busy machine
# (several OpenMP threads on fewer free cores spin-wait and slow down by orders of magnitude).
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Every test starts and ends with one thread, even if it (or the CLI it runs) changed it."""
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("NODEFLOW_CACHE_DIR", str(tmp_path_factory.mktemp("nodeflow-cache")))
    # the record of what nodeflow wrote (nodeflow.written) too: never the user's own state folder
    monkeypatch.setenv("NODEFLOW_STATE_DIR", str(tmp_path_factory.mktemp("nodeflow-state")))
