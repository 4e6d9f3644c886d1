"""`socpipe dashboards export DIR | push --url URL`."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

from grafana_client.client import GrafanaClientError

from dashboards.grafana.dashboards import Settings, all_dashboards
from dashboards.grafana.provisioning import export
from dashboards.grafana.publish import push
from socpipe.config import Config
from socpipe.demo import REGISTRY
from socpipe.registry import Registry


def run(args: argparse.Namespace, config: Config) -> int:
    registry = Registry.load(config.path("registry") or REGISTRY)
    settings = Settings.from_config(config)
    today = datetime.now(UTC).date()
    folder = config.get("grafana", "folder")
    if args.dashboards_command == "export":
        files = export(args.dir, settings, registry, today, config.get("grafana", "opensearch_url"), folder,
                       config.get("grafana", "opensearch_ca_file"))
        print(f"wrote {len(files)} files under {args.dir} (mount it at /etc/grafana/provisioning)")
        return 0
    url = args.url or config.get("grafana", "url")
    if not url:
        print("no Grafana URL: pass --url or set grafana.url", file=sys.stderr)
        return 2
    try:
        urls = push(url, config.get("grafana", "token") or "", folder, all_dashboards(settings, registry, today))
    except (ValueError, GrafanaClientError) as error:
        print(f"push to {url} failed: {error}", file=sys.stderr)
        return 1
    print(f"pushed {len(urls)} dashboards to {url} (folder {folder})")
    return 0
