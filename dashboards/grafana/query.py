"""What the Grafana OpenSearch data source sends for a panel target: the exact `_msearch` request.

A port of the rules of grafana/opensearch-datasource (Apache-2.0) for the Lucene query type with
aggregations: `pkg/opensearch/lucene_handler.go` (processQuery, processTimeSeriesQuery, addTermsAgg,
addDateHistogramAgg), `pkg/opensearch/client/search_request.go` and `client/models.go` (the JSON of the
body), `client/client.go` (the per-search header, `$__interval` substitution, the
`max_concurrent_shard_requests` query parameter), `client/index_pattern.go` (daily index names) and
`pkg/tsdb/interval.go` (the date histogram interval). Only what socpipe's panels use is ported:
count and field metrics (avg, max, min, sum, cardinality, percentiles), terms and date_histogram
buckets, static and daily index patterns. Template variables are filled by Grafana's front end before
a query reaches the plugin; `render` substitutes them the same way for tests.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

DEFAULT_RESOLUTION = 1500  # tsdb.defaultRes: the span is cut into about this many buckets
MAX_BUCKETS = 65535  # OpenSearch's search.max_buckets, the plugin's defaultMaxBuckets
DEFAULT_TERMS_SIZE = 500
DEFAULT_SHARD_REQUESTS = 5
_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000, "y": 31_536_000_000}
# roundInterval's table: (upper bound, interval), in milliseconds.
_ROUND = ((15, 10), (35, 20), (75, 50), (150, 100), (350, 200), (750, 500), (1500, 1000), (3500, 2000),
          (7500, 5000), (12500, 10_000), (17500, 15_000), (25000, 20_000), (45000, 30_000), (90_000, 60_000),
          (210_000, 120_000), (450_000, 300_000), (750_000, 600_000), (1_050_000, 900_000),
          (1_500_000, 1_200_000), (2_700_000, 1_800_000), (5_400_000, 3_600_000), (9_000_000, 7_200_000),
          (16_200_000, 10_800_000), (32_400_000, 21_600_000), (86_400_000, 43_200_000),
          (172_800_000, 86_400_000), (604_800_000, 86_400_000), (1_814_400_000, 604_800_000))
_BRACKETS = (10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 15_000, 20_000, 30_000, 60_000, 120_000,
             300_000, 600_000, 900_000, 1_200_000, 1_800_000, 3_600_000, 7_200_000, 10_800_000, 21_600_000,
             43_200_000, 86_400_000, 604_800_000, 2_592_000_000, 31_536_000_000)


@dataclass(frozen=True)
class DataSource:
    """The jsonData of a provisioned grafana-opensearch-datasource that shapes its requests."""

    uid: str
    database: str  # an index, alias or pattern; with `interval` a dated pattern such as [alerts-]YYYY.MM.DD
    time_field: str = "@timestamp"
    interval: str = ""  # "", Hourly, Daily, ...: how `database` names its indices
    max_concurrent_shard_requests: int = DEFAULT_SHARD_REQUESTS
    time_interval: str = ""  # the data source's minimum interval (e.g. "10s")


@dataclass(frozen=True)
class Request:
    """One `_msearch` call: the path with its query string and the NDJSON body, as the plugin sends them."""

    path: str
    body: str

    def searches(self) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        lines = self.body.splitlines()
        return [(json.loads(h), json.loads(b)) for h, b in zip(lines[::2], lines[1::2], strict=True)]


def render(target: dict[str, Any], variables: dict[str, str]) -> dict[str, Any]:
    """A target with `$name` / `${name}` filled in, as Grafana's front end does before sending it."""
    text = json.dumps(target)
    for name, value in sorted(variables.items(), key=lambda item: -len(item[0])):
        text = text.replace("${" + name + "}", value).replace("$" + name, value)
    return json.loads(text)


def frontend_interval_ms(ds: DataSource, start: datetime, end: datetime, max_data_points: int = 1000) -> int:
    """The `intervalMs` Grafana's front end sends with a panel's queries: the range cut into the panel's
    maxDataPoints (its width in pixels; 1000 stands in here), rounded as the plugin rounds, not below the
    data source's minimum interval."""
    span = _epoch_ms(end) - _epoch_ms(start)
    rounded = _round(span // max_data_points)
    return max(rounded, parse_interval(ds.time_interval))


def msearch(ds: DataSource, targets: list[dict[str, Any]], start: datetime, end: datetime,
            query_interval_ms: int | None = None) -> Request:
    """The request for a panel's targets over [start, end] (client.ExecuteMultisearch). The query's
    interval (Grafana's `intervalMs`, see frontend_interval_ms) is the least date histogram interval
    (client.GetMinInterval)."""
    from_ms, to_ms = _epoch_ms(start), _epoch_ms(end)
    minimum = frontend_interval_ms(ds, start, end) if query_interval_ms is None else query_interval_ms
    index = ",".join(indices(ds, start, end))
    lines = []
    for target in targets:
        body, interval_ms = _search_body(target, from_ms, to_ms, minimum, ds.time_field)
        header = {"ignore_unavailable": True, "index": index, "search_type": "query_then_fetch"}
        text = json.dumps(body, separators=(",", ":"), sort_keys=True)
        text = text.replace("$__interval_ms", str(interval_ms)).replace("$__interval", format_interval(interval_ms))
        lines += [json.dumps(header, separators=(",", ":"), sort_keys=True), text]
    shards = ds.max_concurrent_shard_requests or DEFAULT_SHARD_REQUESTS
    return Request(f"/_msearch?max_concurrent_shard_requests={shards}", "\n".join(lines) + "\n")


def _search_body(target: dict[str, Any], from_ms: int, to_ms: int, minimum_ms: int,
                 time_field: str) -> tuple[dict[str, Any], int]:
    """luceneHandler.processQuery + processTimeSeriesQuery for one target."""
    metrics = target.get("metrics") or []
    buckets = target.get("bucketAggs") or []
    if not buckets:
        raise ValueError(f"target {target.get('refId')}: only aggregation queries are ported (no raw documents)")
    filters: list[dict[str, Any]] = [
        {"range": {time_field: {"gte": from_ms, "lte": to_ms, "format": "epoch_millis"}}}]
    query = target.get("query") or ""
    if query.strip():
        filters.append({"query_string": {"analyze_wildcard": True, "query": query}})
    body: dict[str, Any] = {"size": 0, "query": {"bool": {"filter": filters[0] if len(filters) == 1 else filters}}}
    interval_ms = histogram_interval_ms(target, from_ms, to_ms, minimum_ms)
    root: dict[str, Any] = {}
    level = root
    for bucket in buckets:
        inner = _bucket_agg(bucket, metrics, from_ms, to_ms, time_field)
        level[bucket["id"]] = inner
        level = inner.setdefault("aggs", {})
    for metric in metrics:
        if metric["type"] != "count":
            level[metric["id"]] = _metric_agg(metric)
    _prune_empty(root)
    body["aggs"] = root
    return body, interval_ms


def _bucket_agg(bucket: dict[str, Any], metrics: list[dict[str, Any]], from_ms: int, to_ms: int,
                time_field: str) -> dict[str, Any]:
    settings = _dsl_settings(bucket.get("settings") or {})
    if bucket["type"] == "date_histogram":  # addDateHistogramAgg
        interval = settings.get("interval", "auto")
        agg: dict[str, Any] = {"field": bucket.get("field") or time_field,
                               "interval": "$__interval" if interval == "auto" else interval,
                               "min_doc_count": int(settings.get("min_doc_count", 0)),
                               "extended_bounds": {"min": from_ms, "max": to_ms},
                               "format": settings.get("format", "epoch_millis")}
        for key in ("offset", "missing"):
            if key in settings:
                agg[key] = str(settings[key])
        return {"date_histogram": agg}
    if bucket["type"] == "terms":  # addTermsAgg and aggBuilderImpl.Terms
        size = _int(settings.get("size"), DEFAULT_TERMS_SIZE) or DEFAULT_TERMS_SIZE
        terms: dict[str, Any] = {"field": bucket["field"], "size": size, "order": {}}
        if "min_doc_count" in settings:
            terms["min_doc_count"] = int(settings["min_doc_count"])
        if "missing" in settings:
            terms["missing"] = str(settings["missing"])
        container: dict[str, Any] = {"terms": terms}
        order_by = settings.get("orderBy")
        if order_by is not None:
            terms["order"][order_by] = settings.get("order", "desc")
            by_metric = re.fullmatch(r"(\d+)(\[.*\])?", str(order_by))  # a metric id, or a percentile "1[50.0]"
            if by_metric:  # ordered by a metric: that metric is added inside the terms agg
                metric = next((m for m in metrics if m["id"] == by_metric.group(1)), None)
                if metric is not None:
                    container["aggs"] = {metric["id"]: {metric["type"]: {"field": metric.get("field", "")}}}
        if "_term" in terms["order"]:  # OpenSearch names it _key
            terms["order"]["_key"] = terms["order"].pop("_term")
        return container
    raise ValueError(f"bucket aggregation {bucket['type']!r} is not ported")


def _metric_agg(metric: dict[str, Any]) -> dict[str, Any]:
    """aggBuilder.Metric: the field plus every non-empty setting."""
    body: dict[str, Any] = {"field": metric.get("field", "")}
    body.update({k: v for k, v in (metric.get("settings") or {}).items() if k and v is not None})
    return {metric["type"]: body}


def _dsl_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """generateSettingsForDSL: a numeric min_doc_count string becomes a number."""
    out = dict(settings)
    if isinstance(out.get("min_doc_count"), str) and re.fullmatch(r"-?\d+", out["min_doc_count"]):
        out["min_doc_count"] = int(out["min_doc_count"])
    return out


def _prune_empty(aggs: dict[str, Any]) -> None:
    """AggContainer.MarshalJSON writes `aggs` only when there are sub-aggregations."""
    for container in aggs.values():
        if "aggs" in container:
            if container["aggs"]:
                _prune_empty(container["aggs"])
            else:
                del container["aggs"]


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def histogram_interval_ms(target: dict[str, Any], from_ms: int, to_ms: int, minimum: int) -> int:
    """tsdb.CalculateInterval: span / 1500 rounded to a clean bracket, not below the minimum, raised
    when terms aggregations would multiply the buckets past 90% of max_buckets (`$__interval`)."""
    span = to_ms - from_ms
    product = math.prod(_int((b.get("settings") or {}).get("size"), DEFAULT_TERMS_SIZE) or DEFAULT_TERMS_SIZE
                        for b in target.get("bucketAggs") or [] if b["type"] == "terms")
    floor = 0
    if product > 1 and any(b["type"] == "date_histogram" for b in target.get("bucketAggs") or []):
        per_time = MAX_BUCKETS * 90 // 100 // product
        if per_time < 20:
            raise ValueError(f"target {target.get('refId')}: terms sizes leave fewer than 20 time buckets")
        floor = next((b for b in _BRACKETS if -(-span // per_time) <= b), _BRACKETS[-1])
    return _resolve(span, max(minimum, floor))


def _resolve(span_ms: int, minimum_ms: int) -> int:
    interval = span_ms // DEFAULT_RESOLUTION
    if interval < minimum_ms:
        return minimum_ms
    rounded = _round(interval)
    return rounded if rounded >= minimum_ms else minimum_ms


def _round(interval_ms: int) -> int:
    """tsdb.roundInterval."""
    rounded = next((value for bound, value in _ROUND if interval_ms <= bound), None)
    if rounded is None:
        rounded = 2_592_000_000 if interval_ms < 3_628_800_000 else 31_536_000_000
    return rounded


def parse_interval(text: str) -> int:
    """'10s', '>1m', '1h' -> milliseconds (0 for empty)."""
    text = text.strip().lstrip("<>")
    if not text:
        return 0
    match = re.fullmatch(r"(\d+)(ms|s|m|h|d|w|y)", text)
    if not match:
        raise ValueError(f"interval {text!r} is not a number with a unit (ms, s, m, h, d, w, y)")
    return int(match.group(1)) * _MS[match.group(2)]


def format_interval(ms: int) -> str:
    """tsdb.FormatDuration: the largest whole unit (1y, 2d, 3h, 5m, 10s, 100ms)."""
    for unit in ("y", "d", "h", "m", "s", "ms"):
        if ms >= _MS[unit]:
            return f"{ms // _MS[unit]}{unit}"
    return "1ms"


def indices(ds: DataSource, start: datetime, end: datetime) -> list[str]:
    """index_pattern.go: the database itself, or with a Daily interval one name per UTC day of the range."""
    if not ds.interval:
        return [ds.database]
    if ds.interval.lower() != "daily":
        raise ValueError(f"index interval {ds.interval!r} is not ported (only Daily)")
    match = re.fullmatch(r"\[([^\]]*)\](.*)", ds.database)
    if not match:
        raise ValueError(f"daily pattern {ds.database!r} must be [prefix]DATEFORMAT")
    prefix, layout = match.groups()
    day = start.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    last = end.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    names = []
    while True:
        names.append(prefix + _moment_date(layout, day))
        if day >= last:
            return names
        day += timedelta(days=1)


def _moment_date(layout: str, day: datetime) -> str:
    """The moment.js tokens a daily pattern uses (YYYY, MM, DD)."""
    return re.sub(r"YYYY|MM|DD", lambda m: {"YYYY": f"{day.year:04d}", "MM": f"{day.month:02d}",
                                            "DD": f"{day.day:02d}"}[m.group(0)], layout)


def _epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def rows(response: dict[str, Any], target: dict[str, Any]) -> list[dict[str, Any]]:
    """One search response flattened as Grafana's table view shows it: one row per innermost bucket,
    with each bucket aggregation's key and each metric's value (count: the bucket's doc_count;
    percentiles: a dict of percent -> value)."""
    buckets = target["bucketAggs"]
    metrics = target.get("metrics") or []

    def walk(aggs: dict[str, Any], depth: int, keys: dict[str, Any]) -> list[dict[str, Any]]:
        agg = aggs[buckets[depth]["id"]]
        out = []
        for bucket in agg["buckets"]:
            here = {**keys, buckets[depth]["field"] or "time": bucket["key"]}
            if depth + 1 < len(buckets):
                out += walk(bucket, depth + 1, here)
                continue
            for metric in metrics:
                if metric["type"] == "count":
                    here[metric["id"]] = bucket["doc_count"]
                elif metric["type"] == "percentiles":
                    here[metric["id"]] = bucket[metric["id"]]["values"]
                else:
                    here[metric["id"]] = bucket[metric["id"]]["value"]
            out.append(here)
        return out

    if "error" in response:
        raise RuntimeError(f"search failed: {json.dumps(response['error'])[:500]}")
    return walk(response["aggregations"], 0, {})
