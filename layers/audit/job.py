"""`socpipe audit`: the queries as one Spark job over the lake, each also runnable alone.

Every query reads the lake through one LakeReader, so the manifest lists exactly what the results came
from; the results, the manifest and the report record (their hashes) are written to the output folder.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession

from layers.audit.activity import Day, daily_activity
from layers.audit.classification import classification
from layers.audit.coverage import coverage
from layers.audit.handling import handling
from layers.audit.incidents import IncidentFacts, incident_facts
from layers.audit.lakeread import LakeReader
from layers.audit.output import Result, render_table, write_manifest, write_record, write_result
from layers.audit.reporting import reporting
from layers.audit.retention import retention
from layers.audit.scope import Scope
from layers.audit.sources import sources
from layers.national.select import Selection

QUERIES = ("coverage", "sources", "retention", "handling", "classification", "reporting")


@dataclass
class Settings:
    """The `audit` and `national` configuration sections, as the queries use them."""

    monitored_days_percent: float
    targets: dict[str, float]
    classified_target_percent: float
    retention_months: dict[int, int]
    deadlines: dict[str, dict[str, float]]
    selection: Selection

    @classmethod
    def from_config(cls, audit: dict[str, Any], national: dict[str, Any]) -> Settings:
        return cls(float(audit["monitored_days_percent"]), {k: float(v) for k, v in audit["targets"].items()},
                   float(audit["classified_target_percent"]),
                   {int(k): int(v) for k, v in audit["retention_months"].items()},
                   audit["deadlines"], Selection.from_config(national))

    def as_json(self) -> dict[str, Any]:
        sel = self.selection
        return {"monitored_days_percent": self.monitored_days_percent, "targets": self.targets,
                "classified_target_percent": self.classified_target_percent,
                "retention_months": {str(k): v for k, v in sorted(self.retention_months.items())},
                "deadlines": self.deadlines,
                "national": {"levels": sorted(sel.levels), "system_level_from": sel.system_level_from,
                             "tags": list(sel.tags), "verdicts": sorted(sel.verdicts), "hours": dict(sel.hours)}}


class Audit:
    """The queries over one lake, scope and settings; shared inputs (activity, incidents) computed once."""

    def __init__(self, spark: SparkSession, lake: Path, scope: Scope, settings: Settings) -> None:
        self.reader = LakeReader(spark, lake, scope.as_of)
        self.scope = scope
        self.settings = settings
        self._activity: list[Day] | None = None
        self._facts: list[IncidentFacts] | None = None

    @property
    def activity(self) -> list[Day]:
        if self._activity is None:
            self._activity = daily_activity(self.reader)
        return self._activity

    @property
    def facts(self) -> list[IncidentFacts]:
        if self._facts is None:
            self._facts = incident_facts(self.reader, self.scope)
        return self._facts

    def query(self, name: str) -> Result:
        s = self.settings
        runs: dict[str, Callable[[], Result]] = {
            "coverage": lambda: coverage(self.scope, self.activity, s.monitored_days_percent, s.targets),
            "sources": lambda: sources(self.scope, self.activity),
            "retention": lambda: retention(self.scope, self.activity, s.retention_months),
            "handling": lambda: handling(self.scope, self.facts, s.deadlines),
            "classification": lambda: classification(self.scope, s.classified_target_percent),
            "reporting": lambda: reporting(self.scope, self.facts, s.selection),
        }
        return runs[name]()

    def header(self) -> dict[str, Any]:
        return {"as_of": self.scope.as_of.isoformat(), "period": str(self.scope.period),
                "settings": self.settings.as_json()}


# Renders more outputs from the results (the HTML report): (results, folder, header, manifest SHA-256) -> files.
Renderer = Callable[[list[Result], Path, dict[str, Any], str], list[Path]]


def summary(results: list[Result]) -> Result:
    """Targets and results first: one line per target the plan and the decrees set."""
    by = {r.name: r for r in results}
    rows = []
    for tier, agencies, monitored, share, target, verdict in by["coverage"].summary:
        rows.append([f"coverage: {tier} agencies monitored", target, share, verdict, f"{monitored}/{agencies}"])
    measure = by["classification"].summary[0]
    rows.append(["classification: provincial and district systems", measure[4], measure[3], measure[5],
                 f"{measure[2]}/{measure[1]}"])
    src = dict((m, n) for m, n in by["sources"].summary)
    rows.append(["sources: systems sending every day", 100.0, _pct(src["sending every day"], src["systems"]),
                 "pass" if src["sending every day"] == src["systems"] else "fail",
                 f"{src['sending every day']}/{src['systems']}"])
    kept = by["retention"].rows
    ok = sum(r[7] == "ok" for r in kept)
    rows.append(["retention: systems holding their level's minimum", 100.0, _pct(ok, len(kept)),
                 "pass" if ok == len(kept) else "fail", f"{ok}/{len(kept)}"])
    handled = by["handling"].rows
    on_time = sum(r[5] in ("met", "open") and r[7] in ("met", "open") for r in handled)
    rows.append(["handling: incidents within their deadlines", 100.0, _pct(on_time, len(handled)),
                 "n/a" if not handled else ("pass" if on_time == len(handled) else "fail"),
                 f"{on_time}/{len(handled)}"])
    for stage, deadline, due, met, share in by["reporting"].summary:
        rows.append([f"reporting: {stage} report within {deadline}", 100.0, share,
                     "n/a" if not due else ("pass" if met == due else "fail"), f"{met}/{due}"])
    return Result("summary", "Targets and results", ["target", "target_percent", "result_percent", "result",
                                                     "count"], rows, ["target", "target_percent", "result_percent",
                                                                      "result", "count"], rows)


def _pct(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def run(audit: Audit, names: list[str], out: Path, render: Renderer | None = None,
        say: Callable[[str], None] = print) -> tuple[list[Result], Path]:
    """Run the named queries ('summary' runs them all and adds the summary), print them, write each one's
    CSV and JSON, the manifest, what `render` makes of them, and report.json; returns results and its path."""
    wanted = list(QUERIES) if "summary" in names else [n for n in QUERIES if n in names]
    results = [audit.query(n) for n in wanted]
    if "summary" in names:
        results.insert(0, summary(results))
    for r in results:
        say(f"== {r.title} ({r.name}) ==")
        say(render_table(r.summary_columns, r.summary))
    out.mkdir(parents=True, exist_ok=True)
    outputs = [path for r in results for path in write_result(out, r)]
    header = {**audit.header(), "queries": [r.name for r in results]}
    manifest_sha256 = write_manifest(out, audit.reader.manifest())
    if render is not None:
        outputs += render(results, out, header, manifest_sha256)
    report = write_record(out, header, manifest_sha256, outputs)
    say(f"wrote {len(outputs)} files and {report} (manifest SHA-256 {manifest_sha256})")
    return results, report
