"""A compiled rule and a rule set: what detection needs of the rules, without the Sigma toolchain.

Spark workers unpickle these; keeping them apart from rules/compiler.py (pySigma, YAML) spares each
worker those imports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rules import ir
from rules.logsources import Source

if TYPE_CHECKING:
    from rules.correlation import Correlation
    from rules.filters import CompiledFilter, Suppression


@dataclass(frozen=True, slots=True)
class CompiledRule:
    id: str
    title: str
    level: str
    tags: tuple[str, ...]
    path: str
    logsource: tuple[str | None, str | None, str | None]  # product, category, service
    sources: tuple[Source, ...]
    logsource_exact: bool  # False when only the product could be mapped
    condition: ir.Node
    name: str | None = None  # the Sigma `name` correlations may refer to the rule by


@dataclass(frozen=True, slots=True)
class RuleFailure:
    id: str
    path: str
    reason: str


@dataclass
class RuleSet:
    rules: list[CompiledRule] = field(default_factory=list)
    failures: list[RuleFailure] = field(default_factory=list)
    cache_hits: int = 0  # rule files taken from the compiled-rule cache (rules/cache.py)
    filters: list[CompiledFilter] = field(default_factory=list)  # Sigma meta filters (rules/filters.py)
    suppressions: dict[str, Suppression] = field(default_factory=dict)  # rule id -> its socpipe.suppress
    correlations: list[Correlation] = field(default_factory=list)  # layer 2 (rules/correlation.py), in run order

    def by_id(self) -> dict[str, CompiledRule]:
        return {r.id: r for r in self.rules}
