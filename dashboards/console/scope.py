"""What a signed-in user may see and do, applied by the server to every query and every write.

An agency user sees the incidents their agency or its subtree owns (agency.id in it); everyone else sees
all. A correlation across agencies is owned by their lowest common unit (Registry.common_ancestor), so an
agency's people never see one that would name another agency beside theirs. Only analysts (and admins)
change incidents; auditors and agency users read, and agency users may acknowledge and comment on their
own agency's incidents (layer 1).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dashboards.console.users import User
from socpipe.registry import Registry

AGENCY_ACTIONS = frozenset({"acknowledge", "comment"})
# "suppress": write a Sigma filter from an incident's alert (dashboards/console/suppress.py).
ANALYST_ACTIONS = frozenset({"acknowledge", "comment", "assign", "status", "verdict", "suppress"})


@dataclass(frozen=True)
class Scope:
    user: User
    agencies: frozenset[str] | None  # None: every agency
    registry: Registry | None = field(default=None, compare=False, repr=False)

    @classmethod
    def of(cls, user: User, registry: Registry | None) -> Scope:
        if user.role == "agency":
            assert user.agency is not None
            return cls(user, frozenset(registry.subtree(user.agency) if registry else [user.agency]), registry)
        return cls(user, None, registry)

    def subtree(self, agency: str) -> list[str]:
        """An agency and the units under it, as a filter names them (an unknown agency: itself alone, which
        finds nothing); the scope still narrows the result."""
        try:
            return self.registry.subtree(agency) if self.registry else [agency]
        except KeyError:
            return [agency]

    def filter(self) -> list[dict[str, Any]]:
        """The query clauses that restrict a search to this scope (none for unrestricted users)."""
        if self.agencies is None:
            return []
        ids = sorted(self.agencies)
        return [{"terms": {"agency.id": ids}}]

    def sees(self, document: dict[str, Any]) -> bool:
        if self.agencies is None:
            return True
        return (document.get("agency") or {}).get("id") in self.agencies

    def may(self, action: str) -> bool:
        role = self.user.role
        if role in ("analyst", "admin"):
            return action in ANALYST_ACTIONS
        return role == "agency" and action in AGENCY_ACTIONS
