"""A real OpenID Connect provider for the tests: Keycloak (the Quarkus distribution from Maven Central) as a
plain Java process in dev mode on 127.0.0.1, with a realm imported from a JSON file written here.

The zip is fetched once with Maven and unpacked into the socpipe cache (as socpipe/jars.py does for jar sets),
so later runs start without the network. Each server gets a home of its own in its temporary folder (the
distribution's lib/ and themes/ linked in, conf/ copied), so its H2 database and the imported realms under
data/ start afresh every time.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

from alerting.notify_sink import HOST, free_port
from socpipe.jars import READY_MARK, cache_root

VERSION = "26.7.3"
ARTIFACT = f"org.keycloak:keycloak-quarkus-dist:{VERSION}:zip"
JAVA_HOMES = ("/usr/lib/jvm/temurin-25-jdk-amd64", "/usr/lib/jvm/java-17-openjdk-amd64")
REAUGMENTED = 10  # Keycloak's exit status after rebuilding its configuration: start it again
ROLE_CLAIM, AGENCY_CLAIM = "socpipe_role", "socpipe_agency"


def distribution(root: Path | None = None) -> Path:
    """keycloak-<version>/ unpacked in the cache, fetched by Maven on first use."""
    home = (root or cache_root()) / f"keycloak-{VERSION}"
    if (home / READY_MARK).is_file():
        return home / f"keycloak-{VERSION}"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    done = subprocess.run(["mvn", "-q", "-B", "dependency:copy", f"-Dartifact={ARTIFACT}", "-DoutputDirectory=."],
                          cwd=home, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"mvn could not fetch {ARTIFACT}:\n{done.stdout[-4000:]}{done.stderr[-4000:]}")
    archive = home / f"keycloak-quarkus-dist-{VERSION}.zip"
    with zipfile.ZipFile(archive) as z:
        z.extractall(home)
    archive.unlink()
    (home / READY_MARK).write_text(ARTIFACT + "\n", encoding="utf-8")
    return home / f"keycloak-{VERSION}"


def java() -> str:
    """Temurin 25 where the machine has it (the version Keycloak 26.7 is built for), else Java 17."""
    for home in (os.environ.get("SOCPIPE_KEYCLOAK_JAVA_HOME"), *JAVA_HOMES):
        if home and Path(home, "bin", "java").is_file():
            return str(Path(home, "bin", "java"))
    return "java"


def realm(name: str, client_id: str, secret: str, redirect_uri: str, users: list[dict[str, Any]]) -> dict[str, Any]:
    """A realm with one confidential client (code flow, PKCE S256 required) whose tokens carry each user's
    `socpipe_role` and `socpipe_agency` attributes as single-valued claims, and the given users.

    users: {"username", "password", "role"?, "agency"?}; a user without a role has no role attribute."""
    def mapper(attribute: str) -> dict[str, Any]:
        return {"name": attribute, "protocol": "openid-connect", "protocolMapper": "oidc-usermodel-attribute-mapper",
                "config": {"user.attribute": attribute, "claim.name": attribute, "jsonType.label": "String",
                           "id.token.claim": "true", "access.token.claim": "true", "userinfo.token.claim": "true",
                           "multivalued": "false"}}

    shown = {"view": ["admin", "user"], "edit": ["admin"]}  # users may not change their own role or agency
    profile = {"attributes": [
        {"name": "username", "permissions": shown, "validations": {"length": {"min": 3, "max": 255}}},
        {"name": "email", "permissions": shown, "validations": {"email": {}}},
        *({"name": a, "permissions": shown} for a in (ROLE_CLAIM, AGENCY_CLAIM)),
    ]}
    return {
        "realm": name, "enabled": True, "sslRequired": "none", "loginWithEmailAllowed": False,
        "components": {"org.keycloak.userprofile.UserProfileProvider": [{
            "providerId": "declarative-user-profile", "subComponents": {},
            "config": {"kc.user.profile.config": [json.dumps(profile)]}}]},
        "clients": [{
            "clientId": client_id, "enabled": True, "protocol": "openid-connect", "publicClient": False,
            "clientAuthenticatorType": "client-secret", "secret": secret, "standardFlowEnabled": True,
            "directAccessGrantsEnabled": False, "implicitFlowEnabled": False, "redirectUris": [redirect_uri],
            "attributes": {"pkce.code.challenge.method": "S256"},
            "protocolMappers": [mapper(ROLE_CLAIM), mapper(AGENCY_CLAIM)]}],
        "users": [{
            "username": u["username"], "enabled": True, "email": f"{u['username']}@example.test", "emailVerified": True,
            "credentials": [{"type": "password", "value": u["password"], "temporary": False}],
            "attributes": {k: [u[v]] for k, v in ((ROLE_CLAIM, "role"), (AGENCY_CLAIM, "agency")) if u.get(v)},
        } for u in users],
    }


class Keycloak:
    """One Keycloak process serving the realms written by realm(); stop() ends it."""

    def __init__(self, folder: Path, realms: list[dict[str, Any]]) -> None:
        self.folder, self.port = folder, free_port()
        self.url = f"http://{HOST}:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None
        self._command: list[str] = []
        imports = folder / "data" / "import"
        imports.mkdir(parents=True, exist_ok=True)
        for r in realms:
            (imports / f"{r['realm']}.json").write_text(json.dumps(r), encoding="utf-8")

    def issuer(self, realm_name: str) -> str:
        return f"{self.url}/realms/{realm_name}"

    def start(self, timeout: float = 240) -> Keycloak:
        return self.launch().wait(timeout)

    def launch(self) -> Keycloak:
        """Start the process without waiting for it (wait() does), so other servers can start meanwhile."""
        distributed = distribution()
        for part in ("lib", "themes"):
            if not (self.folder / part).exists():
                (self.folder / part).symlink_to(distributed / part, target_is_directory=True)
        if not (self.folder / "conf").exists():
            shutil.copytree(distributed / "conf", self.folder / "conf")
        (self.folder / "providers").mkdir(exist_ok=True)
        home = self.folder
        command = [
            java(), "-Xms64m", "-Xmx512m", "-XX:MetaspaceSize=96M", "-XX:MaxMetaspaceSize=256m", "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1", "-Dfile.encoding=UTF-8",
            "-Djava.util.logging.manager=org.jboss.logmanager.LogManager",
            "-Djava.util.concurrent.ForkJoinPool.common.threadFactory="
            "io.quarkus.bootstrap.forkjoin.QuarkusForkJoinWorkerThreadFactory",
            f"-Dkc.home.dir={home}", f"-Djboss.server.config.dir={home / 'conf'}",
            "--add-opens=java.base/java.util=ALL-UNNAMED", "--add-opens=java.base/java.util.concurrent=ALL-UNNAMED",
            "--add-opens=java.base/java.security=ALL-UNNAMED", "--add-opens=java.base/java.lang=ALL-UNNAMED",
            "-cp", str(home / "lib" / "quarkus-run.jar"), "io.quarkus.bootstrap.runner.QuarkusEntryPoint",
            "start-dev", "--import-realm", f"--http-host={HOST}", f"--http-port={self.port}",
            "--cache=local", "--log-level=warn",
        ]
        self._command = command
        self._process = self._launch(command)
        return self

    def wait(self, timeout: float = 240) -> Keycloak:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self._process is not None, "launch() first"
            if (status := self._process.poll()) == REAUGMENTED:  # as kc.sh does: the same again, marked built
                self._process = self._launch([self._command[0], "-Dkc.config.built=true", *self._command[1:]])
            elif status is not None:
                raise RuntimeError(f"keycloak exited: {self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/realms/master/.well-known/openid-configuration", timeout=2):
                    return self
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"keycloak did not answer within {timeout} s: {self.log_tail()}")

    def _launch(self, command: list[str]) -> subprocess.Popen[bytes]:
        with open(self.folder / "keycloak.log", "ab") as log:  # the child keeps its own copy of the file
            return subprocess.Popen(command, cwd=self.folder, stdout=log, stderr=subprocess.STDOUT)

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def log_tail(self, characters: int = 4000) -> str:
        path = self.folder / "keycloak.log"
        return path.read_text(encoding="utf-8", errors="replace")[-characters:] if path.exists() else ""
