"""`socpipe retention`: lake days and daily search indices past their keep period, against the real
OpenSearch of the dev servers; listed without --apply, deleted and chained with it."""

from __future__ import annotations

import json
from pathlib import Path

import audit_lake
import pytest
import yaml
from opensearchpy import OpenSearch

from layers.audit.retention import expired_indices
from socpipe.cli import main
from socpipe.lakechain import verify_table


def test_expired_indices_by_prefix_and_day() -> None:
    names = ["alerts-2025.04.14", "alerts-2025.04.15", "events-2024.12.31", "actions", "other-2020.01.01",
             "alerts-notadate"]
    assert expired_indices(names, {"alerts": 3, "events": 6}, audit_lake.AS_OF) == [
        "alerts-2025.04.14", "events-2024.12.31"]


@pytest.mark.slow
def test_retention_deletes_lake_days_and_indices(dev_servers, tmp_path: Path, capsys) -> None:
    lake = tmp_path / "lake"
    audit_lake.build(lake)
    search = OpenSearch(dev_servers.opensearch)
    for name in ("alerts-2025.04.01", "alerts-2025.07.01", "events-2025.04.01"):
        search.indices.create(index=name)
    config = tmp_path / "socpipe.yaml"
    config.write_text(yaml.safe_dump({"lake": {"path": str(lake)}, "opensearch": {"url": dev_servers.opensearch},
                                      "retention": {"keep_months": {"events": 3, "alerts": 3},
                                                    "index_keep_months": {"events": 3, "alerts": 3}}}))
    assert main(["--config", str(config), "retention", "--as-of", "2025-07-15"]) == 0
    listed = capsys.readouterr().out
    assert "would delete lake events/date=2025-04-01" in listed
    assert "would delete index alerts-2025.04.01" in listed and "would delete index events-2025.04.01" in listed
    assert search.indices.exists(index="alerts-2025.04.01") and (lake / "events" / "date=2025-04-01").exists()
    assert main(["--config", str(config), "retention", "--as-of", "2025-07-15", "--apply"]) == 0
    done = capsys.readouterr().out
    assert "deleted index alerts-2025.04.01" in done and "deleted lake events/date=2025-04-01" in done
    assert not search.indices.exists(index="alerts-2025.04.01")
    assert not search.indices.exists(index="events-2025.04.01")
    assert search.indices.exists(index="alerts-2025.07.01")
    assert not (lake / "events" / "date=2025-04-01").exists()
    assert verify_table(lake / "events") == []
    last = json.loads((lake / "events" / "_chain" / "2025-04-01.jsonl").read_text().splitlines()[-1])
    assert last["op"] == "delete" and last["reason"].startswith("retention")
