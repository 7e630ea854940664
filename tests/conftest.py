"""Shared test set-up: every test gets its own disk cache and a headless Qt."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("NODEFLOW_CACHE_DIR", str(tmp_path_factory.mktemp("nodeflow-cache")))
