"""OpenSearch 2.19 (Java 17) as one node in one JVM, from Maven Central jars.

The codelibs runner is not served here, so a tiny Java main starts the test framework's MockNode with the
netty4 transport plugin, which gives the real HTTP REST layer.
"""

from __future__ import annotations

import json
import shutil
import urllib.request
from pathlib import Path

from socpipe import jars
from socpipe.dev.process import LOG4J2_CONSOLE, java

VERSION = "2.19.6"
MAIN_CLASS = "SocpipeOpenSearch"
_MAIN = """\
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import org.opensearch.common.settings.Settings;
import org.opensearch.node.MockNode;
import org.opensearch.transport.Netty4Plugin;

/** Starts one OpenSearch node from a YAML settings file and runs until SIGTERM. */
public final class SocpipeOpenSearch {
    public static void main(String[] args) throws Exception {
        Settings settings = Settings.builder().loadFromPath(Path.of(args[0])).build();
        MockNode node = new MockNode(settings, List.of(Netty4Plugin.class));
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


def prepare(directory: Path, port: int, transport_port: int) -> list[str]:
    """Write a fresh node home (dev data is throw-away) and return the java command line."""
    home = jars.ensure(JARS)
    node_home = directory / "home"
    shutil.rmtree(node_home, ignore_errors=True)
    for sub in ("data", "logs", "modules", "plugins", "config"):
        (node_home / sub).mkdir(parents=True, exist_ok=True)
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
    }
    config = directory / "opensearch.yml"
    config.write_text(json.dumps(settings, indent=1) + "\n", encoding="utf-8")  # JSON is YAML
    log_config = directory / "log4j2.properties"
    log_config.write_text(_LOG4J2, encoding="utf-8")
    return [java(), "-Xms512m", "-Xmx1g", f"-Dlog4j2.configurationFile={log_config.resolve()}",
            "-Dopensearch.set.netty.runtime.available.processors=false",
            "-Dlog4j2.shutdownHookEnabled=false",
            "-cp", jars.classpath(home), MAIN_CLASS, str(config.resolve())]


def check(url: str) -> None:
    """GET / answers and the cluster is yellow or green (raises until then)."""
    with urllib.request.urlopen(url, timeout=5) as response:
        json.load(response)
    with urllib.request.urlopen(f"{url}/_cluster/health?wait_for_status=yellow&timeout=5s", timeout=10) as response:
        status = json.load(response)["status"]
    if status not in ("yellow", "green"):
        raise RuntimeError(f"cluster health {status}")
