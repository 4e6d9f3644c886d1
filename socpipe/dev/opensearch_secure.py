"""The secured dev search store (`socpipe dev up --secure`): the OpenSearch security plugin, TLS and users.

The node is the plain dev node (socpipe/dev/opensearch.py) with the security plugin's classes on its
classpath, as the plugin's own test harness runs it: the plugin bundle (a zip on Maven Central) is unpacked
once into the jar cache. Transport and HTTP speak TLS with a throwaway CA (socpipe/dev/tls.py). The
plugin's configuration (users, roles, role mappings) is generated from the registry at each `up` and loaded
into its index on the first start (`plugins.security.allow_default_init_securityindex`; no securityadmin).

Users, one role each:
- `admin`: the plugin's all_access (set-up and health checks only);
- `pipeline`: writes socpipe's indices (documents, index templates, aliases), deletes nothing;
- `soc`: the provincial SOC's analysts, reading and writing every socpipe index;
- `auditor`: reads every socpipe index, writes nothing;
- `agency-<id>` for each agency of the registry: reads alerts, incidents, events and the action log
  (read-only) with document-level security limited to the agency's subtree (Registry.subtree), so neither
  a query nor a get by id shows another agency's documents;
- `console`: the console's own user (`socpipe serve`): writes what people change (incidents, the action
  log, saved filters, the agency aliases), and reads as the signed-in user by REST impersonation
  (plugins.security.authcz.rest_impersonation_user lets it impersonate `soc`, `auditor` and `agency-*`, no
  one else), so the store's document-level security holds even where the console's scope check failed.
DLS filters reads only, and a user with several roles gets the broadest: writes are the application's to
check, and each user here has exactly one role.

Passwords are random at each `up`, kept in files only the owner can read (opensearch/credentials.json, and
opensearch/<user>.env with the SOCPIPE__OPENSEARCH__PASSWORD line a user's processes need); the node's
configuration holds only their bcrypt hashes, and nothing prints them.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import shutil
import ssl
import zipfile
from pathlib import Path
from typing import Any

import bcrypt

from socpipe import jars
from socpipe.config import Config
from socpipe.dev import opensearch, tls
from socpipe.registry import Registry

VERSION = f"{opensearch.VERSION}.0"  # the plugin's version is the server's plus its own patch level
PLUGIN_CLASS = "org.opensearch.security.OpenSearchSecurityPlugin"
JARS = jars.JarSet("opensearch-security", VERSION, (f"org.opensearch.plugin:opensearch-security:{VERSION}:zip",))
SERVICE_USERS = ("admin", "pipeline", "soc", "auditor", "console", "notifier")
AGENCY_PREFIX = "agency-"
ACTIONS_INDEX = "actions"  # alerting.actions.ACTIONS_INDEX, the action log (the spine does not import alerting)
# The console's console.read_as for this store: the store's user each console role reads as.
READ_AS = {"analyst": "soc", "admin": "soc", "auditor": "auditor", "agency": f"{AGENCY_PREFIX}{{agency}}"}
# Who may speak for whom (REST impersonation, a node setting): the console for the users it reads as, no one else.
IMPERSONATION_SETTING = "plugins.security.authcz.rest_impersonation_user"
IMPERSONATORS = {"console": ("soc", "auditor", f"{AGENCY_PREFIX}*")}
PASSWORD_VARIABLE = "SOCPIPE__OPENSEARCH__PASSWORD"
BCRYPT_ROUNDS = 10  # throwaway dev passwords, checked once per user and then cached by the plugin
_NODE_DN = "CN=opensearch"
_JAR_NAME = re.compile(r"^(.+?)-\d[^/]*\.jar$")


def prepare(directory: Path, port: int, transport_port: int, config: Config) -> list[str]:
    """Certificates, passwords and the plugin's configuration for a fresh node; returns its command line."""
    files = tls.make(directory / "tls", "opensearch")
    settings = {**node_settings(str(files.cert.resolve()), str(files.key.resolve()), str(files.ca.resolve())),
                "plugins.security.compliance.salt": secrets.token_hex(8)}
    command = opensearch.prepare(directory, port, transport_port, settings, (str(_plugin_jars()),), (PLUGIN_CLASS,))
    registry = Registry.load(config.path("registry")) if config.get("registry") else None
    agencies = sorted(registry.agencies) if registry else []
    passwords = {user: secrets.token_urlsafe(24) for user in (*SERVICE_USERS, *(agency_user(a) for a in agencies))}
    tls.private(directory / "credentials.json", json.dumps(passwords).encode())
    for user, secret in passwords.items():
        tls.private(directory / f"{user}.env", f"{PASSWORD_VARIABLE}={secret}\n".encode())
    security = directory / "home" / "config" / "opensearch-security"
    security.mkdir(mode=0o700, parents=True, exist_ok=True)
    (directory / "home" / "config").chmod(0o700)
    for name, body in _security_config(config, registry, passwords).items():
        tls.private(security / f"{name}.yml", json.dumps(body, ensure_ascii=False, indent=1).encode())  # JSON is YAML
    return command


def node_settings(cert: str, key: str, ca: str) -> dict[str, Any]:
    """The security plugin's node settings, of the dev node and docker-compose's (socpipe/deploy.py): TLS on
    transport and HTTP with these PEM files, the configuration loaded on the first start, and who may
    impersonate whom."""
    pem = {"pemcert_filepath": cert, "pemkey_filepath": key, "pemtrustedcas_filepath": ca}
    return {
        **{f"plugins.security.ssl.transport.{k}": v for k, v in pem.items()},
        "plugins.security.ssl.transport.enforce_hostname_verification": False,
        "plugins.security.ssl.http.enabled": True,
        **{f"plugins.security.ssl.http.{k}": v for k, v in pem.items()},
        "plugins.security.nodes_dn": [_NODE_DN],
        "plugins.security.allow_default_init_securityindex": True,
        "plugins.security.audit.type": "noop",
        **{f"{IMPERSONATION_SETTING}.{user}": list(targets) for user, targets in IMPERSONATORS.items()},
    }


def agency_user(agency_id: str) -> str:
    return f"{AGENCY_PREFIX}{agency_id}"


def is_secure(directory: Path) -> bool:
    return (directory / "credentials.json").exists()


def client_settings(directory: Path, user: str) -> dict[str, Any]:
    """The `opensearch` configuration keys of one user besides the URL (its password comes from <user>.env)."""
    return {"username": user, "ca_certs": str((directory / "tls" / "ca.pem").resolve())}


def password(directory: Path, user: str) -> str:
    """One user's password (dev set-up and tests only)."""
    return json.loads((directory / "credentials.json").read_text(encoding="utf-8"))[user]


def environment(directory: Path, user: str) -> dict[str, str]:
    """The environment a user's processes need (its password)."""
    name, _, value = (directory / f"{user}.env").read_text(encoding="utf-8").strip().partition("=")
    return {name: value}


def check(url: str, directory: Path) -> None:
    """As opensearch.check, over TLS as admin: raises until the plugin has loaded its configuration."""
    token = base64.b64encode(f"admin:{password(directory, 'admin')}".encode()).decode()
    opensearch.check(url, ssl.create_default_context(cafile=str(directory / "tls" / "ca.pem")),
                     {"Authorization": f"Basic {token}"})


def dls(ids: list[str], field: str = "agency.id") -> dict[str, Any]:
    """Documents these agencies own (agency.id; the action log's agency_id). A correlation across agencies is
    owned by their lowest common unit, so a document naming another agency in agency.ids is never shown to
    an agency outside that unit."""
    return {"terms": {field: ids}}


def _security_config(config: Config, registry: Registry | None, passwords: dict[str, str]) -> dict[str, Any]:
    def meta(kind: str) -> dict[str, Any]:
        return {"_meta": {"type": kind, "config_version": 2}}

    agency_indices = [f"{config.get('run', 'alerts_index')}-*", config.get("incidents", "index"),
                      f"{config.get('run', 'events_index')}-*"]
    # Every socpipe index: the store is socpipe's own; the plugin keeps its system indices out of "*".
    write = ["crud", "create_index", "manage_aliases", "indices:admin/mapping/put", "indices:admin/refresh*",
             "indices:admin/get", "indices:admin/resolve/index", "indices:monitor/*"]
    templates = ["indices:admin/template/*", "indices:admin/index_template/*", "cluster:admin/component_template/*"]
    read_write = {"cluster_permissions": ["cluster_monitor", "cluster_composite_ops"],
                  "index_permissions": [{"index_patterns": ["*"], "allowed_actions": write}]}
    roles: dict[str, Any] = {
        "socpipe_pipeline": {"cluster_permissions": ["cluster_monitor", "cluster_composite_ops", *templates],
                             "index_permissions": [{"index_patterns": ["*"], "allowed_actions": write}]},
        "socpipe_soc": read_write,
        # The console's own user writes people's changes and makes the agency aliases at every start.
        "socpipe_console": {"cluster_permissions": ["cluster_monitor", "cluster_composite_ops", *templates],
                            "index_permissions": [{"index_patterns": ["*"], "allowed_actions": write}]},
        # The notifier's own user: incidents, its state and the action log, and alerts with notify.unit alerts.
        "socpipe_notifier": read_write,
        "socpipe_auditor": {"cluster_permissions": ["cluster_monitor", "cluster_composite_ops_ro"],
                            "index_permissions": [{"index_patterns": ["*"], "allowed_actions": [
                                "read", "indices:admin/get", "indices:admin/resolve/index", "indices:monitor/*"]}]},
    }
    mapping: dict[str, Any] = {"all_access": {"users": ["admin"]},
                               **{f"socpipe_{u}": {"users": [u]} for u in SERVICE_USERS if u != "admin"}}
    for agency in sorted(registry.agencies) if registry else []:
        role = f"socpipe_{agency_user(agency)}"
        subtree = sorted(registry.subtree(agency))
        roles[role] = {"cluster_permissions": ["cluster_composite_ops_ro"], "index_permissions": [
            {"index_patterns": agency_indices, "dls": json.dumps(dls(subtree)), "allowed_actions": ["read"]},
            {"index_patterns": [ACTIONS_INDEX], "dls": json.dumps(dls(subtree, "agency_id")),
             "allowed_actions": ["read"]}]}
        mapping[role] = {"users": [agency_user(agency)]}
    salt = bcrypt.gensalt(BCRYPT_ROUNDS, prefix=b"2a")
    users = {user: {"hash": bcrypt.hashpw(secret.encode(), salt).decode(), "description": "socpipe dev"}
             for user, secret in passwords.items()}
    basic = {"http_enabled": True, "transport_enabled": True, "order": 0,
             "http_authenticator": {"type": "basic", "challenge": True},
             "authentication_backend": {"type": "intern"}}
    return {
        "config": {**meta("config"), "config": {"dynamic": {"http": {"anonymous_auth_enabled": False},
                                                            "authc": {"basic_internal_auth_domain": basic}}}},
        "internal_users": {**meta("internalusers"), **users},
        "roles": {**meta("roles"), **roles},
        "roles_mapping": {**meta("rolesmapping"), **mapping},
        "action_groups": meta("actiongroups"),
        "tenants": meta("tenants"),
        "nodes_dn": meta("nodesdn"),
        "allowlist": {**meta("allowlist"), "config": {"enabled": False}},
        "audit": {**meta("audit"), "config": {"enabled": False}},
    }


def _plugin_jars() -> Path:
    """The plugin's jars, unpacked once from its bundle beside the cached zip, without the libraries the plain
    node already has (one copy of each class on the classpath: the node's)."""
    home = jars.ensure(JARS)
    target = home / "plugin"
    if target.is_dir():
        return target / "*"
    node_libs = {m.group(1) for p in (jars.ensure(opensearch.JARS) / "lib").glob("*.jar")
                 if (m := _JAR_NAME.match(p.name))}
    partial = home / f"plugin.{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    (bundle,) = (home / "lib").glob("opensearch-security-*.zip")
    with zipfile.ZipFile(bundle) as archive:
        for member in archive.namelist():
            name = Path(member).name
            found = _JAR_NAME.match(name)
            if "/" not in member and found and found.group(1) not in node_libs:
                (partial / name).write_bytes(archive.read(member))
    try:
        partial.rename(target)
    except OSError:  # another `up` unpacked it meanwhile
        shutil.rmtree(partial, ignore_errors=True)
        if not target.is_dir():
            raise
    return target / "*"
