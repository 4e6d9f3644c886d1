"""Small builders for Grafana panel JSON (schema of Grafana 11) with OpenSearch data source targets.

A target is what Grafana stores for grafana-opensearch-datasource's Lucene query type: `query`,
`metrics` and `bucketAggs` with string settings, the way its query editor writes them, so that
dashboards/grafana/query.py can turn the same dict into the request the plugin sends.
"""

from __future__ import annotations

from typing import Any

PLUGIN = "grafana-opensearch-datasource"
WIDTH = 24  # Grafana's grid is 24 columns wide


def count() -> dict[str, Any]:
    return {"id": "1", "type": "count"}


def metric(metric_id: str, kind: str, field: str) -> dict[str, Any]:
    return {"id": metric_id, "type": kind, "field": field}


def terms(bucket_id: str, field: str, size: int = 10, order_by: str = "_count", order: str = "desc",
          min_doc_count: int = 1) -> dict[str, Any]:
    return {"id": bucket_id, "type": "terms", "field": field,
            "settings": {"size": str(size), "order": order, "orderBy": order_by, "min_doc_count": str(min_doc_count)}}


def histogram(bucket_id: str, field: str = "@timestamp", interval: str = "auto") -> dict[str, Any]:
    return {"id": bucket_id, "type": "date_histogram", "field": field,
            "settings": {"interval": interval, "min_doc_count": "0"}}


def target(uid: str, buckets: list[dict[str, Any]], metrics: list[dict[str, Any]] | None = None, query: str = "*",
           ref: str = "A") -> dict[str, Any]:
    return {"refId": ref, "datasource": {"type": PLUGIN, "uid": uid}, "queryType": "lucene", "query": query,
            "alias": "", "metrics": metrics or [count()], "bucketAggs": buckets, "timeField": "@timestamp"}


class Layout:
    """Places panels left to right, wrapping at the grid's width, and numbers them."""

    def __init__(self) -> None:
        self.panels: list[dict[str, Any]] = []
        self._x = self._y = self._row_height = 0

    def add(self, kind: str, title: str, targets: list[dict[str, Any]], width: int = 12, height: int = 8,
            description: str = "", unit: str | None = None, options: dict[str, Any] | None = None,
            thresholds: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        if self._x + width > WIDTH:
            self._x, self._y, self._row_height = 0, self._y + self._row_height, 0
        defaults: dict[str, Any] = {}
        if unit:
            defaults["unit"] = unit
        if thresholds:
            defaults["thresholds"] = {"mode": "absolute", "steps": thresholds}
        panel = {"id": len(self.panels) + 1, "type": kind, "title": title, "description": description,
                 "datasource": targets[0]["datasource"], "targets": targets,
                 "gridPos": {"h": height, "w": width, "x": self._x, "y": self._y},
                 "fieldConfig": {"defaults": defaults, "overrides": []}, "options": options or {}}
        self.panels.append(panel)
        self._x += width
        self._row_height = max(self._row_height, height)
        return panel


def dashboard(uid: str, title: str, tags: list[str], panels: list[dict[str, Any]], time_from: str = "now-7d",
              description: str = "") -> dict[str, Any]:
    return {"uid": uid, "title": title, "description": description, "tags": tags, "timezone": "utc",
            "editable": False, "schemaVersion": 39, "version": 1, "refresh": "1m",
            "time": {"from": time_from, "to": "now"}, "templating": {"list": []}, "annotations": {"list": []},
            "panels": panels}
