"""What agency contacts and auditors land on: their agency's open incidents with the handling deadlines,
and the layer-3 (`socpipe audit`) reports, listed and served read-only from the configured folder."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPORT_TYPES = {".html": "text/html; charset=utf-8", ".csv": "text/csv; charset=utf-8",
                ".json": "application/json", ".md": "text/markdown; charset=utf-8", ".txt": "text/plain; charset=utf-8"}


@dataclass(frozen=True)
class Due:
    acknowledge: datetime | None  # None: acknowledged already, or no deadline for the level
    close: datetime | None
    late: bool  # a deadline still open has passed


def due(incident: Mapping[str, Any], deadlines: Mapping[str, Mapping[str, float]], now: datetime) -> Due:
    """The incident's deadlines from its detection (audit.deadlines: acknowledge_minutes, close_hours per
    level, the same figures `socpipe audit` measures handling against)."""
    limits = deadlines.get(str(incident.get("level"))) or {}
    try:
        detected = datetime.fromisoformat(incident["@timestamp"])
    except (KeyError, TypeError, ValueError):
        return Due(None, None, False)
    ack = None if incident.get("acknowledged_at") or "acknowledge_minutes" not in limits else \
        detected + timedelta(minutes=float(limits["acknowledge_minutes"]))
    close = detected + timedelta(hours=float(limits["close_hours"])) if "close_hours" in limits else None
    return Due(ack, close, any(d is not None and d < now.astimezone(UTC) for d in (ack, close)))


def reports(folder: Path | None) -> list[str]:
    """The report files under the folder (relative paths, sorted), only of the kinds served."""
    if folder is None or not folder.is_dir():
        return []
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                  if p.is_file() and p.suffix in REPORT_TYPES and not p.is_symlink())


def report_file(folder: Path | None, name: str) -> Path | None:
    """The file only if it is one `reports` lists (no way out of the folder by the name)."""
    return folder / name if folder is not None and name in reports(folder) else None
