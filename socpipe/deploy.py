"""`socpipe deploy secrets DIR` and `socpipe deploy grant`: the secured docker-compose stack's certificates,
server security settings and Kafka ACLs, made by the code of `socpipe dev up --secure` (socpipe/dev/).

Passwords come from the environment only (docker-compose.yml passes them from the operator's .env, see
deploy/compose.env.example): SOCPIPE_KAFKA_<ROLE>_PASSWORD for the Kafka principals (admin, collector,
pipeline, notifier) and SOCPIPE_OPENSEARCH_<USER>_PASSWORD for the search store's users (admin, pipeline,
soc, auditor, console, notifier and agency-<id> for each agency of the registry; <USER> upper-cased, "-" as
"_"). DIR gets one folder per container that mounts it:
- kafka/ (the broker, at KAFKA_MOUNT): tls/ (CA, certificate and key), server.properties, scram.args
  (kafka-storage format's arguments that create the SCRAM users) and admin.properties (its health check);
- opensearch/ (the search store's config/opensearch-security): the security plugin's YAML (users as bcrypt
  hashes, roles with document-level security per agency, role mappings, config), the node's certificate,
  key and CA, and health.netrc (its health check's user);
- clients/ (the socpipe containers and Grafana): the two CA certificates, public.
Certificates are made once (kept when DIR has them, so running servers stay trusted); the rest is written
again at every run. Both servers read their users on their first start only: to change a password later,
use their own tools (kafka-configs, securityadmin) or start a fresh stack (`docker compose down -v`).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

from socpipe import kafka_client
from socpipe.config import Config
from socpipe.dev import kafka, kafka_secure, opensearch_secure, tls
from socpipe.registry import Registry

# Where each folder of DIR is mounted (docker-compose.yml; tests/test_compose.py checks they agree).
KAFKA_MOUNT = "/etc/kafka/socpipe"
OPENSEARCH_MOUNT = "/usr/share/opensearch/config/opensearch-security"
CLIENTS_MOUNT = "/etc/socpipe/tls"
KAFKA_DATA = "/var/lib/kafka/data"
# The broker's listeners: INTERNAL for the other containers, HOST published on the host's 127.0.0.1, and the
# controller inside the same JVM.
KAFKA_LISTENERS = {"INTERNAL": ("", 29092, "kafka"), "HOST": ("", 9092, "127.0.0.1")}
KAFKA_CONTROLLER = 9093
CERT_DAYS = 825  # the longest validity clients commonly accept for a server certificate
# Letters, digits and -._~+/ only: the passwords go into kafka-storage's --add-scram and JAAS lines unquoted.
PASSWORD = re.compile(r"[A-Za-z0-9._~+/-]{16,}")


class DeployError(Exception):
    """A variable missing or unusable: the message names variables, never values."""


def variable(service: str, user: str) -> str:
    """The environment variable holding one user's password, e.g. SOCPIPE_OPENSEARCH_AGENCY_STC_PASSWORD."""
    return f"SOCPIPE_{service.upper()}_{user.upper().replace('-', '_')}_PASSWORD"


def opensearch_users(registry: Registry | None) -> list[str]:
    return [*opensearch_secure.SERVICE_USERS,
            *(opensearch_secure.agency_user(a) for a in sorted(registry.agencies) if registry)]


def passwords(service: str, users: list[str], environ: Mapping[str, str]) -> dict[str, str]:
    missing = [variable(service, u) for u in users if not environ.get(variable(service, u))]
    if missing:
        raise DeployError(f"not set: {', '.join(missing)}")
    bad = [variable(service, u) for u in users if not PASSWORD.fullmatch(environ[variable(service, u)])]
    if bad:
        raise DeployError(f"each password needs 16 or more of A-Z a-z 0-9 -._~+/ (e.g. `openssl rand -hex 24`): "
                          f"{', '.join(bad)}")
    return {u: environ[variable(service, u)] for u in users}


def opensearch_settings() -> dict[str, str]:
    """The search store's node settings (docker-compose.yml's environment of the opensearch service): the
    secured dev node's (opensearch_secure.node_settings, REST impersonation included), paths relative to its
    config folder, where OPENSEARCH_MOUNT is, and each value as the image's entrypoint passes it to `-E`
    (a list comma-separated, which the node splits again)."""
    folder = Path(OPENSEARCH_MOUNT).name
    settings = opensearch_secure.node_settings(f"{folder}/opensearch.pem", f"{folder}/opensearch-key.pem",
                                               f"{folder}/ca.pem")
    return {key: _setting(value) for key, value in settings.items()}


def _setting(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple)):
        if any("," in item for item in value):
            raise ValueError(f"{value}: the node would split an item at its comma")
        return ",".join(value)
    return str(value)


def kafka_properties(admin: str) -> dict[str, str]:
    """The broker's server.properties: the dev broker's single-node and security settings, compose's
    listeners."""
    bind = [f"{name}://{host}:{port}" for name, (host, port, _) in KAFKA_LISTENERS.items()]
    return {**kafka.SINGLE_NODE,
            "controller.quorum.bootstrap.servers": f"127.0.0.1:{KAFKA_CONTROLLER}",
            "listeners": ",".join([*bind, f"CONTROLLER://127.0.0.1:{KAFKA_CONTROLLER}"]),
            "advertised.listeners": ",".join(f"{n}://{a}:{p}" for n, (_, p, a) in KAFKA_LISTENERS.items()),
            "log.dirs": KAFKA_DATA,
            **kafka_secure.broker_properties(admin, f"{KAFKA_MOUNT}/tls/kafka-bundle.pem",
                                             f"{KAFKA_MOUNT}/tls/ca.pem", tuple(KAFKA_LISTENERS))}


def secrets(directory: Path, config: Config, environ: Mapping[str, str],
            owners: Mapping[str, tuple[int, int]] | None = None) -> list[Path]:
    """Write DIR's folders (owners: folder name -> uid, gid of the container that reads it; needs root);
    returns the files written."""
    registry = Registry.load(config.path("registry")) if config.get("registry") else None
    broker = passwords("kafka", list(kafka_secure.ROLES), environ)
    store = passwords("opensearch", opensearch_users(registry), environ)
    written = [*_kafka(directory / "kafka", broker), *_opensearch(directory / "opensearch", config, registry, store)]
    clients = directory / "clients"
    clients.mkdir(parents=True, exist_ok=True)
    for name, ca in (("kafka", directory / "kafka" / "tls" / "ca.pem"), ("opensearch", directory / "opensearch" /
                                                                         "ca.pem")):
        written.append(Path(shutil.copyfile(ca, clients / f"{name}-ca.pem")))
        written[-1].chmod(0o644)
    for folder, (uid, gid) in (owners or {}).items():
        for path in [directory / folder, *(directory / folder).rglob("*")]:
            os.chown(path, uid, gid)
    return written


def _kafka(folder: Path, broker: dict[str, str]) -> list[Path]:
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not (folder / "tls" / "ca.pem").exists():
        tls.make(folder / "tls", "kafka", CERT_DAYS)
    admin = broker["admin"]
    client = {"security.protocol": "SASL_SSL", "sasl.mechanism": kafka_secure.MECHANISM,
              "sasl.jaas.config": f'{kafka_secure.SCRAM_LOGIN} required username="admin" password="{admin}";',
              "ssl.truststore.type": "PEM", "ssl.truststore.location": f"{KAFKA_MOUNT}/tls/ca.pem"}
    files = {"server.properties": _properties(kafka_properties(admin)), "admin.properties": _properties(client),
             "scram.args": " ".join(kafka_secure.scram_arguments(broker)) + "\n"}
    for name, text in files.items():
        tls.private(folder / name, text.encode())
    return [*sorted((folder / "tls").iterdir()), *(folder / name for name in files)]


def _opensearch(folder: Path, config: Config, registry: Registry | None, store: dict[str, str]) -> list[Path]:
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not (folder / "ca.pem").exists():
        tls.make(folder, "opensearch", CERT_DAYS)
        (folder / "opensearch-bundle.pem").unlink()  # Kafka's keystore form; the node reads cert and key
    written = [folder / n for n in ("ca.pem", "opensearch.pem", "opensearch-key.pem")]
    for name, body in opensearch_secure._security_config(config, registry, store).items():  # noqa: SLF001
        tls.private(folder / f"{name}.yml", json.dumps(body, ensure_ascii=False, indent=1).encode())  # JSON is YAML
        written.append(folder / f"{name}.yml")
    tls.private(folder / "health.netrc", f"machine localhost login admin password {store['admin']}\n".encode())
    return [*written, folder / "health.netrc"]


def _properties(values: Mapping[str, str]) -> str:
    return "".join(f"{k}={v}\n" for k, v in values.items())


def grant(config: Config) -> None:
    """Create socpipe's topics and each principal's ACLs, as the configured (admin) user."""
    options = kafka_client.python_options(config)
    kafka_secure.grant_as(",".join(options.pop("bootstrap_servers")), options, config.get("kafka", "topic_prefix"))


def run(args: argparse.Namespace, config: Config) -> int:
    if args.deploy_command == "grant":
        grant(config)
        print("kafka topics and ACLs in place")
        return 0
    try:
        owners = {}
        for item in args.owner:
            folder, _, ids = item.partition("=")
            uid, _, gid = ids.partition(":")
            owners[folder] = (int(uid), int(gid or uid))
        files = secrets(args.dir, config, os.environ, owners)
    except (DeployError, ValueError) as error:
        print(f"deploy secrets: {error}", file=sys.stderr)
        return 2
    print(f"wrote {len(files)} files under {args.dir}")
    return 0
