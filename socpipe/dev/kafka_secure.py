"""The secured dev Kafka (`socpipe dev up --secure`): TLS, SASL/SCRAM-SHA-512, principals and ACLs.

Principals: `admin` (the broker itself and set-up only), `collector` (may write raw.* and deadletter,
nothing else), `pipeline` (the streaming job: reads raw.*, writes alerts and deadletter, creates its
topics) and `notifier` (`socpipe notify`: writes its log of sent messages to `notifications` in its
transactions, with its ledger group; it reads no other topic, since it takes incidents from the search
store). grant_as sets these ACLs for `dev up --secure` and docker-compose's `socpipe deploy grant` alike.
Their passwords are random at each `up`, kept in files only the owner can read (kafka/credentials.json,
and kafka/<role>.env with the SOCPIPE__KAFKA__SASL_PASSWORD line a role's processes need); nothing prints
them. The client listener speaks SASL_SSL with a throwaway CA (socpipe/dev/tls.py); the controller
listener, on 127.0.0.1 inside the same JVM, takes SASL PLAIN from `admin` only. The authorizer denies
whatever no ACL allows.
"""

from __future__ import annotations

import contextlib
import json
import secrets
from pathlib import Path
from typing import Any

from socpipe.dev import tls
from socpipe.envelope import ALERTS_TOPIC, DEADLETTER_TOPIC, RAW_PREFIX, RAW_TOPICS, TRANSACTION_PREFIX

ROLES = ("admin", "collector", "pipeline", "notifier")
# The notifier's topic, and the name of its transactional id and ledger group (alerting/notify_kafka.py TOPIC and
# TRANSACTIONAL_ID; the spine does not import alerting, tests/test_compose.py checks they agree).
NOTIFICATIONS_TOPIC = "notifications"
NOTIFIER_TRANSACTION = "socpipe-notify"
MECHANISM = "SCRAM-SHA-512"
SCRAM_LOGIN = "org.apache.kafka.common.security.scram.ScramLoginModule"
_PLAIN = "org.apache.kafka.common.security.plain.PlainLoginModule"


def prepare(directory: Path, port: int, controller_port: int) -> tuple[dict[str, str], list[str]]:
    """Certificates and passwords for a fresh broker; returns its security properties and the storage
    format arguments that create the SCRAM users."""
    files = tls.make(directory / "tls", "kafka")
    passwords = {role: secrets.token_urlsafe(24) for role in ROLES}
    tls.private(directory / "credentials.json", json.dumps(passwords).encode())
    for role in ROLES:
        tls.private(directory / f"{role}.env", f"SOCPIPE__KAFKA__SASL_PASSWORD={passwords[role]}\n".encode())
    properties = {"listeners": f"SASL_SSL://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
                  "advertised.listeners": f"SASL_SSL://127.0.0.1:{port}",
                  **broker_properties(passwords["admin"], str(files.bundle.resolve()), str(files.ca.resolve()),
                                      ("SASL_SSL",))}
    return properties, scram_arguments(passwords)


def broker_properties(admin: str, keystore: str, truststore: str, listeners: tuple[str, ...]) -> dict[str, str]:
    """A broker's TLS, SASL and authorizer settings: `listeners` are its SASL_SSL listeners' names (the first
    is the inter-broker one), CONTROLLER its controller listener; `admin` is the broker's own password."""
    return {
        "inter.broker.listener.name": listeners[0],
        "listener.security.protocol.map": ",".join(["CONTROLLER:SASL_PLAINTEXT",
                                                    *(f"{n}:SASL_SSL" for n in listeners)]),
        "sasl.enabled.mechanisms": MECHANISM,
        "sasl.mechanism.inter.broker.protocol": MECHANISM,
        **{f"listener.name.{n.lower()}.scram-sha-512.sasl.jaas.config":
           f'{SCRAM_LOGIN} required username="admin" password="{admin}";' for n in listeners},
        # KRaft controllers cannot use SCRAM (its credentials live in the metadata they serve): PLAIN.
        "sasl.mechanism.controller.protocol": "PLAIN",
        "listener.name.controller.sasl.enabled.mechanisms": "PLAIN",
        "listener.name.controller.plain.sasl.jaas.config":
            f'{_PLAIN} required username="admin" password="{admin}" user_admin="{admin}";',
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": keystore,
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": truststore,
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "super.users": "User:admin",
        "allow.everyone.if.no.acl.found": "false",
        "auto.create.topics.enable": "false",
    }


def scram_arguments(passwords: dict[str, str]) -> list[str]:
    """kafka-storage format's arguments that create each role's SCRAM user."""
    return [arg for role in ROLES for arg in ("--add-scram", f"{MECHANISM}=[name={role},password={passwords[role]}]")]


def is_secure(directory: Path) -> bool:
    return (directory / "credentials.json").exists()


def client_settings(directory: Path, role: str) -> dict[str, Any]:
    """The `kafka` configuration section of one role (its password comes from <role>.env)."""
    return {"security_protocol": "SASL_SSL", "ssl_cafile": str((directory / "tls" / "ca.pem").resolve()),
            "sasl_mechanism": MECHANISM, "sasl_username": role}


def python_options(directory: Path, role: str) -> dict[str, Any]:
    """kafka-python keywords for one role, password included (dev set-up and tests only)."""
    password = json.loads((directory / "credentials.json").read_text(encoding="utf-8"))[role]
    return {"security_protocol": "SASL_SSL", "ssl_cafile": str(directory / "tls" / "ca.pem"),
            "sasl_mechanism": MECHANISM, "sasl_plain_username": role, "sasl_plain_password": password}


def environment(directory: Path, role: str) -> dict[str, str]:
    """The environment a role's processes need (its password)."""
    name, _, value = (directory / f"{role}.env").read_text(encoding="utf-8").strip().partition("=")
    return {name: value}


def grant(bootstrap: str, directory: Path, prefix: str = "") -> None:
    """Create socpipe's topics and the ACLs of each role (as admin); idempotent."""
    grant_as(bootstrap, python_options(directory, "admin"), prefix)


def grant_as(bootstrap: str, admin_options: dict[str, Any], prefix: str = "") -> None:
    """As grant, with the admin's kafka-python keywords (TLS and SASL settings, password included)."""
    from kafka import KafkaAdminClient
    from kafka.admin import (
        ACL,
        ACLOperation,
        ACLPermissionType,
        ACLResourcePatternType,
        NewTopic,
        ResourcePattern,
        ResourceType,
    )
    from kafka.errors import TopicAlreadyExistsError

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000, **admin_options)
    try:
        # `notifications` too, so the notifier needs no right to create topics.
        names = [f"{prefix}{t}" for t in (*RAW_TOPICS, ALERTS_TOPIC, DEADLETTER_TOPIC, NOTIFICATIONS_TOPIC)]
        existing = set(admin.list_topics())
        missing = [NewTopic(n, 1, 1) for n in names if n not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # made meanwhile
                admin.create_topics(missing)

        def allow(role: str, kind: ResourceType, name: str, prefixed: bool, *operations: ACLOperation) -> list[ACL]:
            pattern = ResourcePattern(kind, name, ACLResourcePatternType.PREFIXED if prefixed
                                      else ACLResourcePatternType.LITERAL)
            return [ACL(f"User:{role}", "*", op, ACLPermissionType.ALLOW, pattern) for op in operations]

        topic, group = ResourceType.TOPIC, ResourceType.GROUP
        write, read, describe = ACLOperation.WRITE, ACLOperation.READ, ACLOperation.DESCRIBE
        create = ACLOperation.CREATE
        acls = [*allow("collector", topic, f"{prefix}{RAW_PREFIX}", True, write, describe),
                *allow("collector", topic, f"{prefix}{DEADLETTER_TOPIC}", False, write, describe),
                *allow("pipeline", topic, f"{prefix}{RAW_PREFIX}", True, read, describe, create),
                *allow("pipeline", topic, f"{prefix}{ALERTS_TOPIC}", False, write, describe, create),
                *allow("pipeline", topic, f"{prefix}{DEADLETTER_TOPIC}", False, write, describe, create),
                # Spark's Kafka source names its consumer groups spark-kafka-source-*.
                *allow("pipeline", group, "spark-kafka-source", True, read, describe),
                # The job's transactions and their ledger group (layers/stream.py KafkaBatches).
                *allow("pipeline", ResourceType.TRANSACTIONAL_ID, f"{prefix}{TRANSACTION_PREFIX}", True, write,
                       describe),
                *allow("pipeline", group, f"{prefix}{TRANSACTION_PREFIX}", True, read, describe),
                # The notifier's transactions on `notifications`; its ledger is its group's offset on that topic
                # (committed in the transaction: Read on the topic and the group).
                *allow("notifier", topic, f"{prefix}{NOTIFICATIONS_TOPIC}", False, write, describe, read),
                *allow("notifier", ResourceType.TRANSACTIONAL_ID, f"{prefix}{NOTIFIER_TRANSACTION}", False, write,
                       describe),
                *allow("notifier", group, f"{prefix}{NOTIFIER_TRANSACTION}", False, read, describe)]
        result = admin.create_acls(acls)
        if result.get("failed"):
            raise RuntimeError(f"kafka ACLs refused: {result['failed']}")
    finally:
        admin.close()
