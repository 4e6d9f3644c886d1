"""`socpipe dev up --secure`: the search store with the OpenSearch security plugin, run for real. The
pipeline's user writes alerts, events and incidents of every agency through socpipe's own client; an
agency's user reads only its subtree's documents whatever it asks (search with aggregations, count,
msearch, get and mget by id, a query naming another agency); the auditor reads all and writes nothing;
no credentials or wrong ones are refused; no password appears in any output, log or configuration file."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import ROOT
from opensearchpy.exceptions import AuthenticationException, AuthorizationException, NotFoundError

from alerting.incidents import MAPPING as INCIDENTS_MAPPING
from socpipe import search
from socpipe.config import load_config
from socpipe.dev import opensearch_secure
from socpipe.registry import Registry

pytestmark = pytest.mark.slow

REGISTRY = ROOT / "socpipe" / "demo" / "registry.yaml"
AGENCY = "xa-binh-lac"  # took over huyen-binh-lac: its subtree holds the former district's units
OTHER = "phuong-hoa-phong"  # another commune-level unit, outside AGENCY's subtree
DAYS = ("2026.05.01", "2026.05.02")


def _socpipe(home: Path, config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOCPIPE__")}
    return subprocess.run([sys.executable, "-m", "socpipe.cli", "--config", str(config), *args], cwd=home, env=env,
                          capture_output=True, text=True, timeout=600, check=False)


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    """The secured stack, and the documents the pipeline's user wrote into it: {index: {id: agency ids}}."""
    home = tmp_path_factory.mktemp("secure-search")
    base = home / "base.yaml"
    base.write_text(yaml.safe_dump({"dev": {"state_dir": str(home / ".socpipe" / "dev")}, "registry": str(REGISTRY)}))
    up = _socpipe(home, base, "dev", "up", "--secure")
    try:
        assert up.returncode == 0, up.stderr[-3000:]
        yield home, up, _write_as_pipeline(home)
    finally:
        _socpipe(home, base, "dev", "down")


def _directory(home: Path) -> Path:
    return home / ".socpipe" / "dev" / "opensearch"


def _config(home: Path, user: str | None = None):
    """dev up's configuration, as the pipeline reads it: password from the environment only."""
    return load_config(home / ".socpipe" / "dev.yaml", environ=opensearch_secure.environment(_directory(home), user)
                       if user else {})


def _client(home: Path, user: str, password: str | None = None):
    config = _config(home)
    return search.client_as(config, user, opensearch_secure.password(_directory(home), user) if password is None
                            else password)


def _write_as_pipeline(home: Path) -> dict[str, dict[str, list[str]]]:
    config = _config(home, "pipeline")
    assert config.get("opensearch", "username") == "pipeline" and config.get("opensearch", "password")
    client = search.client(config)
    search.ensure_templates(client, {"alerts": "alerts", "events": "events"}, 0)
    search.ensure_index(client, "incidents", INCIDENTS_MAPPING, 0)
    written: dict[str, dict[str, list[str]]] = {}
    docs = []

    def add(index: str, doc_id: str, body: dict) -> None:
        agency = body["agency"]
        written.setdefault(index, {})[doc_id] = [agency["id"]]  # the owner decides who reads it
        docs.append((index, doc_id, json.dumps(body)))

    for agency in sorted(Registry.load(REGISTRY).agencies):
        for day in DAYS:
            stamp = f"{day.replace('.', '-')}T08:00:00Z"
            add(f"alerts-{day}", f"alert-{agency}-{day}", {"@timestamp": stamp, "agency": {"id": agency},
                                                            "rule": {"id": "r1", "level": "high"}})
        add(f"events-{DAYS[0]}", f"event-{agency}", {"@timestamp": "2026-05-01T08:00:00Z", "agency": {"id": agency}})
        add("incidents", f"incident-{agency}", {"agency": {"id": agency}, "state": "open"})
    # A correlation over two agencies, owned by their common ancestor: not shown to either agency's people,
    # since it names the other one.
    add(f"alerts-{DAYS[0]}", "correlation-1", {"@timestamp": "2026-05-01T09:00:00Z",
                                               "agency": {"id": "ankhanh", "ids": ["tt-binh-lac", "phuong-dong-hai"]}})
    assert search.write(client, docs) == []
    client.indices.refresh(index="alerts-*,events-*,incidents")
    return written


def _visible(written: dict[str, dict[str, list[str]]], index_prefix: str, scope: list[str]) -> set[str]:
    return {doc_id for index, docs in written.items() if index.startswith(index_prefix)
            for doc_id, agencies in docs.items() if set(agencies) & set(scope)}


def test_agency_reads_only_its_subtree(secured):
    home, _, written = secured
    scope = Registry.load(REGISTRY).subtree(AGENCY)
    assert len(scope) > 1 and OTHER not in scope
    agency = _client(home, opensearch_secure.agency_user(AGENCY))
    alerts = _visible(written, "alerts-", scope)
    assert "correlation-1" not in alerts and len(alerts) == 2 * len(scope)

    found = agency.search(index="alerts-*", body={"size": 100, "aggs": {"by": {"terms": {"field": "agency.id",
                                                                                          "size": 100}}}})
    assert {h["_id"] for h in found["hits"]["hits"]} == alerts
    assert {b["key"] for b in found["aggregations"]["by"]["buckets"]} == set(scope)
    assert agency.count(index="alerts-*")["count"] == len(alerts)
    assert agency.count(index="incidents")["count"] == len(_visible(written, "incidents", scope)) == len(scope)
    answers = agency.msearch(body=[{"index": "events-*"}, {"size": 100, "query": {"match_all": {}}},
                                   {"index": "alerts-*"}, {"size": 0, "track_total_hits": True}])["responses"]
    assert {h["_id"] for h in answers[0]["hits"]["hits"]} == _visible(written, "events-", scope)
    assert answers[1]["hits"]["total"]["value"] == len(alerts)

    # By id: its own documents, never another agency's.
    own, foreign = f"alert-{AGENCY}-{DAYS[0]}", f"alert-{OTHER}-{DAYS[0]}"
    assert agency.get(index=f"alerts-{DAYS[0]}", id=own)["found"]
    with pytest.raises(NotFoundError):
        agency.get(index=f"alerts-{DAYS[0]}", id=foreign)
    with pytest.raises(NotFoundError):
        agency.get(index="incidents", id=f"incident-{OTHER}")
    docs = agency.mget(index=f"alerts-{DAYS[0]}", body={"ids": [own, foreign]})["docs"]
    assert [d["found"] for d in docs] == [True, False]

    # A query cannot widen the scope: asking for another agency, or for everything, finds nothing more.
    for query in ({"term": {"agency.id": OTHER}}, {"ids": {"values": [foreign]}},
                  {"bool": {"should": [{"match_all": {}}, {"term": {"agency.id": OTHER}}]}}):
        hits = agency.search(index="alerts-*,incidents", body={"size": 100, "query": query})["hits"]["hits"]
        assert not {h["_id"] for h in hits} - alerts - {f"incident-{a}" for a in scope}
    assert agency.count(index="alerts-*", body={"query": {"term": {"agency.id": OTHER}}})["count"] == 0
    # Read-only, and nothing outside alerts, incidents and events.
    with pytest.raises(AuthorizationException):
        agency.index(index=f"alerts-{DAYS[0]}", id=foreign, body={"agency": {"id": AGENCY}})
    with pytest.raises(AuthorizationException):
        agency.search(index=".opendistro_security")

    other = _client(home, opensearch_secure.agency_user(OTHER))
    other_scope = Registry.load(REGISTRY).subtree(OTHER)
    assert {h["_id"] for h in other.search(index="alerts-*", body={"size": 100})["hits"]["hits"]} == _visible(
        written, "alerts-", other_scope)


def test_auditor_soc_and_strangers(secured):
    home, _, written = secured
    total = sum(len(docs) for index, docs in written.items() if index.startswith("alerts-"))
    auditor, soc = _client(home, "auditor"), _client(home, "soc")
    assert auditor.count(index="alerts-*")["count"] == soc.count(index="alerts-*")["count"] == total
    assert auditor.count(index="incidents")["count"] == len(written["incidents"])
    with pytest.raises(AuthorizationException):
        auditor.index(index=f"alerts-{DAYS[0]}", id="forged", body={"agency": {"id": OTHER}})
    with pytest.raises(AuthorizationException):
        auditor.delete(index="incidents", id=f"incident-{OTHER}")
    soc.update(index="incidents", id=f"incident-{OTHER}", body={"doc": {"state": "acknowledged"}})

    anonymous = search.client_as(_config(home), None, None)
    with pytest.raises(AuthenticationException):
        anonymous.count(index="alerts-*")
    for user in ("auditor", "pipeline", opensearch_secure.agency_user(AGENCY)):
        with pytest.raises(AuthenticationException):
            _client(home, user, opensearch_secure.password(_directory(home), user) + "x").count(index="alerts-*")
    with pytest.raises(AuthenticationException):
        _client(home, "admin", opensearch_secure.password(_directory(home), "auditor")).count(index="alerts-*")


def test_no_password_in_outputs_logs_or_configuration(secured, caplog):
    home, up, _ = secured
    caplog.set_level(logging.DEBUG)
    config = _config(home, "pipeline")
    client = search.client(config)
    refused = search.client_as(config, "pipeline", config.get("opensearch", "password") + "-wrong")
    with pytest.raises(AuthenticationException) as error:
        refused.count(index="alerts-*")
    client.count(index="alerts-*")
    passwords = json.loads((_directory(home) / "credentials.json").read_text()).values()
    outputs = [up.stdout, up.stderr, caplog.text, str(error.value), repr(error.value), repr(client), repr(config)]
    secret_stores = {"credentials.json"}
    files = [p for p in (home / ".socpipe").rglob("*") if p.is_file() and p.name not in secret_stores
             and p.suffix != ".env" and "data" not in p.relative_to(home).parts]
    outputs += [p.read_text(errors="replace") for p in files]
    assert any(p.name == "opensearch.log" for p in files) and any(p.name == "internal_users.yml" for p in files)
    assert not [p for p in passwords for text in outputs if p in text]
    print(f"secured search store: no password in {len(outputs)} outputs, logs and configuration files")
