"""The benchmark corpus is reproducible, prefix-stable and covers every event type it promises."""

from __future__ import annotations

from collections import Counter

from bench.corpus import EVENT_TYPES, generate

N = 5000


def test_same_seed_same_events_and_other_seed_other_events():
    first = list(generate(N, seed=7))
    assert first == list(generate(N, seed=7))
    assert first != list(generate(N, seed=8))


def test_a_shorter_corpus_is_the_head_of_a_longer_one():
    """The baseline may run on fewer events than socpipe: they must be the same events."""
    assert list(generate(1000, seed=3)) == list(generate(N, seed=3))[:1000]


def test_every_event_type_and_some_attacks():
    events = list(generate(20_000, seed=1))  # enough for the rarest type (4720, 0.05%) to show up
    assert all(isinstance(v, str) for e in events for v in e.values())
    types = Counter((e["Channel"], e["EventID"]) for e in events)
    assert set(types) == set(EVENT_TYPES)
    assert types[max(EVENT_TYPES, key=EVENT_TYPES.__getitem__)] > 0.35 * len(events)  # process creation dominates
    assert len({(e["Computer"], e["Channel"], e["EventRecordID"]) for e in events}) == len(events)
    command_lines = " ".join(e.get("CommandLine", "") for e in events).lower()
    tradecraft = ("comsvcs.dll, minidump", "-urlcache", " -enc ", "save hklm", "wevtutil", "whoami", "vssadmin")
    assert sum(t in command_lines for t in tradecraft) >= 3  # ~0.5% attack events: a few of these in 20k
