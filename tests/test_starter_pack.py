"""The starter rule pack: every rule parses, matches its cases, and finds the attacks planted in the demo.

The cases (tests/starter_cases.yml) pin each rule's meaning independently of the compiler, so a change to
either the rules or the engine that alters what fires shows up here, named by rule id.
"""

from __future__ import annotations

import re
import uuid
from collections import Counter
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from sigma.collection import SigmaCollection

from layers.matcher.intel import INTEL_RULE_ID
from socpipe.events import KINDS, Event

ROOT = Path(__file__).resolve().parents[1]
STARTER = ROOT / "rules" / "starter"
# Single-event rules: the pack's top folder and its network/ folder (correlations are tested apart).
RULES = sorted(STARTER.glob("*.yml")) + sorted((STARTER / "network").glob("*.yml"))
CORRELATION_IDS = {str(doc["id"]) for path in sorted((STARTER / "correlations").glob("*.yml"))
                   for doc in yaml.safe_load_all(path.read_text(encoding="utf-8"))}
CASES_FILE = ROOT / "tests" / "starter_cases.yml"
DEMO = ROOT / "socpipe" / "demo"
SAMPLES = sorted((DEMO / "samples").iterdir())  # files, and the network/ folder of sensor logs


def _rule_ids() -> dict[str, Path]:
    ids: dict[str, Path] = {}
    for path in RULES:
        ids.setdefault(str(yaml.safe_load(path.read_text(encoding="utf-8"))["id"]), path)
    return ids


RULE_IDS = _rule_ids()
CASES: list[dict[str, Any]] = yaml.safe_load(CASES_FILE.read_text(encoding="utf-8"))
PLANTED: list[dict[str, Any]] = yaml.safe_load((DEMO / "planted.yaml").read_text(encoding="utf-8"))
# Attacks a single-event rule finds; those a correlation finds are checked by tests/test_network_starter.py
# (and, like all, by tests/test_demo.py).
PLANTED_SINGLE = [p for p in PLANTED if p["rule"] not in CORRELATION_IDS | {INTEL_RULE_ID}]  # intel: test_demo


def _case_params() -> Iterator[Any]:
    for entry in CASES:
        for expected in ("match", "no_match"):
            for index in range(len(entry.get(expected) or [])):
                yield pytest.param(entry["rule"], expected, index, id=f"{entry['rule']}-{expected}-{index}")


def _case_event(rule_id: str, expected: str, index: int) -> Event:
    entry = next(entry for entry in CASES if entry["rule"] == rule_id)
    case = entry[expected][index]
    return Event(
        fields=dict(case["fields"]),
        kind=case["kind"],
        origin=f"{CASES_FILE.name}:{rule_id}:{expected}:{index}",
    )


@cache
def _case_matches() -> dict[str, set[str]]:
    """Every case event run once through the engine with the whole pack loaded, keyed by event origin."""
    from layers.matcher.engine import match_events

    events = [
        _case_event(rule, expected, index) for rule, expected, index in (p.values for p in _case_params())
    ]
    results = match_events(RULES, events)
    assert len(results) == len(events)
    return {event.origin: matched for event, matched in zip(events, results, strict=True)}


def test_pack_has_enough_rules_with_unique_ids() -> None:
    assert len(RULES) >= 25 and len(list((STARTER / "network").glob("*.yml"))) >= 5
    ids = [str(yaml.safe_load(path.read_text(encoding="utf-8"))["id"]) for path in RULES]
    assert len(set(ids)) == len(ids), "duplicate rule ids"


@pytest.mark.parametrize("path", RULES, ids=lambda path: path.stem)
def test_rule_parses_with_pysigma(path: Path) -> None:
    collection = SigmaCollection.from_yaml(path.read_text(encoding="utf-8"))
    assert not collection.errors, collection.errors
    (rule,) = collection.rules
    for condition in rule.detection.parsed_condition:
        assert condition.parsed is not None
    assert uuid.UUID(str(rule.id)).version == 4
    assert rule.author == "socpipe"
    assert rule.level is not None and rule.status is not None and rule.falsepositives
    assert any(re.fullmatch(r"t\d{4}(\.\d{3})?", tag.name) for tag in rule.tags if tag.namespace == "attack")


def test_every_rule_has_cases_and_every_case_a_rule() -> None:
    by_rule = {entry["rule"]: entry for entry in CASES}
    assert len(by_rule) == len(CASES), "a rule has two case entries"
    assert set(by_rule) == set(RULE_IDS)
    for rule_id, entry in by_rule.items():
        assert entry.get("match"), f"{rule_id} has no match case"
        assert entry.get("no_match"), f"{rule_id} has no no_match case"


def test_case_events_are_well_formed() -> None:
    for entry in CASES:
        for case in [*entry["match"], *entry["no_match"]]:
            assert case["kind"] in KINDS, entry["rule"]
            assert all(isinstance(value, str) for value in case["fields"].values()), (entry["rule"], case)


@pytest.mark.parametrize(("rule_id", "expected", "index"), list(_case_params()))
def test_case(rule_id: str, expected: str, index: int) -> None:
    matched = _case_matches()[f"{CASES_FILE.name}:{rule_id}:{expected}:{index}"]
    rule_file = RULE_IDS[rule_id].name
    if expected == "match":
        assert rule_id in matched, f"{rule_file} should match case {index}"
    else:
        assert rule_id not in matched, f"{rule_file} should not match no_match case {index}"


@cache
def _demo_events() -> tuple[list[Event], list[Any]]:
    """The sample events as `socpipe demo` sees them: read, then normalised (4688 aliases)."""
    from enrich.normalise import normalise
    from ingest import read_paths

    events: list[Event] = []
    dead: list[Any] = []
    for record in read_paths(SAMPLES):
        if isinstance(record, Event):
            events.append(normalise(record))
        else:
            dead.append(record)
    return events, dead


@cache
def _demo_matches() -> list[set[str]]:
    from layers.matcher.engine import match_events

    return match_events(RULES, _demo_events()[0])


@cache
def _demo_hosts() -> list[str]:
    """The host of each sample event, resolved the way the demo does (access logs by file name)."""
    from enrich.normalise import context
    from socpipe.demo import HINTS

    return [(context(event, None, HINTS).host or "").lower() for event in _demo_events()[0]]


def test_demo_samples_read_completely() -> None:
    from ingest.files import walk_paths

    events, dead = _demo_events()
    assert not dead, dead[:3]
    logs = [path for path in walk_paths(SAMPLES) if path.suffix != ".pcap"]
    lines = sum(len(path.read_text(encoding="utf-8").splitlines()) for path in logs)
    # The commune sensor's capture: 7 beacons (a DNS exchange and a TLS session each: 2 conn, 1 dns, 1 ssl)
    # and one HTTP check-in (1 conn, 1 http).
    captured = Counter(e.kind for e in events if e.origin.split(":")[0].endswith(".pcap"))
    assert captured == {"zeek_conn": 7 * 2 + 1, "zeek_dns": 7, "zeek_ssl": 7, "zeek_http": 1}
    assert len(events) == lines + captured.total()
    assert 5000 <= len(events) <= 7000
    assert {"flow", "zeek_conn", "zeek_dns"} <= {event.kind for event in events}


def test_every_demo_event_belongs_to_an_agency() -> None:
    from enrich.normalise import context
    from socpipe.demo import HINTS, REGISTRY
    from socpipe.registry import Registry

    registry = Registry.load(REGISTRY)
    orphans: set[tuple[str | None, str]] = set()
    for event in _demo_events()[0]:
        found = context(event, registry, HINTS)
        if found.agency_id is None:
            orphans.add((found.host, event.origin.rsplit(":", 1)[0]))
    assert not orphans


def test_planted_entries_name_known_rules() -> None:
    assert len(PLANTED_SINGLE) >= 8
    for entry in PLANTED:
        assert entry["rule"] in RULE_IDS or entry["rule"] in CORRELATION_IDS | {INTEL_RULE_ID}, entry


@pytest.mark.parametrize("planted", PLANTED_SINGLE,
                         ids=[f"{RULE_IDS[p['rule']].stem}@{p['host']}" for p in PLANTED_SINGLE])
def test_planted_attack_is_detected_on_its_host(planted: dict[str, Any]) -> None:
    hits = [
        host
        for host, matched in zip(_demo_hosts(), _demo_matches(), strict=True)
        if planted["rule"] in matched and host == planted["host"].lower()
    ]
    assert hits, (
        f"{RULE_IDS[planted['rule']].name} found nothing on {planted['host']}: {planted['description']}"
    )
