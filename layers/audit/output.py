"""Audit results as files: a table printed, CSV and JSON per query, the manifest and the report record.

Reproducible byte for byte: rows are sorted by the queries, numbers rounded, JSON keys sorted, and no
file carries the time it was made; the report record carries the manifest's SHA-256 and every output's.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from socpipe.lakechain import sha256_file, verify_table

REPORT = "report.json"
MANIFEST = "manifest.json"


@dataclass
class Result:
    """One query's answer: a few summary rows (what is printed) and the detail rows (CSV)."""

    name: str
    title: str
    summary_columns: list[str]
    summary: list[list[Any]]
    columns: list[str]
    rows: list[list[Any]]
    notes: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "notes": self.notes,
                "summary": [dict(zip(self.summary_columns, r, strict=True)) for r in self.summary],
                "rows": [dict(zip(self.columns, r, strict=True)) for r in self.rows]}


def render_table(columns: list[str], rows: list[list[Any]]) -> str:
    cells = [columns] + [["" if v is None else str(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells)


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, indent=1) + "\n"


def write_result(out: Path, result: Result) -> list[Path]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(result.columns)
    writer.writerows(["" if v is None else v for v in row] for row in result.rows)
    csv_path, json_path = out / f"{result.name}.csv", out / f"{result.name}.json"
    csv_path.write_text(buffer.getvalue(), encoding="utf-8")
    json_path.write_text(dumps(result.as_json()), encoding="utf-8")
    return [csv_path, json_path]


def write_manifest(out: Path, manifest: dict[str, Any]) -> str:
    """manifest.json; returns its SHA-256 (which the HTML report shows and report.json carries)."""
    path = out / MANIFEST
    path.write_text(dumps(manifest), encoding="utf-8")
    return sha256_file(path)


def write_record(out: Path, header: dict[str, Any], manifest_sha256: str, outputs: list[Path]) -> Path:
    """report.json: what was read (the manifest's hash) and what was written, each by its SHA-256."""
    record = {**header, "manifest": MANIFEST, "manifest_sha256": manifest_sha256,
              "outputs": {p.name: sha256_file(p) for p in sorted(outputs)}}
    path = out / REPORT
    path.write_text(dumps(record), encoding="utf-8")
    return path


def report_hash(report: Path) -> str:
    return hashlib.sha256(report.read_bytes()).hexdigest()


def verify(report: Path) -> list[str]:
    """Every difference between a report and what it claims: its outputs, its manifest, the lake files it
    read, and the lake's hash chains (files changed, deleted or slipped in, chains edited or cut)."""
    if report.is_dir():
        report = report / REPORT
    record = json.loads(report.read_text(encoding="utf-8"))
    folder = report.parent
    problems = []
    for name, digest in sorted({record["manifest"]: record["manifest_sha256"], **record["outputs"]}.items()):
        path = folder / name
        if not path.exists():
            problems.append(f"{name}: missing from the report folder")
        elif sha256_file(path) != digest:
            problems.append(f"{name}: changed since the report was made")
    if problems and any(p.startswith(record["manifest"]) for p in problems):
        return problems
    manifest = json.loads((folder / record["manifest"]).read_text(encoding="utf-8"))
    lake = Path(manifest["lake"])
    for table, listed in sorted(manifest["tables"].items()):
        for entry in listed["files"]:
            path = lake / entry["file"]
            if not path.exists():
                problems.append(f"lake {entry['file']}: read by the report, now missing")
            elif sha256_file(path) != entry["sha256"]:
                problems.append(f"lake {entry['file']}: changed since the report read it")
        if (lake / table).exists():
            # Chain problems of days the report did not read (e.g. after its as-of day) count too: the lake
            # as a whole is the record.
            problems.extend(f"lake {p}" for p in verify_table(lake / table, listed["chain_heads"]))
    return problems
