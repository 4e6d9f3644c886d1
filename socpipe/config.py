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
from socpipe.jars import cache_root

ENV_PREFIX = "SOCPIPE__"
# Settings taken from the environment verbatim: "0123", "yes" or "*x" stay the strings they are.
SECRET_KEYS = frozenset({"password", "sasl_password", "secret_key", "ack_secret", "webhook_secret", "token",
                         "client_secret"})

DEFAULTS: dict[str, Any] = {
    "rules": {
        # Rule files or folders (Sigma YAML) loaded besides the starter pack.
        "paths": [],
        # Values for `expand` placeholders: name -> list of values. A rule using a name not listed
        # here fails to compile and is reported.
        "placeholders": {},
        # Load the starter pack shipped in rules/starter.
        "starter_pack": True,
        # Keep compiled rules on disk and reuse them (rules/cache.py): a rule file recompiles only when it,
        # the placeholders or the compiler change.
        "cache": True,
        # Where the compiled-rule cache lives; none: $SOCPIPE_CACHE/rules, else ~/.cache/socpipe/rules.
        "cache_dir": None,
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
        # Events per Parquet file of the staged lake and per detection batch.
        "events_per_file": 50000,
        # Input files larger than this are cut at record boundaries into pieces of about this many bytes,
        # one Spark task each (EVTX and gzip files are one task each).
        "split_bytes": 67108864,
        # Year given to RFC 3164 syslog timestamps, which carry none (default: the current year).
        "syslog_year": None,
    },
    "enrich": {
        # GeoIP (enrich/geoip.py): MaxMind DB files (GeoLite2/GeoIP2 Country or City, ASN); none: that half off.
        # Public source and destination addresses gain source.geo.country_iso_code, .country_name, source.as.number,
        # .as.organization.name (and destination.*); addresses looked up are remembered, at most cache_size per
        # direction in each worker.
        "geoip": {"country_db": None, "asn_db": None, "cache_size": 100000},
        "intel": {
            # Threat-intel indicator sources (enrich/intel_sources.py): [{name: NAME, format: stix|misp|csv,
            # path: FILE_OR_FOLDER or url: http(s)://..., confidence: 0-100}]; confidence is used where an
            # indicator has none. stix: a bundle or a folder of bundles; misp: a feed folder or base URL
            # (manifest.json and <uuid>.json event files); csv: header type,value[,confidence,id,description].
            # A url source may add token_env: the environment variable holding its token (never the token
            # itself), and timeout, ca_file or auth_header to override `http` below. Each match is a
            # "threat-intel match" alert.
            "sources": [],
            # Sources with a url, fetched at start and at every refresh with conditional requests (ETag,
            # If-Modified-Since: an unchanged feed is not downloaded again; a MISP event file only when its
            # manifest timestamp changed). timeout: seconds per request; ca_file: CA bundle (PEM) trusted for
            # https (none: the system's trust store); auth_header: the header that carries a source's token
            # (MISP: Authorization), sent only to the feed's host.
            "http": {"timeout": 30.0, "ca_file": None, "auth_header": "Authorization"},
            # A TAXII 2.1 collection of indicators: API root URL and collection id; the password belongs in
            # SOCPIPE__ENRICH__INTEL__TAXII__PASSWORD. none: no TAXII.
            "taxii": {"url": None, "collection": None, "username": None, "password": None, "name": "taxii",
                      "confidence": None},
            # `socpipe run` reads every source again this often, in seconds, without a restart (a source that
            # fails then keeps its previous indicators); none: read once at start.
            "refresh_seconds": 300.0,
        },
        "new_domains": {
            # Newly seen domains (enrich/seen_domains.py): a baseline file of registered domains, one per line,
            # that `socpipe baseline domains` writes from the lake; DNS records (zeek_dns, suricata_dns) gain
            # dns.question.registered_domain and, for a domain not in it, dns.question.newly_seen = "true"
            # (rule net_dns_newly_seen_domain). none: off.
            "baseline": None,
            # `socpipe baseline domains`: the days of the lake (lake.path/events) read, ending today.
            "days": 30,
            # A running job looks at the file this often, in seconds, and reads it again when it changed.
            "check_seconds": 60.0,
        },
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
        # Basic-auth user (none: no credentials); the password only from SOCPIPE__OPENSEARCH__PASSWORD. A
        # store with the security plugin gives each user one role: `dev up --secure` writes `pipeline` (writes
        # socpipe's indices) here, and keeps every user's password in <dev.state_dir>/opensearch/<user>.env.
        "username": None,
        "password": None,
        # CA bundle (PEM) that signed an https URL's certificate (none: the system's trust store); `dev up
        # --secure` writes its throwaway CA here. Certificates and host names are always verified.
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
        # Where offsets of tailed files, NetFlow/IPFIX templates (collect netflow) and the spool live.
        "state_dir": ".socpipe/collect",
        # Records waiting on disk while Kafka is unreachable, at most this many bytes; beyond it new
        # records are dropped and counted, loudly.
        "spool_max_bytes": 1073741824,
        # How often a tailed file is checked for new lines and rotation, in seconds.
        "poll_seconds": 0.5,
        # Agency hints: [{sender: CIDR, agency: ID}] for syslog senders and NetFlow exporters,
        # [{path: GLOB, agency: ID}] for files.
        "agency_hints": [],
        # `collect netflow`: v9/IPFIX data sets that come before their template wait this many seconds for it,
        # then go to the dead letters; at most this many sets wait and this many templates are kept (bounds
        # against template floods).
        "netflow_park_seconds": 60.0,
        "netflow_max_parked": 10000,
        "netflow_max_templates": 10000,
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
    "incidents": {
        # Alerts of one rule and group (host, or a correlation's group) fold into one incident while each
        # comes at most this many seconds after the one before it (docs/incidents.md).
        "window_seconds": 3600,
        # The stream keeps incidents open to late alerts (and suppression windows to late repeats) until the
        # newest alert is this many seconds past them (plus the window).
        "lateness_seconds": 3600,
        # OpenSearch index of incidents (one index; document id = incident_id).
        "index": "incidents",
    },
    "correlation": {
        # Layer 2 on the stream (docs/correlation.md): a correlation window is judged once the newest event
        # time seen is this many seconds past its end, so alerts up to this late still count in it; an
        # alert later than that is not correlated (logged). Batch detection judges every window at the end.
        "lateness_seconds": 60.0,
    },
    "suppression": {
        # Per-rule suppression besides the rules' own `socpipe: {suppress: ...}` key, which this overrides:
        # {RULE_ID: {group_by: [FIELD, ...], duration: 10m}}.
        "rules": {},
    },
    "audit": {
        # `socpipe audit`: an agency is monitored when events came from its systems on at least this
        # share of the days it existed in the period.
        "monitored_days_percent": 80.0,
        # The plan's coverage targets (percent of agencies monitored) per tier.
        "targets": {"provincial": 100.0, "district": 100.0, "commune": 50.0},
        # Target share of provincial and district systems classified by security level.
        "classified_target_percent": 100.0,
        # Minimum log retention per security level, in months (domain.md; TCVN 14423:2026 to confirm).
        "retention_months": {1: 0, 2: 1, 3: 3, 4: 6, 5: 12},
        # Handling deadlines per incident level, measured from detection.
        "deadlines": {
            "critical": {"acknowledge_minutes": 15, "close_hours": 24},
            "high": {"acknowledge_minutes": 60, "close_hours": 72},
            "medium": {"acknowledge_minutes": 240, "close_hours": 168},
            "low": {"acknowledge_minutes": 1440, "close_hours": 336},
            "informational": {"acknowledge_minutes": 2880, "close_hours": 720},
        },
        # Where reports go when --out is not given.
        "out": "audit-out",
    },
    "retention": {
        # `socpipe retention`: lake tables and daily search-index prefixes, kept this many months; a day
        # holds every system's data, so keep at least the longest level minimum (12 months at level 5).
        "keep_months": {"events": 12, "alerts": 12},
        "index_keep_months": {"events": 12, "alerts": 12},
    },
    "national": {
        # Layer 4: which incidents are reported to the national centre (any one criterion suffices).
        "select": {
            "levels": ["critical"],
            "system_level_from": 4,  # incidents on systems of this security level or higher; none: off
            "tags": ["ransomware", "defacement", "attack.impact"],  # substrings of rule tags
            "verdicts": ["true_positive_impact"],  # analysts' verdicts that make an incident reportable
        },
        # Reporting clocks from detection (Decree 331/2026 Art 31.2.d).
        "deadline_hours": {"initial": 24, "full": 72},
        # The reporting unit as the forms (Mẫu 03/04) and STIX bundles name it.
        "reporter": {"name": "Trung tâm Giám sát điều hành an toàn thông tin tỉnh", "contact": None,
                     "phone_email": None, "notified": None, "support_requested": None, "confidential": False},
        # TLP marking of every exported object: white, green, amber or red.
        "tlp": "amber",
        # Transports used, in order: files, taxii, syslog.
        "transports": ["files"],
        # Attempts per transport and stage, and the wait before attempt n+1 (n times this many seconds).
        "attempts": 3,
        "retry_seconds": 5.0,
        # `files`: folder the exports are written to.
        "files_dir": "national-out",
        # `taxii`: TAXII 2.1 API root URL and collection id; the password belongs in
        # SOCPIPE__NATIONAL__TAXII__PASSWORD.
        "taxii": {"url": None, "collection": None, "username": None, "password": None},
        # `syslog`: collector address; protocol tcp (octet-counted) or udp.
        "syslog": {"host": None, "port": 514, "protocol": "tcp"},
    },
    "console": {
        # `socpipe serve`: address and port of the console, its API and the acknowledgement links.
        "host": "127.0.0.1",
        "port": 8400,
        # TLS certificate and key (PEM); none: plain HTTP (put a TLS proxy in front on a network).
        "tls_certfile": None,
        "tls_keyfile": None,
        # Sign-on with the province's OpenID Connect provider (authorization code with PKCE); none: local
        # accounts only. The ID token's role_claim (a value, or a list such as realm roles, mapped through
        # `roles` to analyst|agency|auditor|admin) and agency_claim (one agency id, or one group per agency:
        # a group path's last part) decide the session; a user without exactly one role, or with role agency
        # and no agency of the registry, is refused. Users appear in users_file as oidc:<username_claim>.
        # The redirect URI to register with the provider is <console URL>/oidc/callback.
        "oidc": {
            "issuer": None,
            "client_id": None,
            # Only from SOCPIPE__CONSOLE__OIDC__CLIENT_SECRET (a value from the file is refused).
            "client_secret": None,
            "scope": "openid profile",
            "username_claim": "preferred_username",
            "role_claim": "socpipe_role",
            "agency_claim": "socpipe_agency",
            # Provider value -> console role, e.g. {soc-analyst: analyst}; values not listed give no role.
            # Empty: the values analyst, agency, auditor and admin themselves.
            "roles": {},
            # How long a sign-on may take at the provider before its state is refused.
            "login_seconds": 600,
        },
        # Local accounts with argon2 hashes (`socpipe users add|passwd|disable`).
        "users_file": ".socpipe/users.yaml",
        # Signs session cookies; only from SOCPIPE__CONSOLE__SECRET_KEY. None: a new key at every start.
        "secret_key": None,
        # Suppress from an alert: the folder the console writes Sigma filters to (list it in rules.paths so
        # detection applies them); none: suppressing is off. With tuning_git, each filter file is committed
        # (alone, by path) to the git repository that folder is in.
        "tuning_dir": None,
        "tuning_git": False,
        # OpenSearch index of the users' saved queue filters.
        "saved_filters_index": "console-filters",
        # A secured store: read as the signed-in user's own user of the store, so the store's document-level
        # security holds even where the console's own scope check failed. Console role -> the store's user
        # ("{agency}": the signed-in user's agency), every role named, e.g. {analyst: soc, admin: soc,
        # auditor: auditor, agency: "agency-{agency}"} (`dev up --secure` writes this in dev-console.yaml).
        # The console's user (opensearch.username) impersonates them (the security plugin's REST
        # impersonation; plugins.security.authcz.rest_impersonation_user must allow it) and keeps writing
        # as itself: DLS does not restrict writes, the console checks them. None: it reads as itself.
        "read_as": None,
    },
    "notify": {
        # Layer 1 (`socpipe notify`): routing, notifications, acknowledgement, escalation. Times in seconds.
        # What a notification is about: "incidents" (layer 2's `incidents` index) or "alerts" (each alert
        # taken as an incident of its own, for installations without layer 2: with a search store, the new
        # judged alerts of run.alerts_index go into incidents.index before each tick; without one, from
        # `socpipe notify --incidents alerts.jsonl`).
        "unit": "incidents",
        # The scheduler's state (groups, sent notifications, used ack links) without a search store: SQLite.
        "state_path": ".socpipe/notify/state.sqlite",
        # How often `socpipe notify` looks at incidents, deadlines and pending messages.
        "tick_seconds": 5.0,
        # Acknowledgement links point here (the `socpipe serve` console); keys are signed with ack_secret
        # (set SOCPIPE__NOTIFY__ACK_SECRET; links are refused without it).
        "base_url": "http://127.0.0.1:8400",
        "ack_secret": None,
        "ack_link_seconds": 259200,
        # An acknowledged incident not moved on (in progress or closed) within this time is unacknowledged
        # again and its escalation resumes (as PagerDuty does); none: acknowledgements never expire.
        "ack_timeout_seconds": 1800,
        # Time to acknowledge, by alert level, before the next step of the agency's escalation chain is told;
        # none: never escalated. Levels in working_hours_levels count office hours only.
        "deadlines": {"critical": 900, "high": 3600, "medium": 28800, "low": None, "informational": None},
        "working_hours_levels": ["medium"],
        # Deadlines multiplied by this factor for systems of a security level (e.g. level 4-5: half).
        "system_level_factor": {4: 0.5, 5: 0.5},
        # These levels (and systems of level >= serious_system_level) count deadlines from detection time,
        # so an agency that does not acknowledge never consumes the national reporting clock.
        "serious_levels": ["critical", "high"],
        "serious_system_level": 4,
        # Maintenance windows hold notifications: [{agency: ID, system: ID, start: ISO, end: ISO}].
        "maintenance": [],
        # Local time (agency time zone) of the daily digest of digest routes.
        "digest_time": "07:30",
        # The routing tree (Alertmanager-like): match {agency (subtree), system, level, tags}, the first
        # matching child wins unless `continue`; children inherit the other keys. roles: who is told first;
        # channels: email, webhook, matrix; quiet_hours: {start, end} local time holds messages; digest: daily.
        "route": {
            "group_by": ["agency.id", "rule.id"],
            "group_wait": 30, "group_interval": 300, "repeat_interval": 14400,
            "roles": ["on_site"], "channels": ["email"],
            "routes": [
                {"match": {"level": ["low", "informational"]}, "digest": True},
                {"match": {"level": ["medium"]}, "quiet_hours": {"start": "21:00", "end": "07:00"}},
            ],
        },
        # SMTP relay; none: messages are written as .eml files to outbox_dir (the embedded default).
        # security: starttls, tls or none; the password belongs in SOCPIPE__NOTIFY__SMTP__PASSWORD; ca_file: a
        # CA bundle (PEM) to trust for the relay's certificate (none: the system's trust store).
        "smtp": {"host": None, "port": 587, "security": "starttls", "username": None, "password": None,
                 "sender": "SOC An Khanh <soc@localhost>", "timeout": 10.0, "ca_file": None},
        "outbox_dir": ".socpipe/notify/outbox",
        # Webhooks: bodies signed with HMAC-SHA256 of webhook_secret (header X-Socpipe-Signature), retried
        # with these waits; a contact webhook "zalo:CHAT_ID" posts the Zalo Bot API shape to zalo_url.
        "webhook_secret": None,
        "webhook_retry_seconds": [1, 2, 5],
        "zalo_url": None,
        # Matrix (route channel `matrix`): one message per agency room on this home server (base URL). The
        # room of an agency: rooms {AGENCY_ID: "!id:server" or "#alias:server"}, else the room ids or aliases
        # among its recipients' `chat` handles. The bot's access token only from SOCPIPE__NOTIFY__MATRIX__TOKEN.
        "matrix": {"homeserver": None, "token": None, "rooms": {}, "timeout": 10.0},
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
        # The search store's CA certificate (PEM) as a path where Grafana runs: the provisioned data sources
        # trust it for an https opensearch_url (Grafana reads it with $__file{}); none: the system's CAs.
        "opensearch_ca_file": None,
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
    def rule_cache_dir(self) -> Path | None:
        """The compiled-rule cache folder, or None when the cache is off."""
        if not self.get("rules", "cache"):
            return None
        return self.path("rules", "cache_dir") or cache_root() / "rules"

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
