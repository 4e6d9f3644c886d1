"""After detection, before anyone looks: tuning (filters, suppression), then incidents, in batch and stream.

`Triage.batch` is what `socpipe detect` and `socpipe demo` run over all their alerts at once: it writes
DIR/incidents.jsonl and DIR/suppressed.jsonl and gives the summary lines. `StreamTriage` is the same for
each micro-batch of `socpipe run`: the open suppression windows and incidents are kept in the checkpoint
folder (one state file per micro-batch, so a micro-batch redone after a crash starts from the state
before it and writes the same result again), incidents go to the lake's `incidents/` and OpenSearch
`incidents` without touching the fields people change, and suppressed alerts become `suppress` actions
in the lake's `actions/` and OpenSearch `actions`.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from alerting import actions as action_log
from alerting import incidents
from alerting.alerts import LEVELS
from alerting.incidents import Folded, Span
from alerting.tuning import Outcome, SuppressionState, Tuning
from rules.model import RuleSet
from socpipe import search
from socpipe.batchstate import BatchState
from socpipe.config import Config
from socpipe.events import load_document
from socpipe.lake import write_lake_part

log = logging.getLogger(__name__)

# Only count, last, alert_ids and the agencies involved change on an incident that exists (a partial
# update merges them into the stored document): its state fields (status, assignee, verdict, ...) belong
# to the people working on it. A new incident is created whole (the upsert).
_EXTENDED = ("count", "last", "alert_ids")


def tuning_lines(counts: Counter[str]) -> list[str]:
    return [f"  {n:,} alerts suppressed by {what}" for what, n in sorted(counts.items())]


def incident_lines(docs: list[dict[str, Any]], alerts: int) -> list[str]:
    levels = Counter(d["level"] for d in docs)
    by_level = ", ".join(f"{lvl} {levels[lvl]}" for lvl in LEVELS if levels[lvl])
    return [f"{'incidents':<14}{len(docs):>10,}   {by_level or 'none'}",
            f"{'':<14}{'':>10}   {alerts:,} alerts folded into {len(docs):,} incidents"]


@dataclass(frozen=True)
class Triage:
    tuning: Tuning
    window_seconds: float
    lateness_seconds: float

    @classmethod
    def of(cls, config: Config, ruleset: RuleSet) -> Triage:
        return cls(Tuning.of(ruleset, config.get("suppression", "rules")),
                   float(config.get("incidents", "window_seconds")), float(config.get("incidents", "lateness_seconds")))

    def batch(self, alerts: list[dict[str, Any]], out_dir: Path) -> tuple[set[str], list[str]]:
        """Tune and fold a whole run's alerts; writes DIR/suppressed.jsonl (the `suppress` action records)
        and DIR/incidents.jsonl. Returns the ids of the alerts that stand and the summary lines."""
        outcome = self.tuning.apply(alerts)
        docs = incidents.batch_incidents(outcome.kept, self.window_seconds)
        _jsonl(out_dir / "suppressed.jsonl", [a.document() for a in outcome.suppressed])
        _jsonl(out_dir / "incidents.jsonl", docs)
        lines = [*tuning_lines(outcome.counts), *incident_lines(docs, len(outcome.kept))]
        return {a["alert_id"] for a in outcome.kept}, lines


def _jsonl(path: Path, docs: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as out:
        for doc in docs:
            out.write(json.dumps(doc, ensure_ascii=False, sort_keys=True) + "\n")


@dataclass
class Pending:
    """One micro-batch's triage, computed before its sinks run and written after its alerts."""

    batch_id: int
    outcome: Outcome
    folded: Folded
    state: dict[str, Any] = field(default_factory=dict)


class StreamTriage:
    """Triage of `socpipe run`, one micro-batch at a time (the hook of layers/stream.py)."""

    def __init__(self, config: Config, ruleset: RuleSet) -> None:
        self.triage = Triage.of(config, ruleset)
        self.states = BatchState(Path(config.path("run", "checkpoint_dir")) / "triage")
        self.lake = Path(config.path("lake", "path"))
        self.index = config.get("incidents", "index")
        self.search = search.client(config)
        replicas = config.get("opensearch", "replicas")
        search.ensure_index(self.search, self.index, incidents.MAPPING, replicas)
        search.ensure_index(self.search, action_log.ACTIONS_INDEX, action_log.MAPPING, replicas)

    def tune(self, alerts: pa.Table, batch_id: int) -> tuple[pa.Table, Pending | None]:
        """The alerts of the micro-batch that stand (filters and suppression applied) and what to write."""
        if not alerts.num_rows:
            return alerts, None
        docs = [load_document(d) for d in alerts.column("document").to_pylist()]
        before = self.states.before(batch_id) or {"suppression": SuppressionState().to_json(), "spans": []}
        suppression = SuppressionState.from_json(before["suppression"])
        outcome = self.triage.tuning.apply(docs, suppression, self.triage.lateness_seconds)
        folded = incidents.fold(outcome.kept, [Span(**s) for s in before["spans"]], self.triage.window_seconds)
        state = {"suppression": suppression.to_json(),
                 "spans": [s.to_json() for s in incidents.still_open(folded.spans, self.triage.window_seconds,
                                                                     self.triage.lateness_seconds)]}
        kept = {a["alert_id"] for a in outcome.kept}
        mask = pa.array([i in kept for i in alerts.column("doc_id").to_pylist()], type=pa.bool_())
        return alerts.filter(mask), Pending(batch_id, outcome, folded, state)

    def write(self, pending: Pending | None) -> list[search.Rejected]:
        """Incidents and suppress actions to the lake and OpenSearch, then the state after this batch."""
        if pending is None:
            return []
        carried = self._carried_state(pending.folded)
        docs = [s.document() for s in pending.folded.changed]
        gone = [{**s.document(), "merged_into": new} for s, new in pending.folded.absorbed]
        name = f"stream-{pending.batch_id:010d}"
        if docs or gone:
            write_lake_part(incidents.lake_rows(docs + gone, pending.batch_id), self.lake / "incidents", name,
                            partitioning=("date",))
        action_log.append_to_lake(self.lake, pending.outcome.suppressed)
        updates = [self._upsert(doc, carried.get(doc["incident_id"], {})) for doc in docs]
        updates += [{"_op_type": "update", "_index": self.index, "_id": old.incident_id,
                     "doc": {"merged_into": new}} for old, new in pending.folded.absorbed]
        rejected = search.bulk(self.search, updates)
        rejected += search.write(self.search, action_log.search_documents(pending.outcome.suppressed))
        self.states.save(pending.batch_id, pending.state)
        for line in tuning_lines(pending.outcome.counts):
            log.info("batch %s:%s", pending.batch_id, line)
        log.info("batch %s: %s incidents new or extended, %s joined into others", pending.batch_id, len(docs),
                 len(gone))
        return rejected

    def _upsert(self, doc: dict[str, Any], carried: dict[str, Any]) -> dict[str, Any]:
        extended = {**{f: doc[f] for f in _EXTENDED}, "agency": {"ids": doc["agency"]["ids"]}}
        return {"_op_type": "update", "_index": self.index, "_id": doc["incident_id"], "doc": extended,
                "upsert": {**doc, **carried}}

    def _carried_state(self, folded: Folded) -> dict[str, dict[str, Any]]:
        """When a late alert becomes the first of an incident (a new id), what people set on the incidents
        it joined (the earliest first) carries over to it."""
        if not folded.absorbed:
            return {}
        joined = {old.incident_id: new for old, new in folded.absorbed}
        found = self.search.mget(index=self.index, body={"ids": sorted(joined)})["docs"]
        sources = {d["_id"]: d["_source"] for d in found if d.get("found")}
        carried: dict[str, dict[str, Any]] = {}
        for old in sorted(sources, key=lambda i: (sources[i].get("first") or "", i)):
            carried.setdefault(joined[old], {f: sources[old].get(f) for f in incidents.STATE_FIELDS})
        return carried

