"""One YAML configuration, every knob named and defaulted here, overridable from the environment.

Environment overrides use SOCPIPE__<SECTION>__<KEY> (double underscores separate levels; the value is
read as YAML, except passwords, which are taken as they are), e.g. SOCPIPE__SPARK__MASTER=local[2].
Secrets belong in the environment, never in files under version control, and are never printed.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from enrich.normalise import HostHint

ENV_PREFIX = "SOCPIPE__"
# Settings taken from the environment verbatim: "0123", "yes" or "*x" stay the strings they are.
SECRET_KEYS = frozenset({"password", "sasl_password", "token"})

DEFAULTS: dict[str, Any] = {
    "rules": {
        # Rule files or folders (Sigma YAML) loaded besides the starter pack.
        "paths": [],
        # Values for `expand` placeholders: name -> list of values. A rule using a name not listed
        # here fails to compile and is reported.
        "placeholders": {},
        # Load the starter pack shipped in rules/starter.
        "starter_pack": True,
    },
    # Agency registry YAML (agencies, information systems); none: no agency/system on events.
    "registry": None,
    # Host hints for sources whose records do not name their host: [{path: GLOB, host: NAME}].
    "hints": [],
    "spark": {
        # Spark master URL; local mode on every core by default.
        "master": "local[*]",
        # Extra Spark settings, e.g. {"spark.driver.memory": "4g"}.
        "conf": {},
    },
    "detect": {
        # Events per Parquet file of the staged lake (also the unit of Spark parallelism).
        "events_per_file": 50000,
        # Year given to RFC 3164 syslog timestamps, which carry none (default: the current year).
        "syslog_year": None,
    },
    "kafka": {
        # Bootstrap servers, host:port[,host:port]; none: no Kafka (`socpipe dev up` writes a ready value).
        "bootstrap_servers": None,
        # Prepended to every topic name (raw.*, alerts, deadletter), so several pipelines can share a cluster.
        "topic_prefix": "",
        # PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.
        "security_protocol": "PLAINTEXT",
        # TLS: CA bundle to trust, and a client certificate and key when the brokers ask for one.
        "ssl_cafile": None,
        "ssl_certfile": None,
        "ssl_keyfile": None,
        # SASL: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512; the password belongs in SOCPIPE__KAFKA__SASL_PASSWORD.
        "sasl_mechanism": None,
        "sasl_username": None,
        "sasl_password": None,
    },
    "opensearch": {
        # Base URL of the search store; none: no search store (`socpipe dev up` writes a ready value).
        "url": None,
        # Basic-auth user; the password belongs in SOCPIPE__OPENSEARCH__PASSWORD.
        "username": None,
        "password": None,
        # CA bundle for an https URL (none: the system's trust store).
        "ca_certs": None,
        # Replicas of every index: 0 for one node, 1 or more on a cluster.
        "replicas": 0,
    },
    # The Parquet lake of events (date/kind partitions) that `socpipe run` appends to.
    "lake": {
        "path": ".socpipe/lake",
    },
    "collect": {
        # This collector's id, stamped on every record (none: the machine's host name).
        "id": None,
        # Where offsets of tailed files and the spool live.
        "state_dir": ".socpipe/collect",
        # Records waiting on disk while Kafka is unreachable, at most this many bytes; beyond it new
        # records are dropped and counted, loudly.
        "spool_max_bytes": 1073741824,
        # How often a tailed file is checked for new lines and rotation, in seconds.
        "poll_seconds": 0.5,
        # Agency hints: [{sender: CIDR, agency: ID}] for syslog senders, [{path: GLOB, agency: ID}] for files.
        "agency_hints": [],
    },
    "run": {
        # Structured Streaming checkpoints (Kafka offsets and the sink ledger): keep them to resume.
        "checkpoint_dir": ".socpipe/checkpoints",
        # Micro-batch interval in seconds.
        "trigger_seconds": 1.0,
        # A failed query (e.g. Kafka away longer than its clients wait) starts again from its checkpoint
        # after this many seconds.
        "restart_seconds": 10.0,
        # At most this many Kafka records per micro-batch, so a backlog drains in bounded steps.
        "max_records_per_batch": 50000,
        # Index name prefixes in OpenSearch: <prefix>-YYYY.MM.DD.
        "events_index": "events",
        "alerts_index": "alerts",
    },
    "dev": {
        # `socpipe dev`: where configs, data, logs and pid files of the local servers live.
        "state_dir": ".socpipe/dev",
        # Ports on 127.0.0.1; 0 picks a free one.
        "kafka_port": 0,
        "opensearch_port": 0,
    },
    "grafana": {
        # Grafana's base URL for `socpipe dashboards push` (none: pass --url).
        "url": None,
        # Service-account token for `dashboards push`: only from SOCPIPE__GRAFANA__TOKEN, never a file.
        "token": None,
        # Folder (uid and title) the dashboards go to, provisioned or pushed.
        "folder": "socpipe",
        # The search store as Grafana reaches it, written into the provisioned data sources.
        "opensearch_url": "http://opensearch:9200",
        # The incidents index (docs/records.md) the incident panels read.
        "incidents_index": "incidents",
        # Deadlines in seconds to acknowledge and to close an incident, by level (auditor dashboard).
        "ack_deadline_seconds": {"critical": 900, "high": 3600, "medium": 14400, "low": 86400,
                                 "informational": 259200},
        "close_deadline_seconds": {"critical": 86400, "high": 259200, "medium": 604800, "low": 1209600,
                                   "informational": 2592000},
    },
}


@dataclass(frozen=True)
class Config:
    data: dict[str, Any]
    base_dir: Path

    def __repr__(self) -> str:
        return f"Config(base_dir={str(self.base_dir)!r})"  # never the values: some are secrets

    def get(self, *keys: str) -> Any:
        value: Any = self.data
        for key in keys:
            value = value[key]
        return value

    def path(self, *keys: str) -> Path | None:
        """A configured path, relative paths taken from the config file's folder."""
        value = self.get(*keys)
        return None if value is None else (self.base_dir / value).resolve()

    @property
    def hints(self) -> tuple[HostHint, ...]:
        return tuple(HostHint(str(self.base_dir / h["path"]), h["host"]) for h in self.get("hints"))

    @property
    def rule_paths(self) -> list[Path]:
        paths = [(self.base_dir / p).resolve() for p in self.get("rules", "paths")]
        if self.get("rules", "starter_pack"):
            paths.insert(0, STARTER_PACK)
        return paths


STARTER_PACK = Path(__file__).resolve().parent.parent / "rules" / "starter"


def load_config(path: Path | None = None, environ: dict[str, str] | None = None) -> Config:
    """Defaults, then the YAML file (if any), then SOCPIPE__* environment variables."""
    data = copy.deepcopy(DEFAULTS)
    base_dir = Path.cwd()
    if path is not None:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(loaded, dict):
            raise ValueError(f"{path}: the configuration must be a mapping")
        _merge(data, loaded, where=str(path))
        base_dir = path.resolve().parent
    for name, raw in (os.environ if environ is None else environ).items():
        if name.startswith(ENV_PREFIX):
            keys = name[len(ENV_PREFIX):].lower().split("__")
            # A password is never reinterpreted; an empty one (`${VAR:-}` in compose files) means none.
            value = (raw or None) if keys[-1] in SECRET_KEYS else yaml.safe_load(raw)
            _merge(data, _nest(keys, value), where=f"environment {name}")
    return Config(data, base_dir)


def _nest(keys: list[str], value: Any) -> dict[str, Any]:
    for key in reversed(keys):
        value = {key: value}
    return value


def _merge(into: dict[str, Any], new: dict[str, Any], where: str) -> None:
    """Merge `new` over `into`; unknown keys are errors so a typo never goes unnoticed."""
    for key, value in new.items():
        if key not in into:
            raise ValueError(f"{where}: unknown setting {key!r} (known: {', '.join(sorted(into))})")
        if isinstance(into[key], dict) and into[key] and isinstance(value, dict):
            _merge(into[key], value, f"{where}: {key}")
        else:
            into[key] = value
