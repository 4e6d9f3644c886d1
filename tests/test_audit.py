"""Layer 3 over a real local Spark session and a lake written by the lake writer (tests/audit_lake.py):
coverage through the 2025 reform, silent sources, retention and its deletion job, handling, reporting,
byte-identical reruns, and verify catching a tampered lake or report."""

from __future__ import annotations

import json
from pathlib import Path

import audit_lake
import pytest

from dashboards.audit_report import write_reports
from layers.audit import job
from layers.audit.output import verify
from layers.audit.retention import purge_lake
from layers.audit.scope import Period, Scope
from socpipe.cli import main
from socpipe.config import DEFAULTS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("lake")
    audit_lake.build(root)
    return root


def _audit(spark, lake: Path) -> job.Audit:
    scope = Scope.from_dict(audit_lake.AS_OF, Period.parse(audit_lake.PERIOD), audit_lake.REGISTRY)
    return job.Audit(spark, lake, scope, job.Settings.from_config(DEFAULTS["audit"], DEFAULTS["national"]))


@pytest.fixture(scope="module")
def report(spark, lake: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[list, Path]:
    return job.run(_audit(spark, lake), ["summary"], tmp_path_factory.mktemp("out"), render=write_reports)


def _by(results, name):
    return next(r for r in results if r.name == name)


def test_coverage_counts_agencies_only_while_they_existed(report) -> None:
    coverage = _by(report[0], "coverage")
    assert coverage.summary == [["provincial", 2, 1, 50.0, 100.0, "fail"], ["district", 1, 1, 100.0, 100.0, "pass"],
                                ["commune", 3, 2, 66.7, 50.0, "pass"]]
    rows = {r[0]: r for r in coverage.rows}
    # dept-a sent on 15 of 20 days (75% < 80%); d1 existed 10 days of the period and sent on all of them.
    assert rows["dept-a"][6:10] == [20, 15, 75.0, "no"]
    assert rows["d1"][4:10] == ["2025-06-21", "2025-06-30", 10, 10, 100.0, "yes"]
    # The old commune's hosts went on sending after 2025-06-30: those days count for its successor.
    assert rows["c-new"][6:10] == [10, 10, 100.0, "yes"]
    assert rows["c-old"][6:10] == [10, 10, 100.0, "yes"] and rows["c-old"][10] == "c-new"
    assert rows["d1"][10] == "c-new"
    assert coverage.notes["not_monitored"] == ["dept-a", "c-other"]


def test_sources_silence_and_never_sent(report) -> None:
    sources = {r[0]: r for r in _by(report[0], "sources").rows}
    assert sources["s-dept-a"][4:] == [3, 5, "silent"]
    assert sources["s-silent"][3:] == [None, 20, 20, "never"]
    assert sources["s-prov"][3:] == ["2025-07-10T12:00:00+00:00", 0, 0, "ok"]  # the 07-20 event is after --as-of
    assert "s-unclassified" not in sources


def test_retention_by_level(report) -> None:
    rows = {r[0]: r for r in _by(report[0], "retention").rows}
    assert rows["s-prov"][3:] == [3, "2025-04-15", "2025-04-01", 106, "ok"]
    assert rows["s-dept-a"][3:] == [6, "2025-01-15", "2025-06-21", 25, "short"]
    assert rows["s-silent"][7] == "no data"


def test_handling_against_deadlines(report) -> None:
    handling = _by(report[0], "handling")
    rows = {r[0]: r for r in handling.rows}
    assert set(rows) == {"aa01", "aa02", "aa03"}  # aa04 is before the period
    assert rows["aa01"][4:] == [10.0, "met", 20.0, "met", 0]
    assert rows["aa02"][4:] == [120.0, "late", None, "overdue", 1]
    assert rows["aa03"][4:] == [60.0, "met", None, "open", 0]
    assert handling.notes["over_deadline"] == ["aa02"]


def test_reporting_clocks_and_export_health(report) -> None:
    reporting = _by(report[0], "reporting")
    rows = {r[0]: r for r in reporting.rows}
    assert set(rows) == {"aa01", "aa02"}  # critical; verdict true_positive_impact
    assert rows["aa01"][5:9] == ["2025-07-02T01:00:00+00:00", "2025-07-01T06:00:00+00:00", "met", "status-1"]
    assert rows["aa01"][11] == "late"  # full report after 75 h
    assert rows["aa02"][7] == "overdue" and rows["aa02"][11] == "overdue"
    assert reporting.summary == [["initial", "24 h", 2, 1, 50.0], ["full", "72 h", 2, 0, 0.0]]
    assert reporting.notes["export_health"] == {"taxii": {"sent": 2, "failed": 1,
                                                          "last_sent": "2025-07-04T09:00:00+00:00"}}


def test_classification(report) -> None:
    classification = _by(report[0], "classification")
    rows = {r[0]: r for r in classification.rows}
    assert rows["s-unclassified"][4] == "no security level"
    assert rows["s-d1"][4] == "no contacts"
    assert classification.summary[0][1:] == [5, 4, 80.0, 100.0, "fail"]  # s-c-old is a commune system


def test_reports_are_byte_identical_and_verify(spark, lake: Path, report, tmp_path: Path) -> None:
    _, first = report
    _, second = job.run(_audit(spark, lake), ["summary"], tmp_path / "again", render=write_reports)
    names = sorted(p.name for p in first.parent.iterdir())
    assert names == sorted(p.name for p in second.parent.iterdir())
    assert {"report.vi.html", "report.en.html", "report.vi.pdf", "report.en.pdf", "manifest.json", "coverage.csv",
            "summary.json"} <= set(names)
    assert (first.parent / "report.vi.pdf").read_bytes().startswith(b"%PDF")
    for name in names:
        assert (first.parent / name).read_bytes() == (second.parent / name).read_bytes(), name
    manifest = json.loads((first.parent / "manifest.json").read_text())
    files = [f["file"] for f in manifest["tables"]["events"]["files"]]
    assert files and not any("2025-07-20" in f for f in files)
    assert verify(first) == []
    assert main(["audit", "verify", str(first.parent)]) == 0


def test_verify_finds_a_tampered_lake_file_and_report(spark, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    audit_lake.build(lake)
    _, report = job.run(_audit(spark, lake), ["coverage"], tmp_path / "out")
    assert verify(report) == []
    victim = sorted((lake / "events").rglob("date=2025-07-01/*/*.parquet"))[0]
    victim.write_bytes(victim.read_bytes()[:-10] + b"0123456789")
    (report.parent / "coverage.csv").write_text("agency_id\n", encoding="utf-8")
    problems = verify(report)
    relative = victim.relative_to(lake).as_posix()
    assert "coverage.csv: changed since the report was made" in problems
    assert f"lake {relative}: changed since the report read it" in problems
    assert f"lake {relative}: file changed since it was written" in problems
    assert main(["audit", "verify", str(report)]) == 1


def test_retention_job_deletes_expired_partitions_and_logs_them(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    audit_lake.build(lake)
    said: list[str] = []
    assert purge_lake(lake, {"events": 3}, audit_lake.AS_OF, apply=False, say=said.append) == ["events/date=2025-04-01"]
    assert (lake / "events" / "date=2025-04-01").exists()
    purge_lake(lake, {"events": 3}, audit_lake.AS_OF, apply=True, say=said.append)
    assert not (lake / "events" / "date=2025-04-01").exists()
    assert said[-1].startswith("deleted lake events/date=2025-04-01 (1 files")
    chain = (lake / "events" / "_chain" / "2025-04-01.jsonl").read_text().splitlines()
    assert json.loads(chain[-1])["op"] == "delete"
    from socpipe.lakechain import verify_table

    assert verify_table(lake / "events") == []


def test_html_report_targets_first_in_both_languages(report) -> None:
    folder = report[1].parent
    vi = (folder / "report.vi.html").read_text(encoding="utf-8")
    en = (folder / "report.en.html").read_text(encoding="utf-8")
    record = json.loads(report[1].read_text())
    for page in (vi, en):
        assert record["manifest_sha256"] in page and page.count("<svg") == 3 and "<script" not in page
    assert vi.index("Chỉ tiêu và kết quả") < vi.index("Biểu đồ") < vi.index("Chi tiết")
    assert "Cơ quan cấp tỉnh được giám sát" in vi and "Không đạt" in vi
    assert en.index("Targets and results") < en.index("Charts") < en.index("Details")
    assert "<th>Mã cơ quan</th>" in vi and "<th>agency_id</th>" not in vi and "<th>agency_id</th>" in en
    assert "<td>không đạt</td>" in vi and "<td>fail</td>" not in vi and "<td>fail</td>" in en
    assert record["outputs"]["report.vi.html"] and record["outputs"]["report.en.html"]


def test_the_report_in_headless_chromium(report) -> None:
    """The auditor opens the self-contained file in a browser: it renders with its three charts, no request
    leaves the file, no console error; screenshots in test-artifacts/audit/."""
    from conftest import ROOT
    from playwright.sync_api import sync_playwright

    chromium = Path("/usr/bin/chromium")
    assert chromium.exists(), "Debian's chromium is needed (.ci/run installs it)"
    artifacts = ROOT / "test-artifacts" / "audit"
    artifacts.mkdir(parents=True, exist_ok=True)
    folder = report[1].parent
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=["--no-sandbox"])
        try:
            for language, heading in (("vi", "Chỉ tiêu và kết quả"), ("en", "Targets and results")):
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                errors: list[str] = []
                requests: list[str] = []
                page.on("console", lambda m, e=errors: m.type == "error" and e.append(m.text))
                page.on("pageerror", lambda x, e=errors: e.append(str(x)))
                page.on("request", lambda r, q=requests: q.append(r.url))
                page.goto((folder / f"report.{language}.html").as_uri())
                assert page.get_by_text(heading).first.is_visible()
                charts = page.locator("svg")
                assert charts.count() == 3
                assert all(charts.nth(i).bounding_box()["width"] > 100 for i in range(3))  # drawn, not empty
                assert requests == [(folder / f"report.{language}.html").as_uri()]  # self-contained
                assert errors == []
                page.screenshot(path=str(artifacts / f"report.{language}.png"), full_page=True)
                page.close()
        finally:
            browser.close()
