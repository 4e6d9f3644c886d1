"""SigmaHQ regression: every sample of `regression_data` against its rule, by expected match count.

Each info.yml names a rule id and samples with the number of events that must match. Samples run
through the same readers, normalisation and Detector as `socpipe detect`, in-process.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from enrich.normalise import normalise
from ingest import read_file
from layers.matcher.engine import Detector
from rules.model import RuleSet
from socpipe.events import Event


@dataclass(frozen=True, slots=True)
class Sample:
    """One regression sample; `expected` is info.yml's match_count, None when it gives none.

    SigmaHQ's own runner only checks that the rule fires, and several info.yml files give 1 where
    the sample holds more events that match the rule, so the count is checked as a minimum and any
    surplus is reported beside the result.
    """

    rule_id: str
    path: Path
    expected: int | None


@dataclass(frozen=True, slots=True)
class Outcome:
    sample: Sample
    matched: int | None  # None when the rule is not loaded
    problem: str = ""

    @property
    def passed(self) -> bool:
        return self.matched is not None and self.matched >= (self.sample.expected or 1) and not self.problem

    @property
    def surplus(self) -> bool:
        """Passed with more matches than info.yml counts."""
        return self.passed and self.sample.expected is not None and self.matched != self.sample.expected


def samples(repo: Path) -> Iterator[Sample]:
    """The samples listed in every info.yml under repo/regression_data."""
    for info in sorted((repo / "regression_data").rglob("info.yml")):
        doc = yaml.safe_load(info.read_text(encoding="utf-8"))
        rule_id = str(doc["rule_metadata"][0]["id"])
        for test in doc.get("regression_tests_info") or []:
            yield Sample(rule_id, repo / test["path"], test.get("match_count"))


def run(repo: Path, ruleset: RuleSet) -> list[Outcome]:
    detector = Detector(ruleset.rules)
    index = {r.id: i for i, r in enumerate(detector.rules)}
    failed = {f.id: f.reason for f in ruleset.failures}
    outcomes = []
    for sample in samples(repo):
        if sample.rule_id not in index:
            reason = failed.get(sample.rule_id, "rule not found")
            outcomes.append(Outcome(sample, None, f"rule not compiled: {reason}"))
            continue
        events, problems = [], []
        for record in read_file(sample.path):
            if isinstance(record, Event):
                events.append(normalise(record))
            else:
                problems.append(f"{record.position}: {record.reason}")
        target = index[sample.rule_id]
        matched = sum(1 for e in events if target in detector.match(e.kind, e.fields))
        outcomes.append(Outcome(sample, matched, "; ".join(problems)))
    return outcomes
