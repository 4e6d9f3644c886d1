"""The Parquet lake: the record that reports are reproduced from.

Tables live side by side under one root (`events/`, `alerts/`, `incidents/`, `actions/`), each
partitioned Hive-style (`date=YYYY-MM-DD/...`). Every writer names its files after what they hold, so
writing the same rows again replaces a file instead of adding a copy.

Tamper evidence: every file written (and every file deleted by retention) is appended to a hash chain per
table and day, `TABLE/_chain/date=YYYY-MM-DD.jsonl` (socpipe/lakechain.py). Readers skip `_` folders.
"""

from __future__ import annotations

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
    written: list[str] = []
    ds.write_dataset(
        table, lake, format="parquet", partitioning=list(partitioning), partitioning_flavor="hive",
        basename_template=f"{name}-{{i}}.parquet", existing_data_behavior="overwrite_or_ignore",
        # One row group per file (Arrow would cut one per 32,768-row chunk).
        min_rows_per_group=LAKE_BATCH_ROWS, max_rows_per_group=LAKE_BATCH_ROWS,
        file_visitor=lambda f: written.append(f.path),
    )
    lakechain.record_written(lake, [Path(p) for p in written])


def read_table(lake: Path, partitioning: tuple[str, ...] = ("date",)) -> pa.Table | None:
    """A whole lake table (None when nothing was written yet)."""
    if not lake.exists() or not any(lake.rglob("*.parquet")):
        return None
    schema = pa.schema([(name, pa.string()) for name in partitioning])
    return ds.dataset(lake, format="parquet", partitioning=ds.partitioning(schema, flavor="hive")).to_table()
