"""`socpipe national`: the layer-4 export run (selection, clocks, bundles and forms, transports)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from socpipe.config import Config


def add_parser(commands: Any) -> None:
    national = commands.add_parser("national", help="layer 4: report serious incidents to the national centre")
    national.add_argument("--lake", type=Path, help="lake root (default: lake.path)")
    national.add_argument("--registry", type=Path, help="agency registry (default: registry)")
    national.add_argument("--now", type=datetime.fromisoformat, help="ISO time the clocks are read at "
                          "(default: now); with a zone, e.g. 2026-03-14T02:15:00+00:00")
    national.add_argument("--out", type=Path, help="folder of the files transport (default: national.files_dir)")


def transports(config: Config, out: Path | None, names: list[str] | None = None) -> list[Any]:
    """The transports named (default: national.transports), built from their settings."""
    from alerting.national.transports import FileTransport, SyslogTransport, TaxiiTransport

    chosen = []
    for name in names or config.get("national", "transports"):
        if name == "files":
            chosen.append(FileTransport(out or config.path("national", "files_dir")))
        elif name == "taxii":
            taxii = config.get("national", "taxii")
            if not taxii["url"] or not taxii["collection"]:
                raise ValueError("national.transports names taxii: set national.taxii.url and .collection")
            chosen.append(TaxiiTransport(taxii["url"], taxii["collection"], taxii["username"], taxii["password"]))
        elif name == "syslog":
            syslog = config.get("national", "syslog")
            if not syslog["host"]:
                raise ValueError("national.transports names syslog: set national.syslog.host")
            chosen.append(SyslogTransport(syslog["host"], int(syslog["port"]), syslog["protocol"]))
        else:
            raise ValueError(f"national.transports: unknown transport {name!r} (known: files, taxii, syslog)")
    return chosen


def run(args: argparse.Namespace, config: Config) -> int:
    from layers.national import job
    from socpipe.registry import Registry

    registry_path = args.registry or config.path("registry")
    now = args.now or datetime.now(UTC)
    if now.tzinfo is None:
        raise SystemExit("socpipe national: --now needs a time zone, e.g. +00:00")
    outcomes = job.run(args.lake or config.path("lake", "path"), Registry.load(registry_path) if registry_path
                       else None, job.Settings.from_config(config.get("national")), transports(config, args.out), now)
    return 1 if any(o.failed for o in outcomes) else 0
