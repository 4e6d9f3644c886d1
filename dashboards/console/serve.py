"""`socpipe serve` and `socpipe users`: the console built from the configuration, served by uvicorn."""

from __future__ import annotations

import argparse
import functools
import getpass
import secrets
import sys

from fastapi import APIRouter, FastAPI
from opensearchpy import OpenSearch

from alerting.notify_run import open_state
from dashboards.console import oidc, read_as, rule_book
from dashboards.console.ack_links import ack_router
from dashboards.console.app import create_app, links_app
from dashboards.console.store import IncidentStore
from dashboards.console.suppress import Tuning
from dashboards.console.users import Users
from rules.compiler import load_rules
from socpipe import search
from socpipe.config import Config
from socpipe.registry import Registry


def users_of(config: Config) -> Users:
    path = config.path("console", "users_file")
    assert path is not None
    return Users(path)


def build(config: Config) -> FastAPI:
    registry_path = config.path("registry")
    if not config.get("opensearch", "url"):  # the embedded default: `socpipe notify` keeps its state in SQLite
        print("no search store (opensearch.url): serving the acknowledgement links only, not the console",
              file=sys.stderr)
        return links_app(routers(config, Registry.load(registry_path) if registry_path else None))
    lake = config.path("lake", "path")
    assert lake is not None
    client = search.client(config)
    store = IncidentStore(client, config.get("incidents", "index"), lake, config.get("opensearch", "replicas"),
                          alerts=config.get("run", "alerts_index"),
                          saved_filters=config.get("console", "saved_filters_index"),
                          events=config.get("run", "events_index"), read_as=read_as.reader(config))
    # Without a configured key every start signs new sessions: everyone signs in again after a restart.
    key = config.get("console", "secret_key") or secrets.token_urlsafe(32)
    registry = Registry.load(registry_path) if registry_path else None
    if registry is not None and registry.agencies:
        names = agency_aliases(client, registry, [config.get("run", "alerts_index"), config.get("incidents", "index")])
        print(f"{len(names)} per-agency filtered aliases ({names[0]} ...)", file=sys.stderr)
    return create_app(store, users_of(config), registry, key,
                      secure_cookies=bool(config.get("console", "tls_certfile")), routers=routers(config, registry),
                      tuning=tuning_of(config), sign_on=oidc.settings(config),
                      rules=rule_book.book(lambda: config.rule_paths), deadlines=config.get("audit", "deadlines"),
                      reports_dir=config.path("audit", "out"))


def agency_aliases(client: OpenSearch, registry: Registry, prefixes: list[str]) -> list[str]:
    """`<prefix>-agency-<id>` over each agency's subtree, for tools outside the console (Grafana): made (again)
    at every start of `socpipe serve`, so agencies added to the registry get theirs."""
    scopes = {agency: registry.subtree(agency) for agency in registry.agencies}
    return [name for prefix in prefixes for name in search.agency_aliases(client, prefix, scopes)]


def tuning_of(config: Config) -> Tuning:
    """The tuning folder, and the rules' log sources (compiled once, on the first suppression)."""
    @functools.cache
    def logsources() -> dict[str, tuple[str | None, str | None, str | None]]:
        ruleset = load_rules(config.rule_paths, config.get("rules", "placeholders"), config.rule_cache_dir)
        return {rule.id: rule.logsource for rule in ruleset.rules}

    return Tuning(config.path("console", "tuning_dir"), bool(config.get("console", "tuning_git")),
                  lambda rule_id: logsources().get(rule_id))


def routers(config: Config, registry: Registry | None) -> list[APIRouter]:
    """What other parts add to the console: the acknowledgement links and webhook replies, acting on the
    state `socpipe notify` keeps (the same store, so the scheduler sees an acknowledgement at its next tick)."""
    store, actions = open_state(config)
    return [ack_router(store, actions, config.get("notify", "ack_secret"), registry)]


def serve(config: Config) -> int:
    import uvicorn

    certfile, keyfile = config.path("console", "tls_certfile"), config.path("console", "tls_keyfile")
    uvicorn.run(build(config), host=config.get("console", "host"), port=config.get("console", "port"),
                ssl_certfile=str(certfile) if certfile else None, ssl_keyfile=str(keyfile) if keyfile else None,
                log_level="info")
    return 0


def users(args: argparse.Namespace, config: Config) -> int:
    accounts = users_of(config)
    try:
        if args.users_command == "disable":
            accounts.disable(args.name)
        else:
            password = args.password or getpass.getpass(f"password for {args.name}: ")
            if args.users_command == "add":
                accounts.add(args.name, password, args.role, args.agency, args.language)
            else:
                accounts.passwd(args.name, password)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{args.users_command}: {args.name} ({accounts.path})")
    return 0
