"""Python from the detection IR: each rule becomes one compiled function `match(f, l, e) -> bool`.

`f` is the event's raw field dict, `l` the same fields lowercased on first use (a missing field reads
as ""), `e` the EventView (for keywords, which search every value). Generated source is plain text, so
it ships to Spark workers as strings and compiles there once.

With `guards`, a regex or LIKE leaf first tests a substring every match needs (one C call), so the
regex engine only runs on values that could match: some SigmaHQ regexes cost 10-30 us a call.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any, ClassVar

from rules import ir
from rules.literals import regex_literals

_NUMBER = re.compile(ir.NUMBER_RE)
_IPV4 = re.compile(ir.IPV4_RE)
_IPV6 = re.compile(ir.IPV6_RE)


class Lowered(dict):
    """Field values lowercased once per event, on first use; a missing field reads as ""."""

    __slots__ = ("raw",)

    def __init__(self, raw: dict[str, str]):
        super().__init__()
        self.raw = raw

    def __missing__(self, name: str) -> str:
        value = self.raw.get(name)
        if value is None:
            return ""
        lowered = self[name] = value.lower()
        return lowered


class EventView:
    """What a compiled rule sees of one event."""

    __slots__ = ("f", "l", "_lower_values")

    def __init__(self, fields: dict[str, str]):
        self.f = fields
        self.l = Lowered(fields)
        self._lower_values: list[str] | None = None

    @property
    def lower_values(self) -> list[str]:
        if self._lower_values is None:
            self._lower_values = [self.l[k] for k in self.f]
        return self._lower_values


# Helpers the generated code calls; each mirrors one construct of rules/spark_sql.py.
def _search(pattern: re.Pattern[str], value: str | None) -> bool:
    return value is not None and pattern.search(value) is not None


def _hex_ip(value: str | None, version: int) -> str | None:
    if value is None:
        return None
    v = value.lower()
    if version == 4:
        return f"{int(ipaddress.IPv4Address(v)):08x}" if _IPV4.fullmatch(v) else None
    return f"{int(ipaddress.IPv6Address(v)):032x}" if _IPV6.fullmatch(v) else None


def _cidr(value: str | None, version: int, lo: str, hi: str) -> bool:
    h = _hex_ip(value, version)
    return h is not None and lo <= h <= hi


def _number(value: str | None) -> float | None:
    return float(value) if value is not None and _NUMBER.fullmatch(value) else None


def _compare(value: str | None, op: str, n: float) -> bool:
    x = _number(value)
    if x is None:
        return False
    return {ir.GT: x > n, ir.GTE: x >= n, ir.LT: x < n, ir.LTE: x <= n}[op]


def _fieldref(f: dict[str, str], a: str, b: str, op: str) -> bool:
    x, y = f.get(a), f.get(b)
    if x is None or y is None:
        return False
    x, y = x.lower(), y.lower()
    return {ir.EQ: x == y, ir.PREFIX: x.startswith(y), ir.SUFFIX: x.endswith(y), ir.CONTAINS: y in x}[op]


HELPERS: dict[str, Any] = {"_search": _search, "_cidr": _cidr, "_compare": _compare, "_fieldref": _fieldref}


class PythonCode:
    """Renders IR nodes as one Python boolean expression; regexes become named constants."""

    string_ops: ClassVar[dict[str, str]] = {
        ir.EQ: "{f} == {v}",
        ir.PREFIX: "{f}.startswith({v})",
        ir.SUFFIX: "{f}.endswith({v})",
        ir.CONTAINS: "{v} in {f}",
    }

    def __init__(self, guards: bool = True) -> None:
        self.constants: dict[str, Any] = {}
        self.guards = guards

    def constant(self, value: Any) -> str:
        name = f"_c{len(self.constants)}"
        self.constants[name] = value
        return name

    def render(self, node: ir.Node) -> str:
        match node:
            case ir.And(args):
                return "(" + " and ".join(self.render(a) for a in args) + ")"
            case ir.Or(args):
                return "(" + " or ".join(self._or_terms(args)) + ")"
            case ir.Not(arg):
                return f"(not {self.render(arg)})"
            case ir.Const(value):
                return repr(value)
            case ir.Str(None, _, _, cased):
                values = "e.f.values()" if cased else "e.lower_values"
                return f"any({self._string('x', node)} for x in {values})"
            case ir.Str(field, ir.EQ, "", cased):
                return f"(f.get({field!r}) == '')"
            case ir.Str(field, _, _, cased):
                return self._string(self._value(field, cased), node)
            case ir.Regex(None, _, _):
                return f"any(_search({self._compiled(node)}, x) for x in e.f.values())"
            case ir.Regex(field, _, _):
                return f"({self._regex_guard(field, node.pattern)}_search({self._compiled(node)}, f.get({field!r})))"
            case ir.Cidr(field, _):
                lo, hi = node.bounds
                version = 4 if len(lo) == 8 else 6
                return f"_cidr(f.get({field!r}), {version}, {lo!r}, {hi!r})"
            case ir.Compare(field, op, number):
                return f"_compare(f.get({field!r}), {op!r}, {number!r})"
            case ir.Exists(field):
                return f"(f.get({field!r}) is not None)"
            case ir.Null(field):
                return f"(f.get({field!r}) is None)"
            case ir.FieldRef(field, other, op):
                return f"_fieldref(f, {field!r}, {other!r}, {op!r})"
        raise TypeError(f"unknown IR node {node!r}")

    def _or_terms(self, args: tuple[ir.Node, ...]) -> list[str]:
        """OR terms, with equalities on one field folded into one set lookup, and prefixes (suffixes) of
        one field into one startswith (endswith) call with a tuple: same truth value, one C call."""
        groups, rest = ir.equality_sets(args)
        terms = []
        for (field, cased), values in groups.items():
            terms.append(f"{self._value(field, cased)} in {self.constant(frozenset(values))}")
        affixes: dict[tuple[str, str, bool], list[str]] = {}
        others = []
        for a in rest:
            if isinstance(a, ir.Str) and a.op in (ir.PREFIX, ir.SUFFIX) and a.field is not None:
                affixes.setdefault((a.op, a.field, a.cased), []).append(a.value)
            else:
                others.append(a)
        for (op, field, cased), values in affixes.items():
            method = "startswith" if op == ir.PREFIX else "endswith"
            terms.append(f"{self._value(field, cased)}.{method}({tuple(values)!r})")
        return terms + [self.render(a) for a in others]

    @staticmethod
    def _value(field: str, cased: bool) -> str:
        return f"f.get({field!r}, '')" if cased else f"l[{field!r}]"

    def _string(self, f: str, node: ir.Str) -> str:
        if node.op == ir.LIKE:
            pattern = re.compile(ir.like_to_regex(node.value), re.DOTALL)
            return f"({self._like_guard(f, node.value)}{self.constant(pattern)}.fullmatch({f}) is not None)"
        return self.string_ops[node.op].format(f=f, v=repr(node.value))

    def _regex_guard(self, field: str, pattern: str) -> str:
        """`... and ` when one of the regex's required literals occurs in the lowercased value, or the value is
        not ASCII (case-insensitive matching folds a few non-ASCII letters onto ASCII ones); "" without one."""
        texts = regex_literals(pattern) if self.guards else None
        if not texts:
            return ""
        value = f"l[{field!r}]"
        return "(" + " or ".join([*(f"{t!r} in {value}" for t in sorted(texts)), f"not {value}.isascii()"]) + ") and "

    def _like_guard(self, f: str, pattern: str) -> str:
        """`run in f and ` for the longest text run of a LIKE pattern, which every match contains as written."""
        runs = [p for p in ir.like_parts(pattern) if not isinstance(p, ir.Wildcard)]
        run = max(runs, key=len, default="")
        return f"{run!r} in {f} and " if self.guards and run else ""

    def _compiled(self, node: ir.Regex) -> str:
        flags = 0
        for c in node.flags:
            flags |= {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL}[c]
        return self.constant(re.compile(node.pattern, flags))


Predicate = Callable[[dict[str, str], dict[str, str], EventView], bool]


def compile_predicate(node: ir.Node, guards: bool = True) -> Predicate:
    """The IR as a Python function (f, l, e) -> bool; `guards` off renders every leaf as written (the
    plain reference path)."""
    code = PythonCode(guards)
    source = f"lambda f, l, e: {code.render(node)}"
    namespace = {**HELPERS, **code.constants}
    return eval(compile(source, "<sigma rule>", "eval"), namespace)  # noqa: S307 - our own generated code
