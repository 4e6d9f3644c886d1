"""Incident documents into the lake as layer 2 writes them (alerting/incidents.py lake_rows: lake
`incidents/`, partition `date` of `@timestamp`), for the tests, the demo and the benchmark that build lakes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from alerting.incidents import lake_rows
from socpipe.lake import write_lake_part


def write_incidents(lake: Path, documents: list[Mapping[str, Any]]) -> None:
    """Incident documents into the lake's `incidents/` table, one file named after its content."""
    if documents:
        name = "part-" + hashlib.sha256("".join(sorted(d["incident_id"] for d in documents)).encode()).hexdigest()[:24]
        write_lake_part(lake_rows(documents, 0), lake / "incidents", name, partitioning=("date",))
