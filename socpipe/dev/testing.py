"""Pytest fixture: the dev servers, started once per test session by the same code as `socpipe dev up`.

Import both fixtures into a conftest.py; tests/conftest.py does.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from socpipe.dev import servers


@pytest.fixture(scope="session")
def dev_state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The state folder of the session's servers (logs are there when a test needs them)."""
    return tmp_path_factory.mktemp("dev-servers")


@pytest.fixture(scope="session")
def dev_servers(dev_state_dir: Path) -> Iterator[servers.Endpoints]:
    """Kafka and OpenSearch on free 127.0.0.1 ports, stopped when the session ends."""
    endpoints = servers.up(dev_state_dir)
    try:
        yield endpoints
    finally:
        servers.down(dev_state_dir)
