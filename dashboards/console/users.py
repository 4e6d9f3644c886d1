"""Local console accounts: a YAML file of users with argon2 password hashes, roles and an agency.

Roles: `analyst` (every agency, every action), `agency` (one agency and its subtree), `auditor` (read
only, everything), `admin` (users). The file holds hashes only; `socpipe users add|passwd|disable` edits it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import yaml
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

ROLES = ("analyst", "agency", "auditor", "admin")
LANGUAGES = ("vi", "en")
_HASHER = PasswordHasher()
# Verifying against this when the user is unknown costs the same time as a real check (no user probing).
_DUMMY = _HASHER.hash("socpipe: no such user")


@dataclass(frozen=True)
class User:
    name: str
    role: str
    agency: str | None = None
    language: str = "vi"
    password_hash: str = ""
    disabled: bool = False

    def __repr__(self) -> str:
        return f"User({self.name!r}, {self.role!r}, agency={self.agency!r})"  # never the hash


class Users:
    """The users file, read on every change so `socpipe users` edits apply without a restart."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def all(self) -> dict[str, User]:
        if not self.path.exists():
            return {}
        data = yaml.safe_load(self.path.read_text(encoding="utf-8")) or {}
        return {name: User(name=name, **fields) for name, fields in data.items()}

    def get(self, name: str) -> User | None:
        return self.all().get(name)

    def authenticate(self, name: str, password: str) -> User | None:
        user = self.get(name)
        try:
            _HASHER.verify(user.password_hash if user else _DUMMY, password)
        except (VerificationError, InvalidHashError):
            return None
        return user if user and not user.disabled else None

    def add(self, name: str, password: str, role: str, agency: str | None = None, language: str = "vi") -> User:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r} (known: {', '.join(ROLES)})")
        if (role == "agency") != (agency is not None):
            raise ValueError("an `agency` user needs --agency, and only an agency user takes one")
        if language not in LANGUAGES:
            raise ValueError(f"language must be one of {', '.join(LANGUAGES)}")
        users = self.all()
        if name in users:
            raise ValueError(f"user {name!r} exists already (use `socpipe users passwd`)")
        users[name] = User(name, role, agency, language, _HASHER.hash(password))
        self._save(users)
        return users[name]

    def passwd(self, name: str, password: str) -> None:
        users = self._existing(name)
        users[name] = User(**{**asdict(users[name]), "password_hash": _HASHER.hash(password)})
        self._save(users)

    def set_language(self, name: str, language: str) -> None:
        """The user's own choice of the console's language, kept with the account."""
        if language not in LANGUAGES:
            raise ValueError(f"language must be one of {', '.join(LANGUAGES)}")
        users = self._existing(name)
        users[name] = User(**{**asdict(users[name]), "language": language})
        self._save(users)

    def disable(self, name: str) -> None:
        users = self._existing(name)
        users[name] = User(**{**asdict(users[name]), "disabled": True})
        self._save(users)

    def _existing(self, name: str) -> dict[str, User]:
        users = self.all()
        if name not in users:
            raise ValueError(f"no user {name!r} in {self.path}")
        return users

    def _save(self, users: dict[str, User]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {u.name: {k: v for k, v in asdict(u).items() if k != "name"} for u in users.values()}
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=True), encoding="utf-8")
        temporary.chmod(0o600)
        temporary.replace(self.path)
