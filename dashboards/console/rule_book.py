"""What the incident view says about a rule in plain words: its title, description, false-positive notes and
ATT&CK tags with their names, read from the Sigma files the pipeline loads (the compiled rules keep none of it).

The technique names are a small bundled table of the techniques the starter rules name (ATT&CK Enterprise);
a tag outside it is shown by its id alone, and a tactic tag (attack.credential-access) by its words.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

TECHNIQUES = {
    "T1003.001": "OS Credential Dumping: LSASS Memory", "T1003.002": "OS Credential Dumping: Security Account Manager",
    "T1003.004": "OS Credential Dumping: LSA Secrets", "T1021.001": "Remote Services: Remote Desktop Protocol",
    "T1027": "Obfuscated Files or Information", "T1027.010": "Obfuscated Files or Information: Command Obfuscation",
    "T1036.005": "Masquerading: Match Legitimate Name or Location", "T1046": "Network Service Discovery",
    "T1048": "Exfiltration Over Alternative Protocol", "T1053.003": "Scheduled Task/Job: Cron",
    "T1053.005": "Scheduled Task/Job: Scheduled Task", "T1059": "Command and Scripting Interpreter",
    "T1059.001": "Command and Scripting Interpreter: PowerShell", "T1078": "Valid Accounts",
    "T1083": "File and Directory Discovery", "T1098": "Account Manipulation", "T1105": "Ingress Tool Transfer",
    "T1110.001": "Brute Force: Password Guessing", "T1110.003": "Brute Force: Password Spraying",
    "T1112": "Modify Registry", "T1133": "External Remote Services", "T1136.001": "Create Account: Local Account",
    "T1136.002": "Create Account: Domain Account", "T1190": "Exploit Public-Facing Application",
    "T1195.002": "Supply Chain Compromise: Compromise Software Supply Chain",
    "T1204.002": "User Execution: Malicious File", "T1213": "Data from Information Repositories",
    "T1218": "System Binary Proxy Execution", "T1218.011": "System Binary Proxy Execution: Rundll32",
    "T1491.002": "Defacement: External Defacement", "T1505.003": "Server Software Component: Web Shell",
    "T1543.003": "Create or Modify System Process: Windows Service",
    "T1547.001": "Boot or Logon Autostart Execution: Registry Run Keys / Startup Folder",
    "T1548.003": "Abuse Elevation Control Mechanism: Sudo and Sudo Caching",
    "T1552.001": "Unsecured Credentials: Credentials In Files", "T1566.001": "Phishing: Spearphishing Attachment",
    "T1568": "Dynamic Resolution", "T1568.002": "Dynamic Resolution: Domain Generation Algorithms",
    "T1569.002": "System Services: Service Execution", "T1572": "Protocol Tunneling",
    "T1595.001": "Active Scanning: Scanning IP Blocks", "T1595.002": "Active Scanning: Vulnerability Scanning",
}
_TECHNIQUE = re.compile(r"attack\.(t\d{4}(?:\.\d{3})?)$", re.IGNORECASE)
_TACTIC = re.compile(r"attack\.[a-z][a-z_-]+$")


@dataclass(frozen=True)
class Tag:
    tag: str
    id: str | None  # the technique id (T1059.001), None for a tactic or another tag
    name: str | None  # None: not in the bundled table

    @classmethod
    def of(cls, tag: str) -> Tag:
        technique = _TECHNIQUE.match(tag)
        if technique:
            ident = technique.group(1).upper()
            return cls(tag, ident, TECHNIQUES.get(ident))
        if _TACTIC.match(tag):
            return cls(tag, None, tag.removeprefix("attack.").replace("-", " ").replace("_", " ").capitalize())
        return cls(tag, None, None)


@dataclass(frozen=True)
class RuleText:
    title: str
    description: str | None
    falsepositives: tuple[str, ...]
    tags: tuple[Tag, ...]


def tags(values: Iterable[str]) -> tuple[Tag, ...]:
    return tuple(Tag.of(str(v)) for v in values)


def read(paths: Iterable[Path]) -> dict[str, RuleText]:
    """Rule id -> its words, from every Sigma YAML file (one or many documents) under `paths`; a file that
    does not parse is skipped here (the pipeline's own loader reports it)."""
    found: dict[str, RuleText] = {}
    for root in paths:
        files = [root] if root.is_file() else sorted([*root.rglob("*.yml"), *root.rglob("*.yaml")])
        for path in files:
            try:
                documents = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
            except (OSError, UnicodeDecodeError, yaml.YAMLError):
                continue
            for doc in documents:
                if isinstance(doc, dict) and doc.get("id") and doc.get("title"):
                    notes = doc.get("falsepositives") or []
                    found[str(doc["id"])] = RuleText(str(doc["title"]), doc.get("description"),
                                                     tuple(map(str, notes if isinstance(notes, list) else [notes])),
                                                     tags(doc.get("tags") or []))
    return found


def book(paths: Callable[[], Iterable[Path]]) -> Callable[[str], RuleText | None]:
    """A look-up reading the files once, on the first incident shown."""
    cache: dict[str, RuleText] | None = None

    def lookup(rule_id: str) -> RuleText | None:
        nonlocal cache
        if cache is None:
            cache = read(paths())
        return cache.get(rule_id)

    return lookup
