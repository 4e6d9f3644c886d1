"""The search store (OpenSearch, Elasticsearch-compatible API): index templates and idempotent writes.

Events go to <events>-YYYY.MM.DD and alerts to <alerts>-YYYY.MM.DD (UTC dates of the event's own time).
Every document has a stable id (the record id of an event, the alert_id of an alert), so writing a
batch again after a crash or a replay overwrites instead of duplicating. Native event fields vary by
source and number in the thousands, so they live in one `flat_object` field: searchable by path
(event.Image, event.EventID) without one mapping entry per field name.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from opensearchpy import OpenSearch
from opensearchpy.exceptions import ConnectionError as SearchConnectionError
from opensearchpy.exceptions import ConnectionTimeout, TransportError
from opensearchpy.helpers import streaming_bulk

from socpipe.config import Config

log = logging.getLogger(__name__)

_KEYWORD = {"type": "keyword"}
_CONTEXT_MAPPING: dict[str, Any] = {
    "@timestamp": {"type": "date"},
    "host": {"properties": {"name": _KEYWORD}},
    "source": {"properties": {"ip": {"type": "ip", "ignore_malformed": True}}},
    "user": {"properties": {"name": _KEYWORD}},
    "agency": {"properties": {"id": _KEYWORD}},
    "system": {"properties": {"id": _KEYWORD, "level": {"type": "integer"}}},
    "event": {"type": "flat_object"},
    "event_meta": {"properties": {"id": _KEYWORD, "kind": _KEYWORD, "origin": _KEYWORD, "record_id": _KEYWORD,
                                  "collector": _KEYWORD, "received_at": {"type": "date"}}},
}
MAPPINGS: dict[str, dict[str, Any]] = {
    "events": {"dynamic": False, "properties": _CONTEXT_MAPPING},
    "alerts": {"dynamic": False, "properties": {
        **_CONTEXT_MAPPING,
        "alert_id": _KEYWORD,
        "rule": {"properties": {"id": _KEYWORD, "level": _KEYWORD, "tags": _KEYWORD,
                                "title": {"type": "text", "fields": {"raw": _KEYWORD}}}},
        "agency": {"properties": {"id": _KEYWORD, "ids": _KEYWORD}},  # ids: every agency of a correlation
        "correlation": {"properties": {  # layer 2's alerts (docs/correlation.md)
            "type": _KEYWORD, "group": {"type": "flat_object"}, "first": {"type": "date"},
            "last": {"type": "date"}, "value": {"type": "double"}, "events_count": {"type": "long"},
            "base_rules": _KEYWORD, "events": _KEYWORD,
            "provisional": {"type": "boolean"}, "withdrawn": {"type": "boolean"}}},  # the stream's early alerts
        "threat": {"properties": {  # a threat-intel match (layers/detect.py): the indicator and what met it
            "indicator": {"properties": {"type": _KEYWORD, "value": _KEYWORD, "confidence": {"type": "integer"},
                                         "id": _KEYWORD, "provider": _KEYWORD}},
            "feed": {"properties": {"name": _KEYWORD}},
            "matched": {"properties": {"field": _KEYWORD, "atomic": _KEYWORD}}}},
    }},
}
# Alerts become searchable within a second; events, many times more numerous, every 5 s (less work).
REFRESH = {"alerts": "1s", "events": "5s"}
MAX_ID_BYTES = 512
RETRY_SECONDS = (1, 2, 5, 10)  # back-off while the store is unreachable; the last value repeats
IMPERSONATE_HEADER = "opendistro_security_impersonate_as"  # the security plugin's REST impersonation


@dataclass(frozen=True)
class Rejected:
    """A document the store refused (not a connection problem): it goes to the dead letters."""

    index: str
    doc_id: str
    reason: str
    source: str


def client(config: Config) -> OpenSearch:
    """The pipeline's client: opensearch.username with its password from SOCPIPE__OPENSEARCH__PASSWORD."""
    return client_as(config, config.get("opensearch", "username"), config.get("opensearch", "password"))


def client_as(config: Config, username: str | None, password: str | None,
              impersonate: str | None = None) -> OpenSearch:
    """A client of the configured store as one user (None: no credentials), trusting opensearch.ca_certs.
    Reading as the signed-in user lets the store's own document-level security (`dev up --secure`: one
    role per agency) hold even where the application's scope check fails. `impersonate`: every request runs
    as that user of the store, with its roles only (the security plugin's REST impersonation, which
    plugins.security.authcz.rest_impersonation_user must allow `username`), so no password of theirs is needed."""
    url = config.get("opensearch", "url")
    if not url:
        raise ValueError("opensearch.url is not set (run `socpipe dev up` and pass --config .socpipe/dev.yaml, "
                         "or set SOCPIPE__OPENSEARCH__URL)")
    auth = (username, password or "") if username else None
    ca = config.path("opensearch", "ca_certs") if config.get("opensearch", "ca_certs") else None
    headers = {IMPERSONATE_HEADER: impersonate} if impersonate else None
    return OpenSearch(url, http_auth=auth, ca_certs=str(ca) if ca else None, timeout=30, headers=headers)


def document_id(record_id: str) -> str:
    """The record id itself (searchable as it is), or its hash when it passes the store's 512-byte limit."""
    if len(record_id.encode()) <= MAX_ID_BYTES:
        return record_id
    return "sha256:" + hashlib.sha256(record_id.encode()).hexdigest()


def index_name(prefix: str, date: str) -> str:
    """prefix-YYYY.MM.DD from an ISO date (YYYY-MM-DD...)."""
    return f"{prefix}-{date[:10].replace('-', '.')}"


def ensure_templates(search: OpenSearch, prefixes: dict[str, str], replicas: int) -> None:
    """Index templates for events and alerts, so every daily index gets the mappings (retried until up)."""
    for kind, prefix in prefixes.items():
        settings = {"number_of_shards": 1, "number_of_replicas": replicas, "refresh_interval": REFRESH[kind]}
        aliases = alias_template(prefix)  # agency aliases (agency_aliases fills it) for indices made later
        _retrying(lambda name=aliases: search.cluster.put_component_template(
            name=name, body={"template": {}}, create=True, ignore=400), "put alias template")
        body = {"index_patterns": [f"{prefix}-*"], "priority": 100, "composed_of": [aliases],
                "template": {"settings": settings, "mappings": MAPPINGS[kind]}}
        _retrying(lambda name=f"socpipe-{kind}", body=body: search.indices.put_index_template(name=name, body=body),
                  "put index template")


def ensure_index(search: OpenSearch, name: str, mappings: dict[str, Any], replicas: int) -> None:
    """One index that is not split by day (incidents, actions), created with its mappings if missing."""
    def create() -> None:
        if not search.indices.exists(index=name):
            body = {"settings": {"number_of_shards": 1, "number_of_replicas": replicas}, "mappings": mappings}
            search.indices.create(index=name, body=body, ignore=400)  # 400: created meanwhile by another writer

    _retrying(create, f"create index {name}")


def write(search: OpenSearch, docs: Iterable[tuple[str, str, str]]) -> list[Rejected]:
    """Index (index, id, JSON source) documents; waits out outages, returns the documents refused."""
    return bulk(search, [{"_op_type": "index", "_index": index, "_id": doc_id, "_source": source}
                         for index, doc_id, source in docs])


def bulk(search: OpenSearch, actions: list[dict[str, Any]]) -> list[Rejected]:
    """Bulk actions (index, or update with a script and an upsert); waits out outages, returns the refused."""
    if not actions:
        return []

    def attempt() -> list[Rejected]:
        rejected = []
        for ok, item in streaming_bulk(search, actions, raise_on_error=False, raise_on_exception=True,
                                       max_retries=5, initial_backoff=1, chunk_size=2000):
            if not ok:
                result = next(iter(item.values()))  # {"index": ...} or {"update": ...}
                error = result.get("error")
                if result.get("status") == 429:  # throttled: a retry decides, not a rejection
                    raise ConnectionTimeout("TIMEOUT", "bulk throttled (429)", error)
                action = next(a for a in actions if a["_id"] == result["_id"])
                source = action.get("_source") or json.dumps(action.get("upsert") or action.get("doc"))
                rejected.append(Rejected(result["_index"], result["_id"], str(error), source))
        return rejected

    return _retrying(attempt, f"bulk write of {len(actions)} documents")


def _retrying(call: Any, what: str) -> Any:
    """Call until the store answers: a stopped store delays the pipeline, it never loses data."""
    for attempt in itertools.count():
        try:
            return call()
        except (SearchConnectionError, ConnectionTimeout) as error:
            wait = RETRY_SECONDS[min(attempt, len(RETRY_SECONDS) - 1)]
            log.warning("search store unreachable during %s (%s); retrying in %s s", what,
                        type(error).__name__, wait)
            time.sleep(wait)
        except TransportError as error:
            if not isinstance(error.status_code, int) or error.status_code < 500:
                raise
            wait = RETRY_SECONDS[min(attempt, len(RETRY_SECONDS) - 1)]
            log.warning("search store error %s during %s; retrying in %s s", error.status_code, what, wait)
            time.sleep(wait)


def alias_template(prefix: str) -> str:
    return f"socpipe-{prefix}-agency-aliases"


def agency_aliases(search: OpenSearch, prefix: str, scopes: dict[str, list[str]]) -> list[str]:
    """Filtered aliases `<prefix>-agency-<id>`, one per agency, over `<prefix>` and `<prefix>-*`: each
    shows only documents whose agency.id is in that agency's scope (itself and its subtree). A component
    template gives the aliases to daily indices created later; existing indices get them now. The
    dashboards' agency data sources and the console read through them. Returns the alias names."""
    aliases = {f"{prefix}-agency-{agency}": {"filter": {"terms": {"agency.id": sorted(ids)}}}
               for agency, ids in scopes.items()}
    _retrying(lambda: search.cluster.put_component_template(
        name=alias_template(prefix), body={"template": {"aliases": aliases}}), "put alias template")
    existing = _retrying(lambda: search.indices.get(index=f"{prefix},{prefix}-*", ignore_unavailable=True,
                                                    allow_no_indices=True), "list indices")
    actions = [{"add": {"index": index, "alias": alias, **body}} for index in existing
               for alias, body in aliases.items()]
    if actions:
        _retrying(lambda: search.indices.update_aliases(body={"actions": actions}), "add aliases")
    return sorted(aliases)
