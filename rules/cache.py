"""The compiled-rule cache: what a rule file compiles to, kept on disk and reused by every command.

Compiling costs ~27 ms a rule (pySigma parsing and modifiers), so a large rule set took minutes at every
start. An entry holds one file's compiled rules and failures, keyed by the file's bytes, the placeholder
values, the socpipe version and the compiler's own source: a changed rule file (or placeholder, or
compiler) recompiles only what it affects, and nothing stale is ever used.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from importlib import metadata
from pathlib import Path
from typing import Any

# The modules whose code decides what a rule compiles to.
_COMPILER_MODULES = ("compiler.py", "sigma_ir.py", "ir.py", "logsources.py", "model.py", "cache.py")


def _code_fingerprint() -> str:
    here = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for name in _COMPILER_MODULES:
        digest.update((here / name).read_bytes())
    try:
        digest.update(metadata.version("socpipe").encode())
        digest.update(metadata.version("pysigma").encode())
    except metadata.PackageNotFoundError:
        pass
    return digest.hexdigest()


class RuleCache:
    """One pickle per (rule file content, placeholders, compiler) under `folder`."""

    def __init__(self, folder: Path, placeholders: dict[str, list[str]]) -> None:
        self.folder = folder
        self._salt = hashlib.sha256((_code_fingerprint() + json.dumps(placeholders, sort_keys=True)).encode()).digest()
        self.hits = 0
        self.misses = 0

    def key(self, content: bytes, path: Path) -> str:
        """Rules carry their file's path (alerts name it), so the path is part of the key too."""
        return hashlib.sha256(self._salt + str(path).encode() + b"\0" + content).hexdigest()

    def get(self, key: str) -> list[Any] | None:
        try:
            with (self.folder / key[:2] / key).open("rb") as f:
                items = pickle.load(f)
        except FileNotFoundError:
            self.misses += 1
            return None
        except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError, TypeError, ValueError):
            self.misses += 1  # a damaged or foreign entry is recompiled and replaced
            return None
        self.hits += 1
        return items

    def put(self, key: str, items: list[Any]) -> None:
        """Written to a temporary name and renamed, so a reader never sees half an entry."""
        target = self.folder / key[:2] / key
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f"{key}.{os.getpid()}.tmp")
        with temporary.open("wb") as f:
            pickle.dump(items, f, protocol=pickle.HIGHEST_PROTOCOL)
        temporary.replace(target)
