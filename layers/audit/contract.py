"""The incident rows of the lake as the audit reads them (docs/records.md: lake `incidents/`, partition
`date` of `@timestamp`, the incident as detection built it).

Columns as the alerts table has them: the fields queries filter on, and the whole incident document as
JSON. `incident_rows` turns incident documents into such rows; tests and the demo use it to build lakes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from socpipe.lake import write_lake_part

INCIDENT_LAKE_SCHEMA = pa.schema([
    ("incident_id", pa.string()),
    ("timestamp", pa.timestamp("us", tz="UTC")),
    ("level", pa.string()),
    ("agency_id", pa.string()),
    ("document", pa.string()),
    ("date", pa.string()),
])


def incident_rows(documents: Iterable[Mapping[str, Any]]) -> pa.Table:
    rows = []
    for doc in documents:
        detected = datetime.fromisoformat(doc["@timestamp"])
        rows.append({"incident_id": doc["incident_id"], "timestamp": detected, "level": doc["level"],
                     "agency_id": doc.get("agency.id"), "date": detected.strftime("%Y-%m-%d"),
                     "document": json.dumps(doc, ensure_ascii=False, sort_keys=True)})
    return pa.Table.from_pylist(rows, schema=INCIDENT_LAKE_SCHEMA)


def write_incidents(lake: Path, documents: list[Mapping[str, Any]]) -> None:
    """Incident documents into the lake's `incidents/` table, one file named after its content."""
    if documents:
        name = "part-" + hashlib.sha256("".join(sorted(d["incident_id"] for d in documents)).encode()).hexdigest()[:24]
        write_lake_part(incident_rows(documents), lake / "incidents", name, partitioning=("date",))
