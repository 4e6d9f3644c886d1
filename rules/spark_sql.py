"""Spark SQL from the detection IR, and the pySigma backend behind `sigma convert -t spark`.

Events are a `fields` map<string,string> column plus a `kind` column. Every construct here is plain
open-source Spark SQL that never raises under ANSI mode: numbers are tested by regex before any cast,
CIDR is computed with string functions (no Databricks-only functions); casts are try_casts, since
Spark may hoist a repeated subexpression out of the CASE or AND that guards it, and a NOT is taken over
coalesce(x, false) so a missing field under NOT counts as true, as Sigma says.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from sigma.conversion.state import ConversionState
from sigma.rule import SigmaRule

from rules import ir
from rules.logsources import Source, resolve
from rules.sigma_ir import IRBackend


def literal(text: str) -> str:
    """A Spark SQL string literal (backslash escapes are on, Spark's default)."""
    escaped = (text.replace("\\", "\\\\").replace("'", "\\'")
               .replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t"))
    return f"'{escaped}'"


def whole(pattern: str) -> str:
    """A regex anchored to the whole value in Java: \\z is the very end, so a final newline fails it."""
    return literal(f"^(?:{pattern})\\z")


def like_pattern(pattern: str) -> str:
    """An IR LIKE pattern in Spark's LIKE syntax (% and _, backslash escapes)."""
    tokens = {ir.ANY_RUN: "%", ir.ONE_CHAR: "_"}
    return "".join(
        tokens[p] if isinstance(p, ir.Wildcard) else re.sub(r"([%_\\])", r"\\\1", p) for p in ir.like_parts(pattern)
    )


class SparkSQL:
    """Renders IR nodes as one boolean Spark SQL expression."""

    field_access: ClassVar[str] = "fields[{name}]"
    all_values: ClassVar[str] = "map_values(fields)"
    string_ops: ClassVar[dict[str, str]] = {
        ir.EQ: "{f} = {v}",
        ir.PREFIX: "startswith({f}, {v})",
        ir.SUFFIX: "endswith({f}, {v})",
        ir.CONTAINS: "contains({f}, {v})",
        ir.LIKE: "{f} LIKE {v}",
    }
    compare_ops: ClassVar[dict[str, str]] = {ir.GT: ">", ir.GTE: ">=", ir.LT: "<", ir.LTE: "<="}
    # Java regex flags matching Python's: Unicode case folding, and "\n" as the only line end.
    regex_flags: ClassVar[dict[str, str]] = {"i": "iu", "m": "m", "s": "s"}

    def __init__(self, columns: dict[str, str] | None = None):
        # Fields already projected into columns of their own (field name -> column name).
        self.columns = columns or {}

    def field(self, name: str) -> str:
        return self.columns.get(name) or self.field_access.format(name=literal(name))

    def render(self, node: ir.Node) -> str:
        match node:
            case ir.And(args):
                return "(" + " AND ".join(self.render(a) for a in args) + ")"
            case ir.Or(args):
                return "(" + " OR ".join(self._or_terms(args)) + ")"
            case ir.Not(arg):
                return f"(NOT coalesce({self.render(arg)}, false))"
            case ir.Const(value):
                return "true" if value else "false"
            case ir.Str(None, _, _, _):
                return f"exists({self.all_values}, x -> {self._string('x', node)})"
            case ir.Str(field, _, _, _):
                return self._string(self.field(field), node)
            case ir.Regex(None, _, _):
                return f"exists({self.all_values}, x -> {self._regex('x', node)})"
            case ir.Regex(field, _, _):
                return self._regex(self.field(field), node)
            case ir.Cidr(field, _):
                return self._cidr(f"lower({self.field(field)})", node)
            case ir.Compare(field, op, number):
                f = self.field(field)
                numeric = f"{f} RLIKE {whole(ir.NUMBER_RE)}"
                value = f"try_cast({f} AS DOUBLE)"
                return f"(CASE WHEN {numeric} THEN {value} {self.compare_ops[op]} {number!r}D END)"
            case ir.Exists(field):
                return f"({self.field(field)} IS NOT NULL)"
            case ir.Null(field):
                return f"({self.field(field)} IS NULL)"
            case ir.FieldRef(field, other, op):
                a, b = f"lower({self.field(field)})", f"lower({self.field(other)})"
                return self.string_ops[op].format(f=a, v=b)
        raise TypeError(f"unknown IR node {node!r}")

    def _or_terms(self, args: tuple[ir.Node, ...]) -> list[str]:
        """OR terms, with equalities on one field folded into IN lists (never into one big regex)."""
        groups, rest = ir.equality_sets(args)
        terms = []
        for (field, cased), values in groups.items():
            f = self.field(field) if cased else f"lower({self.field(field)})"
            terms.append(f"{f} IN ({', '.join(literal(v) for v in values)})")
        return terms + [self.render(a) for a in rest]

    def _string(self, f: str, node: ir.Str) -> str:
        target = f if node.cased else f"lower({f})"
        value = like_pattern(node.value) if node.op == ir.LIKE else node.value
        return self.string_ops[node.op].format(f=target, v=literal(value))

    def _regex(self, f: str, node: ir.Regex) -> str:
        flags = "d" + "".join(self.regex_flags[c] for c in node.flags)
        return f"{f} RLIKE {literal(f'(?{flags})' + node.pattern)}"

    def _cidr(self, v: str, node: ir.Cidr) -> str:
        lo, hi = (literal(b) for b in node.bounds)
        if len(node.bounds[0]) == 8:
            hexed = f"concat_ws('', transform(split({v}, '\\\\.'), o -> lpad(lower(hex(try_cast(o AS INT))), 2, '0')))"
            return f"({v} RLIKE {whole(ir.IPV4_RE)} AND {hexed} BETWEEN {lo} AND {hi})"
        left = f"substring_index({v}, '::', 1)"
        right = f"substring_index({v}, '::', -1)"

        def groups(part: str) -> str:
            return f"CASE WHEN {part} = '' THEN cast(array() AS array<string>) ELSE split({part}, ':') END"

        full = (f"CASE WHEN {v} LIKE '%::%' THEN concat({groups(left)}, "
                f"array_repeat('0', 8 - size({groups(left)}) - size({groups(right)})), {groups(right)}) "
                f"ELSE split({v}, ':') END")
        hexed = f"concat_ws('', transform({full}, g -> lpad(g, 4, '0')))"
        return f"({v} RLIKE {whole(ir.IPV6_RE)} AND {hexed} BETWEEN {lo} AND {hi})"

    def sources(self, sources: tuple[Source, ...]) -> str:
        """The log-source filter: the event's kind and the source's field equalities."""
        alternatives = []
        for s in sources:
            terms = [f"kind = {literal(s.kind)}", *(self.render(t) for t in s.condition())]
            alternatives.append("(" + " AND ".join(terms) + ")")
        return "(" + " OR ".join(alternatives) + ")"

    def rule(self, sources: tuple[Source, ...], condition: ir.Node) -> str:
        """A whole rule: its log-source filter and its condition, never NULL."""
        return f"{self.sources(sources)} AND coalesce({self.render(condition)}, false)"


class SparkBackend(IRBackend):
    """pySigma backend: one Spark SQL WHERE condition per rule, log-source filter included."""

    name: ClassVar[str] = "socpipe Spark SQL"
    formats: ClassVar[dict[str, str]] = {
        "default": "Spark SQL boolean expression over socpipe events (kind, fields map)",
        "query": "SELECT over a table named events",
    }
    renderer: ClassVar[SparkSQL] = SparkSQL()

    def _where(self, rule: SigmaRule, query: ir.Node) -> str:
        mapping = resolve(rule.logsource.product, rule.logsource.category, rule.logsource.service)
        return self.renderer.rule(mapping.sources, query)

    def finalize_query_default(self, rule: SigmaRule, query: ir.Node, index: int, state: ConversionState) -> Any:
        return self._where(rule, query)

    def finalize_query_query(self, rule: SigmaRule, query: ir.Node, index: int, state: ConversionState) -> Any:
        return f"SELECT * FROM events WHERE {self._where(rule, query)}"
