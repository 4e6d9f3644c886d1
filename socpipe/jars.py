"""Runnable jar sets from Maven Central, resolved once into the user's cache.

The dev servers and the streaming job's Kafka connector both need them. Maven does the resolution (it
honours the machine's settings and mirrors); the result is copied into ~/.cache/socpipe/<name>-<version>/lib
so later runs start without touching the network.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

READY_MARK = ".complete"


@dataclass(frozen=True)
class JarSet:
    """Maven coordinates (G:A:V, or G:A:V:TYPE such as zip) to copy into lib/, G:A to leave out, and Java
    sources to compile against them."""

    name: str
    version: str
    artifacts: tuple[str, ...]
    exclusions: tuple[str, ...] = ()
    java_sources: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.name}-{self.version}"


def cache_root() -> Path:
    """Where jar sets live: $SOCPIPE_CACHE, else $XDG_CACHE_HOME/socpipe, else ~/.cache/socpipe."""
    if env := os.environ.get("SOCPIPE_CACHE"):
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "socpipe"


def ensure(jars: JarSet, root: Path | None = None) -> Path:
    """The folder holding lib/ (and classes/ when sources are given), building it on first use."""
    home = (root or cache_root()) / jars.key
    stamp = _stamp(jars)
    if (home / READY_MARK).is_file() and (home / READY_MARK).read_text(encoding="utf-8") == stamp:
        return home
    shutil.rmtree(home / "classes", ignore_errors=True)
    shutil.rmtree(home / "lib", ignore_errors=True)
    home.mkdir(parents=True, exist_ok=True)
    (home / "pom.xml").write_text(_pom(jars), encoding="utf-8")
    _run(["mvn", "-q", "-B", "dependency:copy-dependencies", "-DoutputDirectory=lib", "-DincludeScope=runtime"], home)
    if jars.java_sources:
        src = home / "src"
        src.mkdir(exist_ok=True)
        for filename, text in jars.java_sources.items():
            (src / filename).write_text(text, encoding="utf-8")
        _run(["javac", "-nowarn", "-d", "classes", "-cp", "lib/*", *(f"src/{f}" for f in jars.java_sources)], home)
    (home / READY_MARK).write_text(stamp, encoding="utf-8")
    return home


def _stamp(jars: JarSet) -> str:
    """What the folder was built from, so a changed pin or source rebuilds it instead of running stale jars."""
    digest = hashlib.sha256("\0".join(f"{k}\0{v}" for k, v in sorted(jars.java_sources.items())).encode()).hexdigest()
    return "\n".join([*jars.artifacts, *(f"-{e}" for e in jars.exclusions), f"sources {digest}"]) + "\n"


def classpath(home: Path) -> str:
    """A java -cp value: compiled classes first, then every jar."""
    parts = [str(home / "classes")] if (home / "classes").is_dir() else []
    return os.pathsep.join([*parts, str(home / "lib" / "*")])


def _pom(jars: JarSet) -> str:
    exclusions = "".join(f"<exclusion><groupId>{escape(g)}</groupId><artifactId>{escape(a)}</artifactId></exclusion>"
                         for g, a in (e.split(":") for e in jars.exclusions))
    deps = []
    for coordinate in jars.artifacts:
        group, artifact, version, *kind = (escape(p) for p in coordinate.split(":"))
        packaging = f"<type>{kind[0]}</type>" if kind else ""  # e.g. zip: a plugin bundle, unpacked by its user
        deps.append(f"    <dependency><groupId>{group}</groupId><artifactId>{artifact}</artifactId>"
                    f"<version>{version}</version>{packaging}<exclusions>{exclusions}</exclusions></dependency>")
    return ("<project xmlns=\"http://maven.apache.org/POM/4.0.0\">\n  <modelVersion>4.0.0</modelVersion>\n"
            f"  <groupId>socpipe.dev</groupId><artifactId>{escape(jars.name)}</artifactId>"
            f"<version>{escape(jars.version)}</version><packaging>pom</packaging>\n"
            "  <dependencies>\n" + "\n".join(deps) + "\n  </dependencies>\n</project>\n")


def _run(command: list[str], cwd: Path) -> None:
    try:
        done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    except FileNotFoundError as error:
        raise RuntimeError(f"{command[0]} not found: the dev servers need Maven 3.8+ and a JDK 17+") from error
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed in {cwd}:\n{done.stdout[-4000:]}{done.stderr[-4000:]}")
