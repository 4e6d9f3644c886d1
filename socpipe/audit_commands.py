"""`socpipe audit ...` and `socpipe retention`: the layer-3 commands. Auditors' commands read the lake
only; `retention` is the operators' job that deletes what is past its keep period."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path
from typing import Any

from socpipe.config import Config

AUDIT_QUERIES = ("coverage", "sources", "retention", "handling", "classification", "reporting", "summary")


def add_parsers(commands: Any) -> None:
    audit = commands.add_parser("audit", help="layer 3: reproducible compliance reports from the lake")
    queries = audit.add_subparsers(dest="audit_command", required=True)
    for name in AUDIT_QUERIES:
        query = queries.add_parser(name, help="every query, the auditor's HTML report" if name == "summary"
                                   else f"the {name} query")
        query.add_argument("--as-of", required=True, type=date.fromisoformat, help="YYYY-MM-DD: the record "
                           "as it stood at the end of that day")
        query.add_argument("--period", required=True, help="FROM..TO (YYYY-MM-DD..YYYY-MM-DD)")
        query.add_argument("--lake", type=Path, help="lake root (default: lake.path)")
        query.add_argument("--registry", type=Path, help="agency registry (default: registry)")
        query.add_argument("--out", type=Path, help="output folder (default: audit.out)")
    check = queries.add_parser("verify", help="re-check a report against its manifest and the lake's chains")
    check.add_argument("report", type=Path, help="report.json or its folder")
    retention = commands.add_parser("retention", help="delete lake days and search indices past their keep period")
    retention.add_argument("--as-of", type=date.fromisoformat, default=date.today(), help="YYYY-MM-DD (default today)")
    retention.add_argument("--lake", type=Path, help="lake root (default: lake.path)")
    retention.add_argument("--apply", action="store_true", help="delete (without it: only list what would go)")


def run_audit(args: argparse.Namespace, config: Config) -> int:
    from layers.audit.output import verify

    if args.audit_command == "verify":
        problems = verify(args.report)
        for p in problems:
            print(f"FAILED {p}")
        print(f"{args.report}: {'verified' if not problems else f'{len(problems)} problems'}")
        return 1 if problems else 0
    from layers.audit import job
    from layers.audit.scope import Period, Scope
    from socpipe.spark import session

    registry = args.registry or config.path("registry")
    if registry is None:
        print("socpipe audit needs the agency registry: set `registry` in the configuration or pass --registry",
              file=sys.stderr)
        return 2
    try:
        scope = Scope.load(args.as_of, Period.parse(args.period), registry)
    except ValueError as exc:
        print(f"socpipe audit: {exc}", file=sys.stderr)
        return 2
    out = args.out or config.path("audit", "out")
    spark = session("socpipe-audit", master=config.get("spark", "master"), conf=config.get("spark", "conf"),
                    batch=True)
    settings = job.Settings.from_config(config.get("audit"), config.get("national"))
    audit = job.Audit(spark, args.lake or config.path("lake", "path"), scope, settings)
    from dashboards.audit_report import write_reports

    job.run(audit, [args.audit_command], out, render=write_reports if args.audit_command == "summary" else None)
    return 0


def run_retention(args: argparse.Namespace, config: Config) -> int:
    from layers.audit.retention import expired_indices, purge_lake

    lake = args.lake or config.path("lake", "path")
    purge_lake(lake, config.get("retention", "keep_months"), args.as_of, args.apply)
    if config.get("opensearch", "url"):
        from socpipe import search

        client = search.client(config)
        names = sorted(client.indices.get(index="*", expand_wildcards="open"))
        for name in expired_indices(names, config.get("retention", "index_keep_months"), args.as_of):
            print(f"{'deleted' if args.apply else 'would delete'} index {name}")
            if args.apply:
                client.indices.delete(index=name)
    return 0
