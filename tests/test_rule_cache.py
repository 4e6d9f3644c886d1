"""The compiled-rule cache: reused when nothing changed, recompiled only for what changed, never stale."""

from __future__ import annotations

import pytest
from conftest import SIGMAHQ

from rules import compiler
from rules.compiler import load_rules, rule_files

RULE = """title: Whoami {n}
id: 11111111-1111-4111-8111-11111111111{n}
logsource: {{product: windows, category: process_creation}}
detection:
  sel:
    Image|endswith: '\\\\{image}'
  condition: sel
level: high
"""
PLACEHOLDER_RULE = """title: Admins
id: 33333333-3333-4333-8333-333333333333
logsource: {product: windows, category: process_creation}
detection:
  sel:
    User|expand: '%admins%'
  condition: sel
"""


def _write(folder, n: int, image: str) -> None:
    (folder / f"r{n}.yml").write_text(RULE.format(n=n, image=image), encoding="utf-8")


def test_warm_load_reuses_every_file_and_gives_the_same_rules(tmp_path):
    rules, cache = tmp_path / "rules", tmp_path / "cache"
    rules.mkdir()
    for n in range(3):
        _write(rules, n, f"tool{n}.exe")
    cold = load_rules([rules], {}, cache)
    warm = load_rules([rules], {}, cache)
    assert (cold.cache_hits, warm.cache_hits) == (0, 3)
    assert warm.rules == cold.rules == load_rules([rules]).rules


def test_a_changed_file_recompiles_alone(tmp_path):
    rules, cache = tmp_path / "rules", tmp_path / "cache"
    rules.mkdir()
    for n in range(3):
        _write(rules, n, f"tool{n}.exe")
    load_rules([rules], {}, cache)
    _write(rules, 1, "changed.exe")
    again = load_rules([rules], {}, cache)
    assert again.cache_hits == 2
    assert "changed.exe" in repr(again.by_id()["11111111-1111-4111-8111-111111111111"].condition)


def test_placeholders_are_part_of_the_key(tmp_path):
    rules, cache = tmp_path / "rules", tmp_path / "cache"
    rules.mkdir()
    (rules / "p.yml").write_text(PLACEHOLDER_RULE, encoding="utf-8")
    first = load_rules([rules], {"admins": ["alice"]}, cache)
    second = load_rules([rules], {"admins": ["bob"]}, cache)
    assert (first.cache_hits, second.cache_hits) == (0, 0)
    assert "alice" in repr(first.rules[0].condition) and "bob" in repr(second.rules[0].condition)
    missing = load_rules([rules], {}, cache)  # an unfilled placeholder fails, and that failure is cached too
    assert missing.failures and load_rules([rules], {}, cache).failures == missing.failures


def test_a_damaged_entry_is_recompiled(tmp_path):
    rules, cache = tmp_path / "rules", tmp_path / "cache"
    rules.mkdir()
    _write(rules, 0, "tool.exe")
    expected = load_rules([rules], {}, cache).rules
    for entry in cache.rglob("*"):
        if entry.is_file():
            entry.write_bytes(b"not a pickle")
    again = load_rules([rules], {}, cache)
    assert again.cache_hits == 0 and again.rules == expected
    assert load_rules([rules], {}, cache).cache_hits == 1  # replaced by a good entry


@pytest.mark.slow
def test_parallel_cold_compile_equals_one_process(monkeypatch, tmp_path):
    folder = SIGMAHQ / "rules" / "windows" / "process_creation"
    assert len(list(rule_files([folder]))) > compiler.PARALLEL_MIN_FILES
    parallel = load_rules([folder], {}, tmp_path / "cache")
    monkeypatch.setattr(compiler, "PARALLEL_MIN_FILES", 10**9)
    serial = load_rules([folder])
    assert parallel.rules == serial.rules and parallel.failures == serial.failures
