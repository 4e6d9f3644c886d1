"""Shared fixtures: a local Spark session, the dev servers, and where the shared SigmaHQ snapshot is."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from socpipe.dev.testing import dev_servers, dev_state_dir  # noqa: F401 (fixtures: one server pair per session)

ROOT = Path(__file__).resolve().parents[1]
SIGMAHQ = ROOT.parent / "shared" / "sigmahq"
# The shared SigmaHQ snapshot is test data: without it the suite fails here rather than skip anything.
assert (SIGMAHQ / "regression_data").is_dir(), f"{SIGMAHQ} is missing: the tests read it from ../shared"


@pytest.fixture(scope="session")
def spark():
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from socpipe.spark import session

    s = session("socpipe-tests", master="local[2]")
    yield s
    s.stop()
