"""Suppress from an alert: the fields an analyst ticks on an alert's event become a Sigma meta filter.

The filter (Sigma specification v2.1, `filter: {rules, selection, condition: not selection}`) names the
alert's rule and that rule's log source, so socpipe's own loader (rules/filters.py) applies it to the rule:
an alert whose event has every ticked value is taken away (and recorded) from then on. The console shows how
many alerts in the store it would have removed, then writes it as one YAML file into the tuning folder
(`console.tuning_dir`, to be listed in `rules.paths`) and, with `console.tuning_git`, commits that file to the
git repository the folder is in: tuning is code, reviewed and replayable.
"""

from __future__ import annotations

import re
import subprocess
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

_SLUG = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class Proposal:
    filter_id: str
    rule_id: str
    selection: dict[str, str]
    document: dict[str, Any]

    @property
    def text(self) -> str:
        return yaml.safe_dump(self.document, allow_unicode=True, sort_keys=False)

    def file_name(self) -> str:
        slug = _SLUG.sub("-", str(self.document["title"]).lower()).strip("-")[:60]
        return f"{slug}-{self.filter_id[:8]}.yml"


@dataclass(frozen=True)
class Tuning:
    """Where suppressions go: the folder (none: suppressing is off), whether to commit them, and each rule's
    log source (product, category, service), which the filter must repeat for socpipe to apply it."""

    folder: Path | None
    commit: bool
    logsource_of: Callable[[str], tuple[str | None, str | None, str | None] | None]


def sigma_value(value: Any) -> str:
    """A literal value as a Sigma string: `*`, `?` and `\\` are escaped, so the filter matches it exactly."""
    return re.sub(r"([*?\\])", r"\\\1", str(value))


def propose(alert: dict[str, Any], ticked: list[str], logsource: tuple[str | None, str | None, str | None],
            user: str, incident_id: str, now: datetime | None = None) -> Proposal:
    """The filter that takes away the alerts of `alert`'s rule whose events have the ticked fields' values."""
    event = alert.get("event") or {}
    missing = [name for name in ticked if not isinstance(event.get(name), str | int | float | bool)]
    if not ticked or missing:
        raise ValueError(f"tick fields of the alert's event that hold one value (not: {', '.join(missing)})"
                         if missing else "tick at least one field of the alert's event")
    selection = {name: str(event[name]) for name in dict.fromkeys(ticked)}
    rule = alert["rule"]
    filter_id = str(uuid.uuid4())
    where = ", ".join(f"{k}={v}" for k, v in selection.items())
    document = {
        "title": f"Not {rule.get('title') or rule['id']} where {where}"[:200],
        "id": filter_id,
        "status": "experimental",
        "description": f"Proposed in the socpipe console by {user} from incident {incident_id} "
                       f"(alert {alert.get('alert_id')}).",
        "author": user,
        "date": (now or datetime.now(UTC)).strftime("%Y-%m-%d"),
        "logsource": {k: v for k, v in zip(("product", "category", "service"), logsource, strict=True) if v},
        "filter": {"rules": [rule["id"]], "selection": {k: sigma_value(v) for k, v in selection.items()},
                   "condition": "not selection"},
    }
    return Proposal(filter_id, rule["id"], selection, document)


def write(proposal: Proposal, folder: Path, commit: bool, user: str) -> tuple[Path, str | None]:
    """The filter file in `folder`; with `commit`, committed alone (by path) to the folder's repository.
    Returns the path and the commit id (None without git)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / proposal.file_name()
    path.write_text(proposal.text, encoding="utf-8")
    if not commit:
        return path, None

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(folder), "-c", "user.name=socpipe console",
                               "-c", "user.email=console@socpipe.invalid", *args],
                              check=True, capture_output=True, text=True, timeout=60).stdout.strip()

    try:
        git("add", "--", path.name)
        git("commit", "-q", f"--author={user} <{user}@socpipe.invalid>", "-m",
            f"Tuning: {proposal.document['title']}\n\nFilter {proposal.filter_id} for rule {proposal.rule_id}, "
            f"proposed in the socpipe console by {user}.", "--", path.name)
        return path, git("rev-parse", "HEAD")
    except subprocess.CalledProcessError as error:
        raise RuntimeError(f"the filter is written to {path} but git failed: {error.stderr.strip()}") from None
