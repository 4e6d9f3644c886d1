"""The baseline socpipe is measured against: Zircolite's approach with pySigma's SQLite backend.

Zircolite loads every event into one in-memory SQLite table (a TEXT COLLATE NOCASE column per field name
seen, an index on EventID, a Python REGEXP function) and runs each rule as one SELECT over the whole
table. It ignores log sources: a rule sees every event, whatever its channel or event id.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sigma.backends.sqlite import sqliteBackend
from sigma.collection import SigmaCollection
from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule

from rules.compiler import rule_files

TABLE = "logs"
PLACEHOLDER = "<TABLE_NAME>"  # sqliteBackend.table: the name the backend leaves for the caller to fill in


@dataclass
class Converted:
    queries: dict[str, list[str]] = field(default_factory=dict)  # rule id -> SQL statements
    failures: dict[str, str] = field(default_factory=dict)  # rule id (or file) -> why it could not be converted
    seconds: float = 0.0


@dataclass
class BaselineResult:
    events: int
    columns: int
    matches: Counter[str]  # rule id -> matching rows
    query_errors: dict[str, str]  # rule id -> SQLite error (a field no event has is "no such column")
    load_seconds: float
    query_seconds: float
    cpu_seconds: float  # of this process, loading and querying: robust to other load on the machine

    @property
    def seconds(self) -> float:
        return self.load_seconds + self.query_seconds

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


def sigma_rules(paths: Iterable[Path], product: str | None = None) -> tuple[list[SigmaRule], dict[str, str]]:
    """Parsed rules under `paths` (only those of `product` when given) and the files pySigma cannot read."""
    rules: list[SigmaRule] = []
    failures: dict[str, str] = {}
    for path in rule_files(paths):
        try:
            collection = SigmaCollection.from_yaml(path.read_text(encoding="utf-8"), collect_errors=True)
        except (OSError, UnicodeDecodeError, SigmaError, ValueError) as e:
            failures[str(path)] = str(e).splitlines()[0] if str(e) else type(e).__name__
            continue
        for rule in collection:
            if isinstance(rule, SigmaRule) and (product is None or rule.logsource.product == product):
                rules.append(rule)
    return rules, failures


def convert(rules: Iterable[SigmaRule]) -> Converted:
    """Each rule as SQL over the `logs` table; what the backend rejects is kept with its reason."""
    started = time.monotonic()
    backend = sqliteBackend()
    result = Converted()
    for rule in rules:
        rule_id = str(rule.id)
        if rule_id in result.queries or rule_id in result.failures:
            continue  # a duplicate id: the first rule wins, as in rules.compiler
        try:
            if rule.errors:
                raise rule.errors[0]
            result.queries[rule_id] = [q.replace(PLACEHOLDER, TABLE) for q in backend.convert_rule(rule)]
        except (SigmaError, NotImplementedError, ValueError, TypeError) as e:
            result.failures[rule_id] = (str(e).splitlines() or [type(e).__name__])[0]
    result.seconds = time.monotonic() - started
    return result


def _regexp(pattern: str, value: str | None) -> int:
    """Zircolite's REGEXP: re.search on the raw value (SQLite passes the pattern first)."""
    return 0 if value is None else int(re.search(pattern, value) is not None)


def connect() -> sqlite3.Connection:
    """An in-memory database with Zircolite's pragmas."""
    conn = sqlite3.connect(":memory:", isolation_level=None)
    for pragma in ("journal_mode = OFF", "synchronous = OFF", "cache_size = -128000", "locking_mode = EXCLUSIVE",
                   "temp_store = MEMORY", "page_size = 4096", "threads = 4"):
        conn.execute(f"PRAGMA {pragma}")
    conn.create_function("regexp", 2, _regexp, deterministic=True)
    return conn


def run(events: list[dict[str, str]], queries: dict[str, list[str]]) -> BaselineResult:
    """Load `events` into a fresh table and run every rule's queries; times loading and querying apart."""
    started, cpu_started = time.monotonic(), time.process_time()
    conn = connect()
    columns: dict[str, str] = {}  # lowercased -> as first seen: SQLite column names ignore case
    for fields in events:
        for name in fields:
            columns.setdefault(name.lower(), name)
    names = list(columns.values())
    quoted = ", ".join('"' + n.replace('"', '""') + '"' for n in names)
    conn.execute(f"CREATE TABLE {TABLE} (row_id INTEGER PRIMARY KEY AUTOINCREMENT, "
                 + ", ".join('"' + n.replace('"', '""') + '" TEXT COLLATE NOCASE' for n in names) + ")")
    marks = ", ".join(["?"] * len(names))
    insert = f"INSERT INTO {TABLE} ({quoted}) VALUES ({marks})"
    conn.execute("BEGIN")
    conn.executemany(insert, ([fields.get(n) for n in names] for fields in events))
    conn.execute("COMMIT")
    conn.execute(f'CREATE INDEX idx_eventid ON {TABLE} ("EventID")')
    loaded = time.monotonic()

    matches: Counter[str] = Counter()
    errors: dict[str, str] = {}
    for rule_id, statements in queries.items():
        for sql in statements:
            try:
                matches[rule_id] += len(conn.execute(sql).fetchall())
            except sqlite3.Error as e:
                errors[rule_id] = str(e)
    done, cpu = time.monotonic(), time.process_time() - cpu_started
    conn.close()
    return BaselineResult(len(events), len(names), matches, errors, loaded - started, done - loaded, cpu)
