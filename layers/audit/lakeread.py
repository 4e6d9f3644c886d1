"""Reading the lake for an audit, and keeping the manifest of every file read.

The audit reads exactly the files it lists: each file's SHA-256 is taken before Spark reads it, and the
manifest also keeps the head of each day's hash chain (socpipe/lakechain.py), so `socpipe audit verify`
can tell later whether the lake still holds what the report was made from.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession

from socpipe.lakechain import UNDATED, day_of, heads, sha256_file

TABLES = ("events", "incidents", "actions")


class LakeReader:
    """Spark DataFrames over lake tables up to the as-of day; `manifest()` lists what they read."""

    def __init__(self, spark: SparkSession, lake: Path, as_of: date) -> None:
        self.spark = spark
        # The audit names its files itself: Spark need not list them with a job of its own (it would for
        # more than 32 paths, which costs seconds per table).
        spark.conf.set("spark.sql.sources.parallelPartitionDiscovery.threshold", "1000000")
        self.lake = lake.resolve()
        self.as_of = as_of.isoformat()
        self._files: dict[str, list[dict[str, Any]]] = {}
        self._frames: dict[str, DataFrame | None] = {}

    def table(self, name: str) -> DataFrame | None:
        """The table's rows in partitions dated on or before the as-of day (None when there are none).
        Files of later days are neither read nor listed, so a lake that grew since gives the same report."""
        if name not in self._frames:
            files = self.paths(name)
            self._frames[name] = (self.spark.read.option("basePath", str(self.lake / name))
                                  .parquet(*map(str, files)) if files else None)
        return self._frames[name]

    def paths(self, name: str) -> list[Path]:
        """The files of `table(name)`, as absolute paths (for tasks that read them themselves), hashed
        into the manifest on first use."""
        if name not in self._files:
            root = self.lake / name
            files = sorted(p for p in root.rglob("*.parquet") if self._wanted(p.relative_to(root).as_posix()))
            self._files[name] = [{"file": f"{name}/{p.relative_to(root).as_posix()}", "sha256": sha256_file(p),
                                  "bytes": p.stat().st_size} for p in files]
        return [self.lake / entry["file"] for entry in self._files[name]]

    def _wanted(self, relative: str) -> bool:
        if any(part.startswith(("_", ".")) for part in relative.split("/")):
            return False
        day = day_of(relative)
        return day != UNDATED and day <= self.as_of

    def manifest(self) -> dict[str, Any]:
        """Files read (path under the lake, SHA-256, size) and the chain heads of the days they lie in."""
        tables = {}
        for name in sorted(self._files):
            days = {day_of(f["file"]) for f in self._files[name]}
            tables[name] = {"files": self._files[name],
                            "chain_heads": {d: h for d, h in heads(self.lake / name).items() if d in days}}
        return {"lake": str(self.lake), "as_of": self.as_of, "tables": tables}
