"""The detection IR: what a Sigma rule means once pySigma has applied modifiers and the pipeline.

Both targets are rendered from this one tree (Spark SQL in spark_sql.py, Python in python_code.py),
so their semantics can only differ where a leaf is rendered, and the differential tests pin that down.
Events are flat maps of field name -> string; a missing field is absent from the map.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

# String match operators. Case-insensitive unless `cased`; `like` is a general */? pattern.
EQ, PREFIX, SUFFIX, CONTAINS, LIKE = "eq", "prefix", "suffix", "contains", "like"
# Numeric comparison operators (Sigma's gt/gte/lt/lte; `neq` is a negated match, built by pySigma).
GT, GTE, LT, LTE = "gt", "gte", "lt", "lte"

# Whole-value patterns (targets anchor them: Python fullmatch, Java ^...\z).
# A number as both targets accept it: no surrounding blanks, no hex, no inf/nan words, no "1_000".
NUMBER_RE = r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?"
# IP literals as both targets accept them for `cidr` (lowercased first): dotted quads without
# leading zeros, and IPv6 in full or "::"-compressed form (no zone index, no embedded IPv4).
_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])"
IPV4_RE = rf"{_OCTET}(\.{_OCTET}){{3}}"


def _ipv6_re() -> str:
    """Full form, or "::" standing for at least one zero group with at most 7 groups around it."""
    h = "[0-9a-f]{1,4}"

    def groups(n: int) -> str:
        return "" if n == 0 else f"({h}:){{{n - 1}}}{h}"

    alternatives = [f"({h}:){{7}}{h}"] + [
        f"{groups(left)}::{groups(right)}" for left in range(8) for right in range(8 - left)
    ]
    return "(" + "|".join(alternatives) + ")"


IPV6_RE = _ipv6_re()


@dataclass(frozen=True, slots=True)
class Str:
    """A string match on one field, or on every field when `field` is None (Sigma keywords).

    For `like`, `value` is the pattern with `*` and `?` as wildcards and `\\` escaping them.
    """

    field: str | None
    op: str
    value: str
    cased: bool = False


@dataclass(frozen=True, slots=True)
class Regex:
    field: str | None
    pattern: str
    flags: str = ""  # any of "i", "m", "s"


@dataclass(frozen=True, slots=True)
class Cidr:
    field: str
    network: str  # normalised, e.g. "10.0.0.0/8" or "fd00::/8"

    @property
    def bounds(self) -> tuple[str, str]:
        """The first and last address of the network as fixed-width lowercase hex strings."""
        net = ipaddress.ip_network(self.network)
        width = 8 if net.version == 4 else 32
        return (f"{int(net.network_address):0{width}x}", f"{int(net.broadcast_address):0{width}x}")


@dataclass(frozen=True, slots=True)
class Compare:
    field: str
    op: str
    number: float


@dataclass(frozen=True, slots=True)
class Exists:
    field: str


@dataclass(frozen=True, slots=True)
class Null:
    """Sigma `null`: the field is missing. A field present with the empty value is not null: that is
    `''` (Str EQ ""), and SigmaHQ rules use both, as filters of their own."""

    field: str


@dataclass(frozen=True, slots=True)
class FieldRef:
    """Sigma `fieldref`: the value of `field` compared, case-insensitively, with the value of `other`."""

    field: str
    other: str
    op: str = EQ  # eq, prefix or suffix


@dataclass(frozen=True, slots=True)
class Const:
    value: bool


@dataclass(frozen=True, slots=True)
class And:
    args: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    args: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    arg: Node


Leaf = Str | Regex | Cidr | Compare | Exists | Null | FieldRef | Const
Node = Leaf | And | Or | Not


def and_(args: list[Node]) -> Node:
    """AND with nested ANDs flattened and constants folded."""
    flat: list[Node] = []
    for a in args:
        if isinstance(a, Const):
            if not a.value:
                return a
            continue
        flat.extend(a.args if isinstance(a, And) else (a,))
    if not flat:
        return Const(True)
    return flat[0] if len(flat) == 1 else And(tuple(flat))


def or_(args: list[Node]) -> Node:
    """OR with nested ORs flattened and constants folded."""
    flat: list[Node] = []
    for a in args:
        if isinstance(a, Const):
            if a.value:
                return a
            continue
        flat.extend(a.args if isinstance(a, Or) else (a,))
    if not flat:
        return Const(False)
    return flat[0] if len(flat) == 1 else Or(tuple(flat))


def not_(arg: Node) -> Node:
    if isinstance(arg, Const):
        return Const(not arg.value)
    if isinstance(arg, Not):
        return arg.arg
    return Not(arg)


def check_regex(node: Regex) -> None:
    """Reject a pattern Python cannot compile, so both targets only ever see valid regexes."""
    try:
        re.compile(node.pattern)
    except re.error as e:
        raise ValueError(f"regular expression {node.pattern!r} does not compile: {e}") from e


class Wildcard(str):
    """A wildcard token of a LIKE pattern, distinct from the same character written as text."""


ANY_RUN, ONE_CHAR = Wildcard("*"), Wildcard("?")


def like_parts(pattern: str) -> list[str]:
    """A LIKE pattern as text runs and the ANY_RUN / ONE_CHAR tokens, escapes resolved."""
    parts: list[str] = []
    text: list[str] = []
    chars = iter(pattern)
    for c in chars:
        if c in "*?":
            if text:
                parts.append("".join(text))
                text = []
            parts.append(ANY_RUN if c == "*" else ONE_CHAR)
        else:
            text.append(next(chars, "\\") if c == "\\" else c)
    if text:
        parts.append("".join(text))
    return parts


def like_to_regex(pattern: str) -> str:
    """A LIKE pattern as a regex to fullmatch (`*` any run, `?` one char)."""
    tokens = {ANY_RUN: ".*", ONE_CHAR: "."}
    return "".join(tokens[p] if isinstance(p, Wildcard) else re.escape(p) for p in like_parts(pattern))


def equality_sets(args: tuple[Node, ...]) -> tuple[dict[tuple[str, bool], list[str]], list[Node]]:
    """OR arguments split into non-empty equalities grouped by (field, cased), and the rest.

    Both renderers fold each group into one set test (IN list, set lookup), never into a regex.
    """
    groups: dict[tuple[str, bool], list[str]] = {}
    rest: list[Node] = []
    for a in args:
        if isinstance(a, Str) and a.op == EQ and a.field is not None and a.value:
            groups.setdefault((a.field, a.cased), []).append(a.value)
        else:
            rest.append(a)
    return groups, rest


def fields_of(node: Node) -> set[str]:
    """Every field a tree reads (keywords read all fields and add nothing here)."""
    if isinstance(node, (And, Or)):
        return set().union(*(fields_of(a) for a in node.args))
    if isinstance(node, Not):
        return fields_of(node.arg)
    if isinstance(node, FieldRef):
        return {node.field, node.other}
    field = getattr(node, "field", None)
    return {field} if field else set()


def has_keywords(node: Node) -> bool:
    """Whether a tree has a keyword leaf (a Str or Regex on every field)."""
    if isinstance(node, (And, Or)):
        return any(has_keywords(a) for a in node.args)
    if isinstance(node, Not):
        return has_keywords(node.arg)
    return isinstance(node, (Str, Regex)) and node.field is None
