"""docker-compose.yml, deploy/socpipe.compose.yaml, the Dockerfile and the Grafana provisioning agree with the code.

No Docker here: the files are parsed and checked in Python (the structural checks `docker compose config`
would make, and the contracts between the stack and socpipe). Where a `docker compose` CLI exists, it
validates the file too.
"""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

import pytest
import yaml
from conftest import ROOT

from socpipe import kafka_client
from socpipe.cli import build_parser
from socpipe.config import load_config
from socpipe.dev import kafka as dev_kafka
from socpipe.dev import opensearch as dev_opensearch
from socpipe.envelope import ALERTS_TOPIC, DEADLETTER_TOPIC, RAW_TOPICS

COMPOSE = ROOT / "docker-compose.yml"
SOCPIPE_CONFIG = ROOT / "deploy" / "socpipe.compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
DATASOURCES = ROOT / "dashboards" / "provisioning" / "datasources"
CONFIG_IN_CONTAINER = "/etc/socpipe/socpipe.yaml"
SOCPIPE_SERVICES = ("collector", "pipeline")
SECRETS = ("SOCPIPE__KAFKA__SASL_PASSWORD", "SOCPIPE__OPENSEARCH__PASSWORD")
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
def config():
    return load_config(SOCPIPE_CONFIG, environ={})


def interpolate(value: str) -> str:
    """Compose's variable substitution with an empty environment (what `${VAR:-}` gives when VAR is unset)."""
    def replace(match: re.Match) -> str:
        text = match.group(0)
        if text == "$$":
            return "$"
        inner = text[2:-1] if text.startswith("${") else text[1:]
        for operator in (":-", "-"):
            if operator in inner:
                return inner.split(operator, 1)[1]
        return ""
    return INTERPOLATION.sub(replace, value)


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
    assert set(services) == {"kafka", "opensearch", "grafana", "collector", "pipeline"}


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
        check = service.get("healthcheck")
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


def test_config_loads_and_names_the_compose_services(services, config):
    kafka_env = environment(services["kafka"])
    advertised = listeners(kafka_env, "KAFKA_ADVERTISED_LISTENERS")
    protocols = dict(item.split(":") for item in kafka_env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    for server in kafka_client.bootstrap(config).split(","):
        host, port = server.rsplit(":", 1)
        assert host in services, f"bootstrap server {server} is no compose service"
        # clients reconnect to what the broker advertises: the bootstrap address must be one of those
        assert (host, int(port)) in advertised.values(), f"{server} is not advertised by the broker"
        name = next(n for n, address in advertised.items() if address == (host, int(port)))
        assert int(port) in {p for _, p in listeners(kafka_env, "KAFKA_LISTENERS").values()}
        assert protocols[name] == config.get("kafka", "security_protocol")
    node, voter = kafka_env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split("@")
    controller = kafka_env["KAFKA_CONTROLLER_LISTENER_NAMES"]
    assert node == kafka_env["KAFKA_NODE_ID"]
    assert voter == f"kafka:{listeners(kafka_env, 'KAFKA_LISTENERS')[controller][1]}"
    url = urlsplit(config.get("opensearch", "url"))
    assert url.scheme == "http" and url.hostname == "opensearch" and url.port == 9200
    assert {p["target"] for p in published_ports(services["opensearch"])} == {"9200"}
    assert environment(services["opensearch"])["DISABLE_SECURITY_PLUGIN"] == "true"  # hence plain http, no user
    assert config.get("opensearch", "username") is None
    assert config.get("spark", "master") == "local[*]"


def test_topics_are_the_codes(config):
    names = [kafka_client.topic(config, t) for t in (*RAW_TOPICS, ALERTS_TOPIC, DEADLETTER_TOPIC)]
    assert names == ["raw.syslog", "raw.webserver", "raw.windows", "raw.json", "raw.flow", "raw.suricata", "raw.zeek",
                     "alerts", "deadletter"]


def test_kafka_matches_the_dev_server_settings(services):
    env = environment(services["kafka"])
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    for key in ("OFFSETS_TOPIC_REPLICATION_FACTOR", "TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
                "TRANSACTION_STATE_LOG_MIN_ISR", "SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR",
                "SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR", "NUM_PARTITIONS"):
        assert env[f"KAFKA_{key}"] == "1", key
    assert env["KAFKA_HEAP_OPTS"] == f"-Xms{dev_kafka.HEAP} -Xmx{dev_kafka.HEAP}"
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", env["CLUSTER_ID"])
    assert mounts(services["kafka"])[env["KAFKA_LOG_DIRS"]][0] == "kafka-data"
    assert "kafka:29092" in services["kafka"]["healthcheck"]["test"]
    published = listeners(env, "KAFKA_ADVERTISED_LISTENERS")
    host_ports = {(p["host_ip"], int(p["published"])) for p in published_ports(services["kafka"])}
    assert ("127.0.0.1", published["HOST"][1]) in host_ports


def test_opensearch_single_node(services):
    env = environment(services["opensearch"])
    assert env["discovery.type"] == "single-node"
    assert env["cluster.routing.allocation.disk.threshold_enabled"] == "false"
    assert "-Xmx1g" in env["OPENSEARCH_JAVA_OPTS"]
    assert mounts(services["opensearch"])["/usr/share/opensearch/data"][0] == "opensearch-data"


def test_socpipe_containers_share_config_image_and_secrets(services, config):
    for name in SOCPIPE_SERVICES:
        service = services[name]
        assert service["build"] == "." and service["image"] == "socpipe:local"
        assert mounts(service)[CONFIG_IN_CONTAINER] == ("./deploy/socpipe.compose.yaml", True)
        env = environment(service)
        assert set(SECRETS) <= set(env)
        for key, value in env.items():
            if key.startswith("SOCPIPE__") and "PASSWORD" in key:
                assert value == f"${{{key}:-}}", f"{name}: {key} must come from the environment only"
        # what the container sees with nothing set: known settings (unknown ones raise), no secret
        loaded = load_config(SOCPIPE_CONFIG, environ={k: interpolate(v) for k, v in env.items()})
        assert loaded.get("kafka", "sasl_password") is None and loaded.get("opensearch", "password") is None
        assert loaded.data == config.data
    text = SOCPIPE_CONFIG.read_text(encoding="utf-8")
    assert not re.search(r"^\s*(sasl_)?password\s*:", text, re.MULTILINE), "no password in the config file"


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
    assert service["depends_on"]["kafka"]["condition"] == "service_healthy"


def test_pipeline_command(services, config):
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
        "kafka": "service_healthy", "opensearch": "service_healthy"}


def test_grafana_datasource_points_at_opensearch_alerts(services, config):
    grafana = services["grafana"]
    assert mounts(grafana)["/etc/grafana/provisioning"] == ("./dashboards/provisioning", True)
    plugins = environment(grafana).get("GF_PLUGINS_PREINSTALL_SYNC", "") + environment(grafana).get(
        "GF_INSTALL_PLUGINS", "")
    assert "grafana-opensearch-datasource" in plugins
    files = sorted(DATASOURCES.glob("*.y*ml"))
    assert files
    sources = [s for f in files for s in yaml.safe_load(f.read_text(encoding="utf-8"))["datasources"]]
    (source,) = [s for s in sources if s["type"] == "grafana-opensearch-datasource"]
    assert source["url"] == config.get("opensearch", "url")
    assert urlsplit(source["url"]).hostname in services
    assert source["jsonData"]["database"] == f"{config.get('run', 'alerts_index')}-*"
    assert source["jsonData"]["timeField"] == "@timestamp"
    assert source["jsonData"]["version"] == dev_opensearch.VERSION
    from socpipe.search import MAPPINGS

    assert MAPPINGS["alerts"]["properties"]["@timestamp"]["type"] == "date"


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
