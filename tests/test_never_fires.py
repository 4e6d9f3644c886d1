"""Every SigmaHQ Windows rule fires on an event built from its own selection values (tests/never_fires.py).

A rule that cannot is a bug of socpipe's flattening or routing unless it is listed below with the reason
it cannot by construction. The lists must be exact: a rule that starts firing is taken off.

    .venv/bin/python -m tests.never_fires ../shared/sigmahq     # the counts and the rules, printed
"""

from __future__ import annotations

import json

import pytest
from conftest import SIGMAHQ

from ingest import parsers
from socpipe.events import SYSTEM_PREFIX
from tests import never_fires

# Rules no event can satisfy, whatever the reader: contradictions in the rule itself.
NOT_BUILDABLE = {
    # CommandLine: 'RunWizard' is an equality (no wildcards), and the same selection asks CommandLine to hold a
    # {GUID} by regex: no value is both. The rule wants `CommandLine|contains: 'RunWizard'`.
    "53d4bb30-3f36-4e8a-b078-69d36c4a79ff": "COM Object Execution via Xwizard.EXE",
}
# Rules that never fire on an event built from their selections.
NEVER_FIRES: dict[str, str] = {}
# Rules that fire only when their Channel (or EventID) is in the event's own data, differing from the System
# value that routes the event: that is what the event they are written for holds.
ONLY_THROUGH_OWN_DATA = {
    # Event 104 (System log): UserData/LogFileCleared/Channel names the log that was cleared.
    "a62b37e0-45d3-48d9-a517-90c1a1b0186b": "Eventlog Cleared",
    "100ef69e-3327-481c-8e5c-6d80d9507556": "Important Windows Eventlog Cleared",
}


@pytest.fixture(scope="module")
def rules():
    return never_fires.windows_rules(SIGMAHQ)


def _ids(verdicts, test) -> dict[str, str]:
    return {v.rule.id: v.rule.title for v in verdicts if test(v)}


def test_every_windows_rule_fires_on_its_own_selection_values(rules) -> None:
    verdicts = never_fires.verdicts(rules)
    assert len(verdicts) > 2500
    assert _ids(verdicts, lambda v: not v.built) == NOT_BUILDABLE
    assert _ids(verdicts, lambda v: v.built and not v.fires) == NEVER_FIRES
    assert _ids(verdicts, lambda v: v.only_through_own_data) == ONLY_THROUGH_OWN_DATA
    # Every System name a rule reads (Provider_Name, Computer, Level, ...) still reads the rule's value when the
    # event's own data uses the name too.
    assert _ids(verdicts, lambda v: v.fires and v.fires_on_clash is False) == {}
    assert sum(v.fires_on_clash is not None for v in verdicts) > 300


def _old_flattening(raw: bytes) -> dict[str, str]:
    """The flattening before issue 9: empty elements dropped, a System value over the event data's one."""
    fields = parsers.windows_fields(json.loads(raw))
    for name in [n for n in fields if n.startswith(SYSTEM_PREFIX)]:
        fields[name.removeprefix(SYSTEM_PREFIX)] = fields.pop(name)
    return {name: value for name, value in fields.items() if value != ""}


def test_the_search_finds_the_rules_the_old_flattening_broke(rules, monkeypatch) -> None:
    """The test has teeth: with the old flattening, the rules of issue 9 come out as never firing."""
    broken = {"f239b326-2f41-4d6b-9dfa-c846a60ef505", "71886b70-d7b4-4dbf-acce-87d2ca135262",
              "a62b37e0-45d3-48d9-a517-90c1a1b0186b"}
    monkeypatch.setattr(never_fires, "parse_evtx_json", _old_flattening)
    sample = [r for r in rules if r.id in broken or r.logsource[1] == "create_remote_thread"
              or "Provider_Name" in repr(r.condition)][:400]
    verdicts = never_fires.verdicts(sample)
    assert set(_ids(verdicts, lambda v: v.built and not v.fires)) == broken
    assert len(_ids(verdicts, lambda v: v.fires and v.fires_on_clash is False)) > 100


def test_regex_examples() -> None:
    for pattern in (r"\{[a-fA-F0-9]{8}-[a-fA-F0-9]{4}\}", r"(?i)^a(b|c)+\d{2,}[^x]$", r"(ab)\1", r"[^\s]+\.exe"):
        assert never_fires.regex_example(pattern) is not None, pattern
