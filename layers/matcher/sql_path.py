"""The plain compiled path: every rule as Spark SQL, the reference the fast engine is held to.

Rules are grouped by log source; each group filters the events once and evaluates its rules in
chunks, one projection per chunk yielding the ids of the rules that matched a row, so each projection
stays inside Spark's code-generation limits. It is slower than the Detector and exists to check it
(tests, benchmarks), not to run in production.
"""

from __future__ import annotations

from collections import defaultdict
from functools import reduce

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from layers.matcher.engine import ROUTING_FIELDS
from rules import ir
from rules.logsources import Source
from rules.model import CompiledRule
from rules.spark_sql import SparkSQL, literal

CHUNK = 40  # rules per projection


def match_sql(events: DataFrame, rules: list[CompiledRule], chunk: int = CHUNK) -> DataFrame:
    """(event_id, rule_id) for every match; `events` has event_id, kind and fields columns."""
    groups: dict[tuple[Source, ...], list[CompiledRule]] = defaultdict(list)
    for r in rules:
        groups[r.sources].append(r)
    # Each field the rules read becomes a column once, instead of a map lookup at every leaf.
    names = sorted(set().union(*(ir.fields_of(r.condition) for r in rules), ROUTING_FIELDS))
    columns = {name: f"f{i}" for i, name in enumerate(names)}
    events = events.select("event_id", "kind", "fields",
                           *(F.col("fields").getItem(n).alias(c) for n, c in columns.items()))
    sql = SparkSQL(columns)
    parts = []
    for sources, members in groups.items():
        selected = events.where(sql.sources(sources))
        for start in range(0, len(members), chunk):
            cases = ", ".join(
                f"CASE WHEN coalesce({sql.render(r.condition)}, false) THEN {literal(r.id)} END"
                for r in members[start:start + chunk]
            )
            parts.append(selected.select(
                "event_id", F.explode(F.expr(f"filter(array({cases}), x -> x IS NOT NULL)")).alias("rule_id")))
    return reduce(DataFrame.unionAll, parts)
