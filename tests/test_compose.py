"""docker-compose.yml, deploy/, the Dockerfile and the Grafana provisioning agree with the code.

No Docker engine here: the files are parsed and checked in Python (the structural checks `docker compose config`
would make, and the contracts between the secured stack and socpipe: every secret from the environment, the
`init` service's `socpipe deploy secrets` writing exactly the files the servers and clients mount, Grafana's
data sources naming users that exist with the passwords given). `socpipe deploy secrets` runs here for real
into a temporary folder; where the docker-compose CLI exists, it validates the file with and without .env.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import secrets
import shlex
import shutil
import socket
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import bcrypt
import pytest
import yaml
from conftest import ROOT

from alerting.notify_kafka import TOPIC as NOTIFICATIONS
from alerting.notify_kafka import TRANSACTIONAL_ID as NOTIFY_TXN
from alerting.notify_kafka import NotificationLog
from alerting.notify_store import STATE_INDEX
from dashboards.console.read_as import reader as read_as_reader
from dashboards.grafana.dashboards import Settings
from dashboards.grafana.provisioning import export
from socpipe import deploy, kafka_client
from socpipe.cli import build_parser
from socpipe.config import load_config
from socpipe.dev import kafka as dev_kafka
from socpipe.dev import kafka_secure, opensearch_secure, process
from socpipe.dev import opensearch as dev_opensearch
from socpipe.envelope import ALERTS_TOPIC, DEADLETTER_TOPIC, RAW_TOPICS
from socpipe.registry import Registry

COMPOSE = ROOT / "docker-compose.yml"
SOCPIPE_CONFIG = ROOT / "deploy" / "socpipe.compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
ENV_EXAMPLE = ROOT / "deploy" / "compose.env.example"
PROVISIONING = ROOT / "dashboards" / "provisioning"
CONFIG_IN_CONTAINER = "/etc/socpipe/socpipe.yaml"
REGISTRY_IN_CONTAINER = "/etc/socpipe/registry.yaml"
SOCPIPE_SERVICES = ("init", "kafka-setup", "collector", "pipeline", "console", "notifier")
ONE_SHOT = ("init", "kafka-setup")
SECRETS_DIR = "/secrets"  # the init command's DIR
# An environment key holding a secret (a password, the console's session key, the ack links' key).
SECRET_KEY = re.compile(r"PASSWORD|SECRET")
# A required variable: ${NAME:?message}, nothing around it.
REQUIRED = re.compile(r"\$\{([A-Z][A-Z0-9_]*):\?[^}]+\}")
# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?err}, ${NAME?err}, ${NAME:+alt}, ${NAME+alt}; $$ escapes.
INTERPOLATION = re.compile(r"\$\$|\$\{[A-Za-z_][A-Za-z0-9_]*(?:(?::?[-?+])[^}]*)?\}|\$[A-Za-z_][A-Za-z0-9_]*")
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


@pytest.fixture(scope="module")
def config(services):
    """The compose configuration with the registry the init service mounts, as the host sees it."""
    return load_config(SOCPIPE_CONFIG, environ={"SOCPIPE__REGISTRY": str(host_source(services["init"],
                                                                                      REGISTRY_IN_CONTAINER))})


@pytest.fixture(scope="module")
def registry(config):
    return Registry.load(config.path("registry"))


@pytest.fixture(scope="module")
def operator_env() -> dict[str, str]:
    """What an operator's .env holds: every variable of the example, each a fresh random password."""
    return {name: secrets.token_hex(20) for name in example_variables()}


@pytest.fixture(scope="module")
def generated(tmp_path_factory, services, config, operator_env) -> Path:
    """`socpipe deploy secrets` run for real, with the init service's own environment as compose fills it."""
    directory = tmp_path_factory.mktemp("secrets")
    env = {k: compose_value(v, operator_env) for k, v in environment(services["init"]).items()}
    written = deploy.secrets(directory, config, env)
    assert written and all(path.is_file() for path in written)
    return directory


def example_variables() -> list[str]:
    lines = [line for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")]
    assert all(line.endswith("=") for line in lines), "the example holds no value"
    return [line[:-1] for line in lines]


def compose_value(value: str, env: dict[str, str]) -> str:
    """Compose's substitution of a required variable (raises when unset, as compose refuses to start)."""
    return REQUIRED.sub(lambda m: env[m.group(1)], value)


def host_source(service: dict, target: str) -> Path:
    source, _ = mounts(service)[target]
    assert source.startswith("./"), f"{target} is a bind mount of the repository"
    return ROOT / source


def volume_at(service: dict, target: str) -> str:
    source, _ = mounts(service)[target]
    assert not source.startswith((".", "/")), f"{target} is a named volume"
    return source


def in_volume(service: dict, path: str) -> tuple[str, str]:
    """(named volume, path inside it) of a container path under one of the service's volume mounts."""
    for target, (source, _) in sorted(mounts(service).items(), key=lambda item: -len(item[0])):
        if path.startswith(target.rstrip("/") + "/"):
            return source, path[len(target.rstrip("/")) + 1:]
    raise AssertionError(f"{path} is on no volume of the service")


def init_folder(services: dict, volume: str) -> str:
    """The folder of the init command's DIR that a named volume holds."""
    for target, (source, _) in mounts(services["init"]).items():
        if source == volume and target.startswith(SECRETS_DIR + "/"):
            return target[len(SECRETS_DIR) + 1:]
    raise AssertionError(f"init writes nothing into {volume}")


def generated_file(services: dict, generated: Path, service: str, path: str) -> Path:
    """The file `deploy secrets` wrote that `service` sees at `path`: it must exist."""
    volume, inside = in_volume(services[service], path)
    found = generated / init_folder(services, volume) / inside
    assert found.is_file(), f"{service} reads {path}, which init does not write"
    return found


def properties(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text(encoding="utf-8").splitlines() if "=" in line)


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def published_ports(service: dict) -> list[dict]:
    """Short or long port syntax as {host_ip, published, target, protocol}."""
    found = []
    for port in service.get("ports") or []:
        if isinstance(port, dict):
            found.append({"host_ip": port.get("host_ip"), "published": str(port.get("published")),
                          "target": str(port["target"]), "protocol": port.get("protocol", "tcp")})
            continue
        spec, _, protocol = str(port).partition("/")
        parts = spec.rsplit(":", 2)
        host_ip = parts[0] if len(parts) == 3 else None
        published = parts[-2] if len(parts) >= 2 else None
        found.append({"host_ip": host_ip, "published": published, "target": parts[-1], "protocol": protocol or "tcp"})
    return found


def mounts(service: dict) -> dict[str, tuple[str, bool]]:
    """Container path -> (source, read-only) for short and long volume syntax."""
    found = {}
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):
            found[volume["target"]] = (volume.get("source", ""), bool(volume.get("read_only")))
            continue
        source, target, *mode = volume.split(":")
        found[target] = (source, "ro" in (mode[0].split(",") if mode else []))
    return found


def parsed_command(service: dict):
    command = service["command"]
    assert isinstance(command, list), "exec form, so no shell splits or expands the arguments"
    return build_parser().parse_args(command)


def listeners(env: dict[str, str], key: str) -> dict[str, tuple[str, int]]:
    """KAFKA_(ADVERTISED_)LISTENERS as name -> (host, port)."""
    found = {}
    for item in env[key].split(","):
        name, address = item.split("://")
        host, port = address.rsplit(":", 1)
        found[name] = (host, int(port))
    return found


def test_services(services):
    assert set(services) == {"init", "kafka", "kafka-setup", "opensearch", "grafana", "collector", "pipeline",
                             "console", "notifier"}


def test_server_images_are_the_dev_server_versions(services):
    assert services["kafka"]["image"] == f"apache/kafka:{dev_kafka.VERSION}"
    assert services["opensearch"]["image"] == f"opensearchproject/opensearch:{dev_opensearch.VERSION}"
    assert re.fullmatch(r"grafana/grafana(-oss)?:\d+\.\d+\.\d+", services["grafana"]["image"])


def test_every_published_port_binds_loopback(services):
    ports = [(name, port) for name, service in services.items() for port in published_ports(service)]
    assert ports
    for name, port in ports:
        assert port["host_ip"] == "127.0.0.1", f"{name} publishes {port} beyond 127.0.0.1"
        assert port["protocol"] in ("tcp", "udp")
    taken = [(p["host_ip"], p["published"], p["protocol"]) for _, p in ports]
    assert len(taken) == len(set(taken)), "two services publish the same host port"


def test_structure_as_compose_config_checks_it(compose, services):
    assert set(compose) <= {"services", "volumes", "networks", "configs", "secrets", "name", "include"} | {
        k for k in compose if k.startswith("x-")}
    declared = set(compose.get("volumes") or {})
    used_named = set()
    for name, service in services.items():
        assert "image" in service or "build" in service, name
        for dependency, how in (service.get("depends_on") or {}).items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            assert how["condition"] in CONDITIONS
            if how["condition"] == "service_healthy":
                assert "healthcheck" in services[dependency], f"{name} waits for {dependency}'s health"
            if how["condition"] == "service_completed_successfully":
                assert dependency in ONE_SHOT, f"{name} waits for {dependency} to exit, which never does"
        check = service.get("healthcheck")
        if name in ONE_SHOT:
            # runs once and exits 0; restarted, it would run again and again
            assert service["restart"] == "no" and not check, name
        else:
            assert check, f"{name} has no healthcheck"
            assert check["test"][0] in ("CMD", "CMD-SHELL") and len(check["test"]) > 1
            for key in ("interval", "timeout", "start_period"):
                assert re.fullmatch(r"\d+(ms|s|m|h)", str(check.get(key, "1s"))), (name, key)
        for value in environment(service).values():
            assert "$" not in INTERPOLATION.sub("", value), f"{name}: bad variable syntax in {value!r}"
        for target, (source, _) in mounts(service).items():
            assert target.startswith("/")
            if source.startswith((".", "/")):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"
            else:
                used_named.add(source)
        if "build" in service:
            context = service["build"] if isinstance(service["build"], str) else service["build"]["context"]
            assert (ROOT / context / "Dockerfile").is_file()
    assert used_named == declared, "named volumes used and declared differ"
    # no dependency cycle
    order: list[str] = []
    while len(order) < len(services):
        ready = [n for n, s in services.items() if n not in order and set(s.get("depends_on") or {}) <= set(order)]
        assert ready, f"depends_on cycle among {set(services) - set(order)}"
        order += ready


def test_every_secret_comes_from_the_environment(compose, services, config):
    """Every password and key of every container is one required variable of .env: no value, no default, and
    the example .env names exactly the variables the file requires."""
    required = set()
    for name, service in services.items():
        for key, value in environment(service).items():
            if SECRET_KEY.search(key):
                found = REQUIRED.fullmatch(value)
                assert found, f"{name}: {key} must be ${{VAR:?message}} (from .env, never a value or default)"
                required.add(found.group(1))
            else:
                assert not REQUIRED.search(value), f"{name}: {key} interpolates a secret into a non-secret"
    assert required == set(example_variables())
    for service in (*SOCPIPE_SERVICES, "kafka", "opensearch", "grafana"):
        assert "env_file" not in services[service], "each container gets only its own secrets"
    for path in (SOCPIPE_CONFIG, ENV_EXAMPLE, COMPOSE):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"^\s*(sasl_)?password\s*[:=]\s*\S", text, re.MULTILINE), f"a password in {path}"
    for key in (("kafka", "sasl_password"), ("opensearch", "password"), ("console", "secret_key"),
                ("notify", "ack_secret")):
        assert config.get(*key) is None, f"{key} in the compose configuration"
    for ignore in (".gitignore", ".dockerignore"):
        assert ".env" in (ROOT / ignore).read_text(encoding="utf-8").split(), f".env missing from {ignore}"


def test_init_command_is_deploy_secrets_with_every_users_password(services, registry):
    init = services["init"]
    args = parsed_command(init)
    assert (args.command, args.deploy_command) == ("deploy", "secrets")
    assert str(args.config) == CONFIG_IN_CONTAINER and str(args.dir) == SECRETS_DIR
    assert mounts(init)[CONFIG_IN_CONTAINER] == ("./deploy/socpipe.compose.yaml", True)
    assert str(init.get("user")).split(":")[0] == "0", "root, to give each folder to its reader"
    owners = dict(item.split("=") for item in args.owner)
    assert set(owners) == {"kafka", "opensearch"} and all(re.fullmatch(r"\d+:\d+", v) for v in owners.values())
    for folder in ("kafka", "opensearch", "clients"):
        assert not mounts(init)[f"{SECRETS_DIR}/{folder}"][1], "init writes it"
    want = {deploy.variable("kafka", role) for role in kafka_secure.ROLES} | {
        deploy.variable("opensearch", user) for user in deploy.opensearch_users(registry)}
    env = environment(init)
    assert set(env) == want, "init gets the servers' passwords, nothing else"
    assert all(REQUIRED.fullmatch(value).group(1) == key for key, value in env.items())


def test_deploy_secrets_refuses_missing_or_weak_passwords_without_showing_them(tmp_path, config, operator_env,
                                                                                services, capsys):
    env = {k: compose_value(v, operator_env) for k, v in environment(services["init"]).items()}
    weak = {**env, deploy.variable("opensearch", "soc"): "short$1"}
    del weak[deploy.variable("kafka", "collector")]
    with pytest.raises(deploy.DeployError) as error:
        deploy.secrets(tmp_path / "out", config, weak)
    assert deploy.variable("kafka", "collector") in str(error.value)
    weak[deploy.variable("kafka", "collector")] = env[deploy.variable("kafka", "collector")]
    with pytest.raises(deploy.DeployError) as error:
        deploy.secrets(tmp_path / "out", config, weak)
    assert deploy.variable("opensearch", "soc") in str(error.value) and "short$1" not in str(error.value)
    assert not (tmp_path / "out").exists(), "nothing written before every password is there"


def test_kafka_reads_what_init_wrote(services, generated, config, operator_env):
    kafka = services["kafka"]
    command = kafka["command"]
    assert command[:2] == ["/bin/bash", "-c"]
    script = command[2].replace("$$", "$")
    files = [word for word in shlex.split(script.replace("$(cat ", "").replace(")", "")) if word.startswith("/etc/")]
    assert files and all(generated_file(services, generated, "kafka", f) for f in files if not f.endswith(".sh"))
    server = properties(generated_file(services, generated, "kafka", f"{deploy.KAFKA_MOUNT}/server.properties"))
    for key in ("ssl.keystore.location", "ssl.truststore.location"):
        generated_file(services, generated, "kafka", server[key])
    assert volume_at(kafka, server["log.dirs"]) == "kafka-data"
    assert {k: server[k] for k in dev_kafka.SINGLE_NODE} == dev_kafka.SINGLE_NODE
    assert server["allow.everyone.if.no.acl.found"] == "false" and server["auto.create.topics.enable"] == "false"
    # the principals `kafka-storage format` creates, with the passwords of .env
    scram = (generated / "kafka" / "scram.args").read_text(encoding="utf-8").split()
    assert scram == kafka_secure.scram_arguments({r: operator_env[deploy.variable("kafka", r)]
                                                  for r in kafka_secure.ROLES})
    check = kafka["healthcheck"]["test"]
    admin = properties(generated_file(services, generated, "kafka", check[check.index("--command-config") + 1]))
    assert operator_env[deploy.variable("kafka", "admin")] in admin["sasl.jaas.config"]
    # clients reach the broker on an advertised SASL_SSL listener it binds, and trust its CA
    advertised = listeners(server, "advertised.listeners")
    protocols = dict(item.split(":") for item in server["listener.security.protocol.map"].split(","))
    bound = {port for _, port in listeners(server, "listeners").values()}
    for address in kafka_client.bootstrap(config).split(","):
        host, port = address.rsplit(":", 1)
        assert host in services and (host, int(port)) in advertised.values() and int(port) in bound
        name = next(n for n, a in advertised.items() if a == (host, int(port)))
        assert protocols[name] == config.get("kafka", "security_protocol") == "SASL_SSL"
        assert f"{host}:{port}" in check
    host_ports = {(p["host_ip"], int(p["published"]), int(p["target"])) for p in published_ports(kafka)}
    assert ("127.0.0.1", advertised["HOST"][1], advertised["HOST"][1]) in host_ports
    assert config.get("kafka", "sasl_mechanism") == kafka_secure.MECHANISM
    assert environment(kafka)["KAFKA_HEAP_OPTS"] == f"-Xms{dev_kafka.HEAP} -Xmx{dev_kafka.HEAP}"
    assert re.search(r"--cluster-id=[A-Za-z0-9_-]{22}\s", script) and "set -f;" in script


def test_opensearch_reads_what_init_wrote(services, generated, config, registry, operator_env):
    opensearch = services["opensearch"]
    env = environment(opensearch)
    assert "DISABLE_SECURITY_PLUGIN" not in env and env["DISABLE_INSTALL_DEMO_CONFIG"] == "true"
    settings = deploy.opensearch_settings()
    assert {k: env[k] for k in settings} == settings
    config_dir = "/usr/share/opensearch/config"
    for key, value in settings.items():
        if key.endswith("_filepath"):
            generated_file(services, generated, "opensearch", f"{config_dir}/{value}")
    security = Path(deploy.OPENSEARCH_MOUNT)
    assert security.parent.as_posix() == config_dir and security.name == "opensearch-security"
    for name in ("config", "internal_users", "roles", "roles_mapping", "action_groups", "tenants", "nodes_dn",
                 "allowlist", "audit"):
        generated_file(services, generated, "opensearch", f"{security}/{name}.yml")
    users = yaml.safe_load((generated / "opensearch" / "internal_users.yml").read_text(encoding="utf-8"))
    assert set(users) - {"_meta"} == set(deploy.opensearch_users(registry))
    for user in deploy.opensearch_users(registry):
        assert bcrypt.checkpw(operator_env[deploy.variable("opensearch", user)].encode(), users[user]["hash"].encode())
    roles = yaml.safe_load((generated / "opensearch" / "roles.yml").read_text(encoding="utf-8"))
    assert json.loads(roles["socpipe_agency-stc"]["index_permissions"][0]["dls"]) == {
        "terms": {"agency.id": sorted(registry.subtree("stc"))}}
    check = " ".join(opensearch["healthcheck"]["test"])
    for path in re.findall(r"(/usr/share/opensearch/config/\S+)", check):
        generated_file(services, generated, "opensearch", path)
    netrc = (generated / "opensearch" / "health.netrc").read_text(encoding="utf-8").split()
    assert netrc == ["machine", "localhost", "login", "admin", "password",
                     operator_env[deploy.variable("opensearch", "admin")]]
    assert "https://localhost:9200/" in check
    url = urlsplit(config.get("opensearch", "url"))
    assert url.scheme == "https" and url.hostname == "opensearch" and url.port == 9200
    assert {p["target"] for p in published_ports(opensearch)} == {"9200"}
    assert env["discovery.type"] == "single-node"
    assert env["cluster.routing.allocation.disk.threshold_enabled"] == "false"
    assert "-Xmx1g" in env["OPENSEARCH_JAVA_OPTS"]
    assert volume_at(opensearch, "/usr/share/opensearch/data") == "opensearch-data"
    for owner in ("kafka", "opensearch"):
        for path in (generated / owner).rglob("*"):
            if path.is_file() and not path.name.startswith("ca") and not path.name.endswith(".pem"):
                assert path.stat().st_mode & 0o077 == 0, f"{path} readable by others"


def service_config(services, name: str, config, operator_env):
    """The configuration a socpipe container loads: the mounted file and its environment as compose fills it."""
    env = {k: compose_value(v, operator_env) for k, v in environment(services[name]).items()}
    return load_config(SOCPIPE_CONFIG, environ={**env, "SOCPIPE__REGISTRY": str(config.path("registry"))})


def test_socpipe_containers_have_their_own_principals(services, generated, config, operator_env):
    """Each container's Kafka principal and search store user (None: it uses none), with its own password."""
    principals = {"kafka-setup": ("admin", None), "collector": ("collector", None),
                  "pipeline": ("pipeline", "pipeline"), "notifier": ("notifier", "notifier"),
                  "console": (None, "console")}
    assert set(principals) == set(SOCPIPE_SERVICES) - {"init"}
    users = yaml.safe_load((generated / "opensearch" / "internal_users.yml").read_text(encoding="utf-8"))
    for name, (principal, user) in principals.items():
        service = services[name]
        assert service["build"] == "." and service["image"] == "socpipe:local"
        assert mounts(service)[CONFIG_IN_CONTAINER] == ("./deploy/socpipe.compose.yaml", True)
        loaded = service_config(services, name, config, operator_env)
        assert loaded.get("kafka", "sasl_username") == principal
        assert loaded.get("kafka", "sasl_password") == (principal and operator_env[deploy.variable("kafka", principal)])
        for key in ("kafka", "ssl_cafile"), ("opensearch", "ca_certs"):
            generated_file(services, generated, name, config.get(*key))
        store_password = loaded.get("opensearch", "password")
        if user:
            assert loaded.get("opensearch", "username") == user
            assert store_password == operator_env[deploy.variable("opensearch", user)]
            assert bcrypt.checkpw(store_password.encode(), users[user]["hash"].encode()), f"{name}: not {user}'s"
        else:
            assert store_password is None, f"{name} does not use the search store"


def test_collector_command(services, config):
    service = services["collector"]
    args = parsed_command(service)
    assert (args.command, args.collect_command) == ("collect", "syslog")
    assert str(args.config) == CONFIG_IN_CONTAINER
    assert args.bind == "0.0.0.0", "published ports reach the container's interface, not its loopback"
    targets = {(p["target"], p["protocol"]) for p in published_ports(service)}
    assert targets == {(str(args.udp), "udp"), (str(args.tcp), "tcp")}
    assert f"('127.0.0.1', {args.tcp})" in " ".join(service["healthcheck"]["test"])
    state = str(config.get("collect", "state_dir"))
    assert state.startswith("/var/lib/socpipe/") and mounts(service)[state][0] == "socpipe-collect"
    assert config.get("collect", "id"), "a fixed collector id: the container's host name changes"
    assert service["depends_on"]["kafka-setup"]["condition"] == "service_completed_successfully"


def test_pipeline_and_kafka_setup_commands(services, config):
    service = services["pipeline"]
    args = parsed_command(service)
    assert args.command == "run" and not args.once and args.rules is None
    assert str(args.config) == CONFIG_IN_CONTAINER
    volumes = mounts(service)
    for key, volume in ((("lake", "path"), "socpipe-lake"), (("run", "checkpoint_dir"), "socpipe-checkpoints")):
        path = str(config.get(*key))
        assert path.startswith("/var/lib/socpipe/") and volumes[path][0] == volume
    assert service["healthcheck"]["test"][-1].startswith(str(config.get("run", "checkpoint_dir")) + "/")
    assert {k: v["condition"] for k, v in service["depends_on"].items()} == {
        "kafka-setup": "service_completed_successfully", "opensearch": "service_healthy"}
    assert host_source(service, REGISTRY_IN_CONTAINER) == config.path("registry")
    setup = parsed_command(services["kafka-setup"])
    assert (setup.command, setup.deploy_command) == ("deploy", "grant")
    assert services["kafka-setup"]["depends_on"] == {"kafka": {"condition": "service_healthy"}}


def test_console_command_port_and_reads_as_the_signed_in_user(services, generated, config, registry,
                                                              operator_env):
    service = services["console"]
    args = parsed_command(service)
    assert args.command == "serve" and str(args.config) == CONFIG_IN_CONTAINER
    loaded = service_config(services, "console", config, operator_env)
    port = loaded.get("console", "port")
    assert loaded.get("console", "host") == "0.0.0.0", "published ports reach the container's interface"
    assert published_ports(service) == [{"host_ip": "127.0.0.1", "published": str(port), "target": str(port),
                                         "protocol": "tcp"}]
    assert f"http://127.0.0.1:{port}/login" in " ".join(service["healthcheck"]["test"])
    assert {k: v["condition"] for k, v in service["depends_on"].items()} == {
        "init": "service_completed_successfully", "opensearch": "service_healthy"}
    # its session key and the acknowledgement links' key, the notifier's too
    assert loaded.get("console", "secret_key") == operator_env["SOCPIPE_CONSOLE_SECRET_KEY"]
    ack = service_config(services, "notifier", config, operator_env).get("notify", "ack_secret")
    assert loaded.get("notify", "ack_secret") == ack == operator_env["SOCPIPE_NOTIFY_ACK_SECRET"]
    volumes = mounts(service)
    assert in_volume(service, loaded.get("console", "users_file")) == ("socpipe-console", "users.yaml")
    assert not volumes["/var/lib/socpipe/console"][1]
    assert volumes[str(loaded.get("lake", "path"))] == ("socpipe-lake", False), "the action log's table"
    assert host_source(service, REGISTRY_IN_CONTAINER) == config.path("registry")
    # it reads as each signed-in user's own store user, which exists and `console` may impersonate
    read_as = loaded.get("console", "read_as")
    assert read_as == opensearch_secure.READ_AS
    assert read_as_reader(loaded) is not None
    allowed = environment(services["opensearch"])[f"{opensearch_secure.IMPERSONATION_SETTING}.console"].split(",")
    users = yaml.safe_load((generated / "opensearch" / "internal_users.yml").read_text(encoding="utf-8"))
    targets = {read_as[role] for role in read_as if role != "agency"} | {
        read_as["agency"].format(agency=a) for a in registry.agencies}
    for target in targets:
        assert target in users and any(fnmatch.fnmatchcase(target, pattern) for pattern in allowed), target
    assert not [u for u in users if u in ("admin", "pipeline", "notifier", "console")
                and any(fnmatch.fnmatchcase(u, pattern) for pattern in allowed)], "only the users it reads as"


def test_store_lets_only_the_console_impersonate(services):
    """The secured dev node's REST impersonation setting, as the compose node receives it (-E splits lists at
    commas)."""
    env = environment(services["opensearch"])
    found = {k.removeprefix(opensearch_secure.IMPERSONATION_SETTING + "."): v.split(",")
             for k, v in env.items() if k.startswith(opensearch_secure.IMPERSONATION_SETTING)}
    assert found == {user: list(targets) for user, targets in opensearch_secure.IMPERSONATORS.items()}
    assert found == {"console": ["soc", "auditor", "agency-*"]}
    assert deploy.opensearch_settings()[f"{opensearch_secure.IMPERSONATION_SETTING}.console"] == env[
        f"{opensearch_secure.IMPERSONATION_SETTING}.console"]


def test_notifier_command_and_stores(services, generated, config, operator_env):
    service = services["notifier"]
    args = parsed_command(service)
    assert args.command == "notify" and not args.once and args.incidents is None
    assert str(args.config) == CONFIG_IN_CONTAINER
    assert not service.get("ports"), "the notifier listens on nothing"
    assert {k: v["condition"] for k, v in service["depends_on"].items()} == {
        "kafka-setup": "service_completed_successfully", "opensearch": "service_healthy"}
    loaded = service_config(services, "notifier", config, operator_env)
    volumes = mounts(service)
    assert volumes[str(loaded.get("lake", "path"))] == ("socpipe-lake", False), "the action log's table"
    outbox = str(loaded.get("notify", "outbox_dir"))
    assert in_volume(service, outbox)[0] == "socpipe-notify" and not volumes["/var/lib/socpipe/notify"][1]
    assert host_source(service, REGISTRY_IN_CONTAINER) == config.path("registry")
    assert loaded.get("notify", "base_url").endswith(f":{loaded.get('console', 'port')}"), "the console's links"
    # its health check looks for the state index the notifier makes at its start
    check = service["healthcheck"]["test"]
    assert f"index='{STATE_INDEX}'" in check[-1] and f"'{CONFIG_IN_CONTAINER}'" in check[-1]
    # the topic, transactional id and ledger group the broker's ACLs name are the notifier's own
    assert (kafka_secure.NOTIFICATIONS_TOPIC, kafka_secure.NOTIFIER_TRANSACTION) == (NOTIFICATIONS, NOTIFY_TXN)
    assert "notifier" in kafka_secure.ROLES and "notifier" in opensearch_secure.SERVICE_USERS


def test_health_checks_in_python_compile(services):
    for name, service in services.items():
        test = (service.get("healthcheck") or {}).get("test") or []
        if test[1:3] == ["python", "-c"]:
            compile(test[3], f"{name} healthcheck", "exec")


def test_socpipe_volumes_are_folders_the_image_gives_its_user(services):
    """A named volume starts as a copy of the image's folder at its mount point: the non-root socpipe user
    can write it only if the Dockerfile made that folder its own."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    made = {word for line in text.splitlines() if "mkdir -p" in line for word in line.split() if
            word.startswith("/var/lib/socpipe/")}
    assert "chown -R socpipe:socpipe /var/lib/socpipe" in text
    for name in SOCPIPE_SERVICES:
        if name == "init":
            continue  # root
        for target, (source, read_only) in mounts(services[name]).items():
            if not read_only and not source.startswith((".", "/")):
                assert target in made, f"{name}: {source} at {target}, which the image does not make"


@pytest.fixture(scope="module")
def secured_kafka(tmp_path_factory):
    """The secured dev broker alone, as `socpipe dev up --secure` starts it, with the topics and ACLs of
    kafka_secure.grant (the code `socpipe deploy grant` runs in kafka-setup)."""
    directory = tmp_path_factory.mktemp("kafka")
    with socket.socket() as one, socket.socket() as two:
        one.bind(("127.0.0.1", 0))
        two.bind(("127.0.0.1", 0))
        port, controller = one.getsockname()[1], two.getsockname()[1]
    pid_file = directory / "kafka.pid"
    process.start(dev_kafka.prepare(directory, port, controller, secure=True), pid_file, directory / "kafka.log",
                  cwd=directory)
    bootstrap = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.running_pid(pid_file), process.log_tail(directory / "kafka.log")
            try:
                dev_kafka.check(bootstrap, kafka_secure.python_options(directory, "admin"))
                break
            except Exception:
                assert time.monotonic() < deadline, "the secured broker did not answer in 120 s"
                time.sleep(0.5)
        kafka_secure.grant(bootstrap, directory)
        yield bootstrap, directory
    finally:
        process.stop(pid_file)


@pytest.mark.slow
def test_notifier_principal_logs_notifications_and_nothing_else(secured_kafka, tmp_path):
    """The notifier's own code with the `notifier` principal against the secured broker: its messages reach
    `notifications` once, in its transactions; it may not write raw.* or alerts, read anything else, create a
    topic or use another transactional id."""
    from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.admin import NewTopic
    from kafka.errors import KafkaError
    from test_notify_kafka import AGENCIES, add, notifier, topic_records
    from test_notify_servers import T0

    bootstrap, directory = secured_kafka
    path = tmp_path / "notifier.yaml"
    path.write_text(yaml.safe_dump({
        "registry": str(ROOT / "socpipe" / "demo" / "registry.yaml"), "lake": {"path": "lake"},
        "kafka": {"bootstrap_servers": bootstrap, **kafka_secure.client_settings(directory, "notifier")},
        "notify": {"state_path": "state.sqlite", "outbox_dir": "outbox", "route": {"group_wait": 0}}}))
    config = load_config(path, environ=kafka_secure.environment(directory, "notifier"))
    run = notifier(config, NotificationLog(config))
    try:
        add(run, "a")
        assert run.tick(T0).sent == len(AGENCIES)
        assert run.tick(T0 + timedelta(seconds=1)).sent == 0
    finally:
        run.publisher.close()
    admin = load_config(path, environ={"SOCPIPE__KAFKA__SASL_USERNAME": "admin",
                                       "SOCPIPE__KAFKA__SASL_PASSWORD": kafka_secure.python_options(
                                           directory, "admin")["sasl_plain_password"]})
    committed = topic_records(admin, "read_committed")
    assert sorted(k for k, _ in committed) == sorted(n for n, _ in run.store.all("sent"))
    assert len(committed) == len(AGENCIES)

    options = kafka_secure.python_options(directory, "notifier")
    for topic in ("raw.syslog", "alerts", "deadletter"):
        producer = KafkaProducer(bootstrap_servers=bootstrap, max_block_ms=10000, **options)
        try:
            with pytest.raises(KafkaError) as refused:
                producer.send(topic, b"forged").get(timeout=20)
            assert "Authorization" in type(refused.value).__name__, refused.value
        finally:
            producer.close()
    # records there to be read, so a read that finds nothing was refused
    producer = KafkaProducer(bootstrap_servers=bootstrap, **kafka_secure.python_options(directory, "admin"))
    for topic in ("raw.syslog", "alerts"):
        producer.send(topic, b"a record").get(timeout=20)
    producer.close()
    for topic in ("raw.syslog", "alerts"):
        consumer = KafkaConsumer(bootstrap_servers=bootstrap, consumer_timeout_ms=5000, **options)
        try:
            consumer.assign([TopicPartition(topic, 0)])
            try:
                consumer.seek_to_beginning()
                assert [m.value for m in consumer] == [], f"the notifier read {topic}"
            except KafkaError:
                pass  # refused outright
        finally:
            consumer.close()
    client = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000, **options)
    try:
        assert set(client.list_topics()) == {"notifications"}, "it sees only its own topic"
        with pytest.raises(KafkaError) as refused:
            client.create_topics([NewTopic("notifications-2", 1, 1)])
        assert "Authorization" in type(refused.value).__name__, refused.value
    finally:
        client.close()
    other = KafkaProducer(bootstrap_servers=bootstrap, max_block_ms=10000, transactional_id="socpipe-run-forged",
                          **options)
    try:
        with pytest.raises(KafkaError) as refused:
            other.init_transactions()
        assert "Authorization" in type(refused.value).__name__, refused.value
    finally:
        other.close()
    # and the collector may not write the notifier's log
    producer = KafkaProducer(bootstrap_servers=bootstrap, max_block_ms=10000,
                             **kafka_secure.python_options(directory, "collector"))
    try:
        with pytest.raises(KafkaError) as refused:
            producer.send("notifications", b"forged").get(timeout=20)
        assert "Authorization" in type(refused.value).__name__, refused.value
    finally:
        producer.close()


def test_topics_are_the_codes(config):
    names = [kafka_client.topic(config, t) for t in (*RAW_TOPICS, ALERTS_TOPIC, DEADLETTER_TOPIC)]
    assert names == ["raw.syslog", "raw.webserver", "raw.windows", "raw.json", "raw.flow", "raw.suricata", "raw.zeek",
                     "alerts", "deadletter"]


def test_grafana_data_sources_are_the_export_and_their_users_exist(services, generated, config, registry,
                                                                   operator_env, tmp_path):
    grafana = services["grafana"]
    assert mounts(grafana)["/etc/grafana/provisioning"] == ("./dashboards/provisioning", True)
    env = environment(grafana)
    assert "grafana-opensearch-datasource" in env.get("GF_PLUGINS_PREINSTALL_SYNC", "")
    # the committed files are `socpipe dashboards export` of the compose configuration, byte for byte
    export(tmp_path, Settings.from_config(config), registry, datetime.now(UTC).date(),
           config.get("grafana", "opensearch_url"), config.get("grafana", "folder"),
           config.get("grafana", "opensearch_ca_file"))
    fresh = {p.relative_to(tmp_path): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    committed = {p.relative_to(PROVISIONING): p.read_bytes() for p in PROVISIONING.rglob("*") if p.is_file()}
    assert committed == fresh, "run `socpipe --config deploy/socpipe.compose.yaml dashboards export " \
                               "dashboards/provisioning` (README, With Docker)"
    (provider,) = yaml.safe_load((PROVISIONING / "dashboards" / "socpipe.yaml").read_text())["providers"]
    assert (PROVISIONING / provider["options"]["path"].removeprefix("/etc/grafana/provisioning/")).is_dir()
    sources = yaml.safe_load((PROVISIONING / "datasources" / "socpipe.yaml").read_text())["datasources"]
    users = yaml.safe_load((generated / "opensearch" / "internal_users.yml").read_text(encoding="utf-8"))
    roles = {u for s in sources if (u := s["basicAuthUser"])}
    assert {"soc", "auditor"} <= roles and len(roles) > 2
    for source in sources:
        assert source["url"] == config.get("opensearch", "url").rstrip("/") == "https://opensearch:9200"
        user = source["basicAuthUser"]
        assert user in users and user not in ("admin", "pipeline"), f"{source['name']}: unknown or too mighty"
        variable = source["secureJsonData"]["basicAuthPassword"].removeprefix("$")
        given = compose_value(env[variable], operator_env)  # Grafana's container gets it from .env
        assert bcrypt.checkpw(given.encode(), users[user]["hash"].encode()), f"{variable} is not {user}'s password"
        ca = re.fullmatch(r"\$__file\{(.+)\}", source["secureJsonData"]["tlsCACert"]).group(1)
        assert source["jsonData"]["tlsAuthWithCACert"] is True
        assert generated_file(services, generated, "grafana", ca).read_bytes() == (
            generated / "opensearch" / "ca.pem").read_bytes()
        assert source["jsonData"]["version"] == dev_opensearch.VERSION
    assert set(k for k in env if k.startswith("SOCPIPE_GRAFANA_")) == {
        s["secureJsonData"]["basicAuthPassword"].removeprefix("$") for s in sources}, "exactly the users it uses"
    assert REQUIRED.fullmatch(env["GF_SECURITY_ADMIN_PASSWORD"])


@pytest.mark.skipif(not shutil.which("docker-compose"), reason="no docker-compose CLI")
def test_docker_compose_config_validates_with_env_and_refuses_without(tmp_path, operator_env):
    env_file = tmp_path / ".env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in operator_env.items()), encoding="utf-8")
    base = ["docker-compose", "--project-directory", str(ROOT), "-f", str(COMPOSE)]
    ok = subprocess.run([*base, "--env-file", str(env_file), "config"], capture_output=True, text=True, timeout=120,
                        check=False)
    assert ok.returncode == 0, ok.stderr
    resolved = yaml.safe_load(ok.stdout)["services"]
    assert resolved["collector"]["environment"]["SOCPIPE__KAFKA__SASL_PASSWORD"] == operator_env[
        "SOCPIPE_KAFKA_COLLECTOR_PASSWORD"]
    empty = tmp_path / "empty.env"
    empty.write_text("".join(f"{k}=\n" for k in operator_env), encoding="utf-8")
    refused = subprocess.run([*base, "--env-file", str(empty), "config", "--quiet"], capture_output=True, text=True,
                             timeout=120, check=False)
    assert refused.returncode != 0 and "set it in .env" in refused.stderr

def test_dockerfile():
    text = DOCKERFILE.read_text(encoding="utf-8")
    instructions = [line for line in re.sub(r"\\\n", " ", text).splitlines() if line and not line.startswith("#")]
    assert instructions[0] == "FROM python:3.11-slim-bookworm"
    run = " ".join(line for line in instructions if line.startswith("RUN"))
    assert "openjdk-17-jre-headless" in run and "maven" in run
    assert re.search(r"pip install /src\b", run) and "pip install -e" not in run
    assert "from socpipe.spark import kafka_connector_jars; kafka_connector_jars()" in run
    users = [line.split()[1] for line in instructions if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    (entrypoint,) = [line for line in instructions if line.startswith("ENTRYPOINT ")]
    assert json.loads(entrypoint.split(" ", 1)[1]) == ["socpipe"]
    ignored = set((ROOT / ".dockerignore").read_text(encoding="utf-8").split())
    assert {".venv", ".socpipe", "demo-out", ".git"} <= ignored


def test_readme_names_how_the_stack_is_checked():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "tests/test_compose.py" in readme and "docker compose up -d" in readme


def test_deploy_secrets_command_prints_no_password(tmp_path, services, config, operator_env, monkeypatch, capsys):
    from socpipe.cli import main

    env = {k: compose_value(v, operator_env) for k, v in environment(services["init"]).items()}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("SOCPIPE__REGISTRY", str(config.path("registry")))
    owner = f"{os.getuid()}:{os.getgid()}"
    args = ["--config", str(SOCPIPE_CONFIG), "deploy", "secrets", str(tmp_path / "out"), "--owner", f"kafka={owner}"]
    assert main(args) == 0
    assert (tmp_path / "out" / "kafka" / "server.properties").stat().st_uid == os.getuid()
    monkeypatch.delenv(deploy.variable("opensearch", "auditor"))
    assert main(args) == 2
    output = capsys.readouterr()
    assert deploy.variable("opensearch", "auditor") in output.err
    assert not [v for v in env.values() if v in output.out + output.err]
