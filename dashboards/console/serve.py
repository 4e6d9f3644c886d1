"""`socpipe serve` and `socpipe users`: the console built from the configuration, served by uvicorn."""

from __future__ import annotations

import argparse
import getpass
import secrets
import sys

from fastapi import APIRouter, FastAPI

from alerting.notify_run import open_state
from dashboards.console.ack_links import ack_router
from dashboards.console.app import create_app, links_app
from dashboards.console.store import IncidentStore
from dashboards.console.users import Users
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
    store = IncidentStore(search.client(config), config.get("incidents", "index"), lake,
                          config.get("opensearch", "replicas"))
    # Without a configured key every start signs new sessions: everyone signs in again after a restart.
    key = config.get("console", "secret_key") or secrets.token_urlsafe(32)
    registry = Registry.load(registry_path) if registry_path else None
    return create_app(store, users_of(config), registry, key,
                      secure_cookies=bool(config.get("console", "tls_certfile")), routers=routers(config, registry))


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
