"""The port of the OpenSearch data source's request builder gives the requests the plugin's own snapshot
tests pin (grafana/opensearch-datasource pkg/opensearch/snapshot_tests/lucene_metric_test.go: their query
inputs, time range 1668422437218-1668422625668 and expected `_msearch` lines, compared as JSON)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from dashboards.grafana import query

START = datetime.fromtimestamp(1668422437.218, UTC)
END = datetime.fromtimestamp(1668422625.668, UTC)
RANGE = {"range": {"timestamp": {"format": "epoch_millis", "gte": 1668422437218, "lte": 1668422625668}}}
QUERY = {"bool": {"filter": [RANGE, {"query_string": {"analyze_wildcard": True, "query": "*"}}]}}
DS = query.DataSource("x", "", time_field="timestamp", max_concurrent_shard_requests=42)
HEADER = {"ignore_unavailable": True, "index": "", "search_type": "query_then_fetch"}


def _only(target: dict) -> dict:
    request = query.msearch(DS, [target], START, END, query_interval_ms=0)
    assert request.path == "/_msearch?max_concurrent_shard_requests=42"
    ((header, body),) = request.searches()
    assert header == HEADER
    return body


def test_max_grouped_by_terms():
    target = {"refId": "A", "query": "*", "timeField": "timestamp",
              "bucketAggs": [{"field": "AvgTicketPrice", "id": "2", "type": "terms", "settings": {
                  "min_doc_count": "0", "order": "desc", "orderBy": "_term", "size": "10"}}],
              "metrics": [{"field": "AvgTicketPrice", "id": "1", "type": "max"}]}
    assert _only(target) == {"aggs": {"2": {"aggs": {"1": {"max": {"field": "AvgTicketPrice"}}}, "terms": {
        "field": "AvgTicketPrice", "size": 10, "order": {"_key": "desc"}, "min_doc_count": 0}}},
        "query": QUERY, "size": 0}


def test_sum_grouped_by_date_histogram():
    target = {"refId": "A", "query": "*", "timeField": "timestamp",
              "bucketAggs": [{"field": "timestamp", "id": "2", "type": "date_histogram", "settings": {
                  "interval": "auto", "min_doc_count": "0", "trimEdges": "0"}}],
              "metrics": [{"field": "DistanceKilometers", "id": "1", "type": "sum"}]}
    assert _only(target) == {"aggs": {"2": {"aggs": {"1": {"sum": {"field": "DistanceKilometers"}}},
                                            "date_histogram": {"field": "timestamp", "interval": "100ms",
                                                               "min_doc_count": 0, "format": "epoch_millis",
                                                               "extended_bounds": {"min": 1668422437218,
                                                                                   "max": 1668422625668}}}},
                             "query": QUERY, "size": 0}


def test_large_terms_size_raises_the_interval():
    target = {"refId": "A", "query": "*", "timeField": "timestamp",
              "metrics": [{"id": "1", "type": "percentiles", "settings": {"percents": ["50"]},
                           "field": "AvgTicketPrice"}],
              "bucketAggs": [{"id": "3", "type": "terms", "field": "dayOfWeek", "settings": {
                  "min_doc_count": "1", "size": "1000", "order": "desc", "orderBy": "1[50.0]"}},
                  {"type": "date_histogram", "id": "2", "settings": {"interval": "auto"}, "field": "timestamp"}]}
    assert _only(target) == {"aggs": {"3": {"aggs": {
        "1": {"percentiles": {"field": "AvgTicketPrice"}},
        "2": {"aggs": {"1": {"percentiles": {"field": "AvgTicketPrice", "percents": ["50"]}}},
              "date_histogram": {"field": "timestamp", "interval": "5s", "min_doc_count": 0, "format": "epoch_millis",
                                 "extended_bounds": {"min": 1668422437218, "max": 1668422625668}}}},
        "terms": {"field": "dayOfWeek", "size": 1000, "order": {"1[50.0]": "desc"}, "min_doc_count": 1}}},
        "query": QUERY, "size": 0}


def test_daily_index_names_and_intervals():
    ds = query.DataSource("x", "[alerts-]YYYY.MM.DD", interval="Daily")
    start = datetime(2026, 2, 27, 23, tzinfo=UTC)
    assert query.indices(ds, start, start + timedelta(days=2)) == [
        "alerts-2026.02.27", "alerts-2026.02.28", "alerts-2026.03.01"]
    assert [query.format_interval(ms) for ms in (100, 5000, 60_000, 86_400_000, 31_536_000_000)] == [
        "100ms", "5s", "1m", "1d", "1y"]
    with pytest.raises(ValueError, match="unit"):
        query.parse_interval("5 minutes")


def test_template_variables_are_filled_before_the_request():
    target = {"query": "agency.id:$agency AND level:${level}", "bucketAggs": [], "metrics": []}
    assert query.render(target, {"agency": "stc", "level": "high"})["query"] == "agency.id:stc AND level:high"
    assert json.dumps(target).count("$") == 2  # the stored target keeps its variables
