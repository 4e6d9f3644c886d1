"""The Parquet lake: the record that reports are reproduced from.

Tables live side by side under one root (`events/`, `alerts/`, `incidents/`, `actions/`), each
partitioned Hive-style (`date=YYYY-MM-DD/...`). Every writer names its files after what they hold, so
writing the same rows again replaces a file instead of adding a copy.

Tamper evidence: every file written (and every file deleted by retention) is appended to a hash chain per
table and day, `TABLE/_chain/date=YYYY-MM-DD.jsonl` (socpipe/lakechain.py). Readers skip `_` folders.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds

from socpipe import lakechain

# Rows per file and per row group: detection reads a file as one batch, and values repeat more often in a
# larger batch.
LAKE_BATCH_ROWS = 50_000


def write_lake_part(table: pa.Table, lake: Path, name: str, partitioning: tuple[str, ...] = ("date", "kind")) -> None:
    """One batch of rows into a lake table, partitioned by `partitioning`. Files are named after `name`,
    so writing the same batch again replaces its files instead of adding copies. Each file written is
    recorded in the table's hash chain."""
    lakechain.record_written(lake, write_lake_files(table, lake, name, partitioning))


def write_lake_files(table: pa.Table, lake: Path, name: str,
                     partitioning: tuple[str, ...] = ("date", "kind")) -> list[Path]:
    """The files of write_lake_part, not yet in the hash chain: for writers running in parallel (the
    stream's tasks), whose one coordinator records them, since a chain takes one writer at a time. The
    files are written in a `_staging-` folder (which readers skip) and renamed into place, so a reader
    never sees half a file and a writer killed midway leaves none under the final name."""
    staging = lake / f"_staging-{name}-{uuid.uuid4().hex[:8]}"
    written: list[Path] = []
    ds.write_dataset(
        table, staging, format="parquet", partitioning=list(partitioning), partitioning_flavor="hive",
        basename_template=f"{name}-{{i}}.parquet",
        # One row group per file (Arrow would cut one per 32,768-row chunk).
        min_rows_per_group=LAKE_BATCH_ROWS, max_rows_per_group=LAKE_BATCH_ROWS,
        file_visitor=lambda f: written.append(Path(f.path)),
    )
    placed = []
    for path in written:
        target = lake / path.relative_to(staging)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, target)
        placed.append(target)
    shutil.rmtree(staging, ignore_errors=True)
    return placed


def read_table(lake: Path, partitioning: tuple[str, ...] = ("date",)) -> pa.Table | None:
    """A whole lake table (None when nothing was written yet)."""
    if not lake.exists() or not any(lake.rglob("*.parquet")):
        return None
    schema = pa.schema([(name, pa.string()) for name in partitioning])
    return ds.dataset(lake, format="parquet", partitioning=ds.partitioning(schema, flavor="hive")).to_table()
