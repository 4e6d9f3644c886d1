"""The plain compiled path: every rule as Spark SQL, the reference the fast engine is held to.

Rules are evaluated in chunks, one projection per chunk, each yielding the ids of the rules that
matched a row; chunks keep each projection inside Spark's code-generation limits. It is slower than
the Detector and exists to check it (tests, benchmarks), not to run in production.
"""

from __future__ import annotations

from functools import reduce

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from rules.compiler import CompiledRule
from rules.spark_sql import SparkSQL, literal

CHUNK = 40  # rules per projection


def match_sql(events: DataFrame, rules: list[CompiledRule], chunk: int = CHUNK) -> DataFrame:
    """(event_id, rule_id) for every match; `events` has event_id, kind and fields columns."""
    sql = SparkSQL()
    parts = []
    for start in range(0, len(rules), chunk):
        cases = ", ".join(
            f"CASE WHEN {sql.rule(r.sources, r.condition)} THEN {literal(r.id)} END" for r in rules[start:start + chunk]
        )
        parts.append(events.select(
            "event_id", F.explode(F.expr(f"filter(array({cases}), x -> x IS NOT NULL)")).alias("rule_id")))
    return reduce(DataFrame.unionAll, parts)
