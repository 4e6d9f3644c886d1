"""The console's reads as the signed-in user's own user of a secured search store (console.read_as).

The console signs in to the store as itself (opensearch.username) and names, on every read, the store's
user of the person signed in (the security plugin's REST impersonation: the `opendistro_security_impersonate_as`
header, allowed by plugins.security.authcz.rest_impersonation_user). The read then runs with that user's
roles only: an agency contact's reads carry their agency's document-level security, so a bug in the
console's own scope check (dashboards/console/scope.py) still cannot show them another agency's documents.
No password of theirs is needed. Writes stay the console's own: DLS does not restrict writes, so the
console checks each itself (Scope.may, and the incident read through DLS before it is changed).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping

from opensearchpy import OpenSearch

from dashboards.console.users import ROLES, User
from socpipe import search
from socpipe.config import Config

Reader = Callable[[User], OpenSearch]


def reader(config: Config) -> Reader | None:
    """The client a user's reads go through, one per store user (cached); None when console.read_as is
    not set (the console reads as itself, as on an unsecured store)."""
    read_as = config.get("console", "read_as")
    if not read_as:
        return None
    principals = _checked(read_as)
    username, password = config.get("opensearch", "username"), config.get("opensearch", "password")
    if not username:
        raise ValueError("console.read_as needs opensearch.username: the console's own user, which impersonates")

    @functools.cache
    def client(principal: str) -> OpenSearch:
        return search.client_as(config, username, password, impersonate=principal)

    return lambda user: client(principal_of(principals, user))


def principal_of(read_as: Mapping[str, str], user: User) -> str:
    """The store's user a console user reads as ("{agency}" filled with theirs)."""
    principal = read_as[user.role]
    if "{agency}" in principal:
        if not user.agency:
            raise ValueError(f"{user.name} has no agency to read as")
        principal = principal.replace("{agency}", user.agency)
    return principal


def _checked(read_as: object) -> dict[str, str]:
    """Every role named (a role left out would read as the console itself: refused, not guessed)."""
    if not isinstance(read_as, Mapping):
        raise ValueError("console.read_as: a mapping of console role to the store's user")
    missing = [role for role in ROLES if not isinstance(read_as.get(role), str) or not read_as[role]]
    if missing:
        raise ValueError(f"console.read_as names no store user for {', '.join(missing)}")
    return {role: read_as[role] for role in ROLES}
