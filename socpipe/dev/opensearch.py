"""OpenSearch 2.19 (Java 17) as one node in one JVM, from Maven Central jars.

The codelibs runner is not served here, so a tiny Java main starts the test framework's MockNode with the
netty4 transport plugin, which gives the real HTTP REST layer (and, for `dev up --secure`, the security
plugin's classes: socpipe/dev/opensearch_secure.py).

2.19.4, not the newest 2.19: the security plugin is served only up to 2.19.4.0, and every place that runs
OpenSearch (these dev servers, docker-compose.yml) uses one version.
"""

from __future__ import annotations

import json
import os
import shutil
import ssl
import urllib.request
from pathlib import Path
from typing import Any

from socpipe import jars
from socpipe.dev.process import LOG4J2_CONSOLE, java

VERSION = "2.19.4"
MAIN_CLASS = "SocpipeOpenSearch"
_MAIN = """\
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import org.opensearch.common.settings.Settings;
import org.opensearch.node.MockNode;
import org.opensearch.plugins.Plugin;
import org.opensearch.transport.Netty4Plugin;

/** Starts one OpenSearch node from a YAML settings file, with the plugin classes named after it, until SIGTERM. */
public final class SocpipeOpenSearch {
    public static void main(String[] args) throws Exception {
        Settings settings = Settings.builder().loadFromPath(Path.of(args[0])).build();
        List<Class<? extends Plugin>> plugins = new ArrayList<>(List.of(Netty4Plugin.class));
        for (String name : List.of(args).subList(1, args.length)) {
            plugins.add(Class.forName(name).asSubclass(Plugin.class));
        }
        MockNode node = new MockNode(settings, plugins);
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.close();
            } catch (Exception e) {
                e.printStackTrace();
            }
            stopped.countDown();
        }));
        node.start();
        System.out.println("socpipe: opensearch node started");
        stopped.await();
    }
}
"""
JARS = jars.JarSet("opensearch", VERSION, (
    f"org.opensearch.test:framework:{VERSION}",
    f"org.opensearch.plugin:transport-netty4-client:{VERSION}",
    "org.apache.logging.log4j:log4j-core:2.25.4",  # OpenSearch logs through log4j2; the framework brings only the API
), exclusions=(
    # On the classpath it makes org.opensearch.common.Randomness demand a JUnit test context and fail.
    "com.carrotsearch.randomizedtesting:randomizedtesting-runner",
), java_sources={f"{MAIN_CLASS}.java": _MAIN})

_LOG4J2 = LOG4J2_CONSOLE


def prepare(directory: Path, port: int, transport_port: int, extra: dict[str, Any] | None = None,
            classpath: tuple[str, ...] = (), plugins: tuple[str, ...] = ()) -> list[str]:
    """Write a fresh node home (dev data is throw-away) and return the java command line.
    `extra` settings, `classpath` entries and `plugins` (class names) add a plugin such as security."""
    home = jars.ensure(JARS)
    node_home = directory / "home"
    shutil.rmtree(node_home, ignore_errors=True)
    for sub in ("data", "logs", "modules", "plugins", "config"):
        (node_home / sub).mkdir(parents=True, exist_ok=True)
    (directory / "credentials.json").unlink(missing_ok=True)  # a former secured run's
    settings = {
        "cluster.name": "socpipe-dev",
        "node.name": "socpipe-dev",
        "path.home": str(node_home.resolve()),
        "path.data": str((node_home / "data").resolve()),
        "path.logs": str((node_home / "logs").resolve()),
        "network.host": "127.0.0.1",
        "http.port": port,
        "transport.port": transport_port,
        "discovery.type": "single-node",
        # A nearly full dev disk must not turn indices read-only or leave shards unassigned.
        "cluster.routing.allocation.disk.threshold_enabled": False,
        **(extra or {}),
    }
    config = directory / "opensearch.yml"
    config.write_text(json.dumps(settings, indent=1) + "\n", encoding="utf-8")  # JSON is YAML
    log_config = directory / "log4j2.properties"
    log_config.write_text(_LOG4J2, encoding="utf-8")
    return [java(), "-Xms512m", "-Xmx1g", f"-Dlog4j2.configurationFile={log_config.resolve()}",
            "-Dopensearch.set.netty.runtime.available.processors=false",
            "-Dlog4j2.shutdownHookEnabled=false",
            "-cp", os.pathsep.join((jars.classpath(home), *classpath)), MAIN_CLASS, str(config.resolve()), *plugins]


def check(url: str, context: ssl.SSLContext | None = None, headers: dict[str, str] | None = None) -> None:
    """GET / answers and the cluster is yellow or green (raises until then). `context` and `headers`: the
    secured node's CA and credentials."""
    def get(path: str, timeout: float) -> Any:
        request = urllib.request.Request(f"{url}{path}", headers=headers or {})
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
            return json.load(response)

    get("", 5)
    status = get("/_cluster/health?wait_for_status=yellow&timeout=5s", 10)["status"]
    if status not in ("yellow", "green"):
        raise RuntimeError(f"cluster health {status}")
