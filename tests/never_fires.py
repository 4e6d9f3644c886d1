"""Rules that can never fire under socpipe's flattening and routing: each Windows rule against events built
from its own selection values.

For each rule and each Windows log source it routes to, a search over the rule's condition (after pySigma,
in the IR) picks leaves to make true and false, gives each field a value that does so, and keeps the first
assignment on which the rule itself is true (the rule's own predicate, on the plain field map, with the log
source's System Channel and EventID present). That assignment is then written as a Windows event in the
EVTX JSON shape, as a real log would hold it (System values in System, the rest as EventData <Data Name=>,
an empty value as an empty element, a System name whose value differs from the System one in the event's own
data, as event 104's UserData Channel), and goes through the reader, normalisation and the Detector. A rule
that no such event fires is listed; one for which no assignment was found is listed apart (the search's
limit or a contradiction in the rule).

    .venv/bin/python -m tests.never_fires ../shared/sigmahq     # prints the counts and both lists
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from re import _constants as sre  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]

import pyarrow as pa

from enrich.normalise import normalise
from ingest.parsers import _SYSTEM_FIELDS, parse_evtx_json
from layers.matcher.engine import Detector
from rules import ir
from rules.compiler import load_rules
from rules.logsources import Source
from rules.model import CompiledRule
from rules.python_code import EventView, compile_predicate
from socpipe.config import load_config
from socpipe.events import WINDOWS, Event

KEYWORDS = "\x00keywords"  # the pseudo field of keyword leaves (values searched in every field)
Choice = tuple[ir.Node, bool]  # a leaf and the truth it must have
MAX_STEPS = 4000  # search steps per rule and source
MAX_TRIES = 60  # assignments tried per rule and source


@dataclass(frozen=True)
class Verdict:
    rule: CompiledRule
    built: bool  # an assignment satisfying the rule was found
    fires: bool
    event: dict[str, object] | None = None  # the EVTX JSON document tried last
    # Fires too when each System name it reads (Provider_Name, Computer, Level, ...) is also in the event's own
    # data, with the rule's value there and another in System; None when it reads no such name.
    fires_on_clash: bool | None = None
    # Fires only when the rule's Channel or EventID, which differ from its log source's, are in the event's
    # own data (as event 104's UserData Channel): not when they are the System values, which route it away.
    only_through_own_data: bool = False


# ---- the search over the condition ---------------------------------------------------------------------

class _Budget:
    def __init__(self) -> None:
        self.steps = 0

    def spend(self) -> bool:
        self.steps += 1
        return self.steps <= MAX_STEPS


def choices(node: ir.Node, want: bool, budget: _Budget) -> Iterator[tuple[Choice, ...]]:
    """Sets of (leaf, truth) that make `node` come out as `want` (if the values can be found)."""
    if not budget.spend():
        return
    match node:
        case ir.Const(value):
            if value == want:
                yield ()
        case ir.Not(arg):
            yield from choices(arg, not want, budget)
        case ir.And(args) | ir.Or(args):
            every = isinstance(node, ir.And) == want  # all arguments must come out as `want`
            if every:
                yield from _all(list(args), want, (), budget)
            else:
                for arg in args:
                    yield from choices(arg, want, budget)
        case _:
            yield ((node, want),)


def _all(args: list[ir.Node], want: bool, made: tuple[Choice, ...], budget: _Budget) -> Iterator[tuple[Choice, ...]]:
    if not args:
        yield made
        return
    for found in itertools.islice(choices(args[0], want, budget), 8):
        combined = made + found
        if _consistent(combined):
            yield from _all(args[1:], want, combined, budget)


def _consistent(made: tuple[Choice, ...]) -> bool:
    """Cheap contradictions: a leaf true and false, two different equalities, null and a value."""
    truth: dict[ir.Node, bool] = {}
    equal: dict[str | None, str] = {}
    null: set[str] = set()
    valued: set[str] = set()
    for leaf, want in made:
        if truth.setdefault(leaf, want) != want:
            return False
        field = getattr(leaf, "field", None)
        if (want and isinstance(leaf, ir.Str) and leaf.op == ir.EQ and field is not None
                and equal.setdefault(field, leaf.value.lower()) != leaf.value.lower()):
            return False
        if field is not None and ((want and isinstance(leaf, ir.Null)) or (not want and isinstance(leaf, ir.Exists))):
            null.add(field)
        elif want and field is not None:
            valued.add(field)
    return not null & valued


# ---- values for the chosen leaves ----------------------------------------------------------------------

def regex_example(pattern: str, flags: str = "", at_least_one: bool = False) -> str | None:
    """A string the regex finds (search), built from its parse tree; None when none was found."""
    try:
        tree = sre_parse.parse(pattern, re.IGNORECASE if "i" in flags else 0)
        text = _sample(tree, {}, at_least_one)
    except (re.error, ValueError, RecursionError):
        return None
    compiled = re.compile(pattern, _flags(flags))
    return text if compiled.search(text) else None


def _flags(flags: str) -> int:
    value = 0
    for c in flags:
        value |= {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL}[c]
    return value


_CATEGORY = {sre.CATEGORY_DIGIT: "0", sre.CATEGORY_NOT_DIGIT: "a", sre.CATEGORY_WORD: "a",
             sre.CATEGORY_NOT_WORD: " ", sre.CATEGORY_SPACE: " ", sre.CATEGORY_NOT_SPACE: "a"}


def _sample(tree: object, groups: dict[int, str], at_least_one: bool) -> str:
    out = []
    for op, arg in tree:  # type: ignore[attr-defined]
        if op is sre.LITERAL:
            out.append(chr(arg))
        elif op is sre.NOT_LITERAL:
            out.append("x" if chr(arg) != "x" else "y")
        elif op is sre.ANY:
            out.append("x")
        elif op is sre.IN:
            out.append(_in_set(arg))
        elif op is sre.BRANCH:
            out.append(_sample(arg[1][0], groups, at_least_one))
        elif op is sre.SUBPATTERN:
            text = _sample(arg[-1], groups, at_least_one)
            if arg[0] is not None:
                groups[arg[0]] = text
            out.append(text)
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT):
            low, _, body = arg
            out.append(_sample(body, groups, at_least_one) * max(low, 1 if at_least_one else 0))
        elif op is sre.GROUPREF:
            out.append(groups.get(arg, ""))
        elif op is sre.ATOMIC_GROUP:
            out.append(_sample(arg, groups, at_least_one))
        elif op is sre.CATEGORY:
            out.append(_CATEGORY.get(arg, "a"))
        elif op in (sre.AT, sre.ASSERT, sre.ASSERT_NOT):
            continue
        else:
            raise ValueError(f"regex construct {op}")
    return "".join(out)


def _in_set(items: list[tuple[object, object]]) -> str:
    if items and items[0][0] is sre.NEGATE:
        excluded = items[1:]
        for candidate in "xaq0_ ~":
            if not any(_in_item(candidate, op, arg) for op, arg in excluded):
                return candidate
        raise ValueError("negated set")
    op, arg = items[0]
    if op is sre.LITERAL:
        return chr(arg)  # type: ignore[arg-type]
    if op is sre.RANGE:
        return chr(arg[0])  # type: ignore[index]
    if op is sre.CATEGORY:
        return _CATEGORY.get(arg, "a")
    raise ValueError(f"set item {op}")


def _in_item(c: str, op: object, arg: object) -> bool:
    if op is sre.LITERAL:
        return c == chr(arg)  # type: ignore[arg-type]
    if op is sre.RANGE:
        return arg[0] <= ord(c) <= arg[1]  # type: ignore[index]
    if op is sre.CATEGORY:
        return re.fullmatch({sre.CATEGORY_DIGIT: r"\d", sre.CATEGORY_NOT_DIGIT: r"\D", sre.CATEGORY_WORD: r"\w",
                             sre.CATEGORY_NOT_WORD: r"\W", sre.CATEGORY_SPACE: r"\s",
                             sre.CATEGORY_NOT_SPACE: r"\S"}.get(arg, "."), c) is not None
    return False


def _like_example(pattern: str) -> str:
    return "".join("" if p is ir.ANY_RUN else "x" if p is ir.ONE_CHAR else p for p in ir.like_parts(pattern))


def leaf_example(leaf: ir.Node) -> str | None:
    """A value that makes one leaf true on its own."""
    match leaf:
        case ir.Str(_, ir.LIKE, value, _):
            return _like_example(value)
        case ir.Str(_, _, value, _):
            return value
        case ir.Regex(_, pattern, flags):
            return regex_example(pattern, flags) or regex_example(pattern, flags, at_least_one=True)
        case ir.Cidr(_, network):
            return str(ipaddress.ip_network(network).network_address)
        case ir.Compare(_, op, number):
            shift = {ir.GT: 1, ir.GTE: 0, ir.LT: -1, ir.LTE: 0}[op]
            return str(int(number) + shift) if float(number).is_integer() else str(number + shift)
        case ir.Exists(_) | ir.Null(_):
            return "x"
    return None


def _candidates(yes: list[ir.Node]) -> Iterator[str]:
    """Values to try for a field that must make every leaf of `yes` true."""
    examples = [e for e in (leaf_example(leaf) for leaf in yes) if e is not None]
    equal = [leaf.value for leaf in yes if isinstance(leaf, ir.Str) and leaf.op == ir.EQ]
    if equal:
        yield equal[0]
        return
    prefixes = sorted((leaf.value for leaf in yes if isinstance(leaf, ir.Str) and leaf.op == ir.PREFIX), key=len)
    suffixes = sorted((leaf.value for leaf in yes if isinstance(leaf, ir.Str) and leaf.op == ir.SUFFIX), key=len)
    middle = [leaf_example(leaf) or "" for leaf in yes
              if not (isinstance(leaf, ir.Str) and leaf.op in (ir.PREFIX, ir.SUFFIX))]
    head, tail = (prefixes[-1] if prefixes else ""), (suffixes[-1] if suffixes else "")
    yield head + "".join(middle) + tail
    yield head + " ".join(middle) + tail
    yield from examples


def values_for(made: tuple[Choice, ...], defaults: dict[str, str]) -> dict[str, str] | None:
    """Field values (absent fields left out) that meet every choice, or None when none were found."""
    yes: dict[str, list[ir.Node]] = {}
    no: dict[str, list[ir.Node]] = {}
    refs: list[Choice] = []
    for leaf, want in made:
        if isinstance(leaf, ir.FieldRef):
            refs.append((leaf, want))
            continue
        field = getattr(leaf, "field", None) or KEYWORDS
        (yes if want else no).setdefault(field, []).append(leaf)
    values: dict[str, str] = {}
    for field in sorted(set(yes) | set(no) | set(defaults)):
        found = _field_value(field, yes.get(field, []), no.get(field, []), defaults.get(field))
        if found is False:
            return None
        if found is not None:
            values[field] = found
    for leaf, want in refs:
        _put_reference(values, leaf, want)  # type: ignore[arg-type]
    return values


def _field_value(field: str, yes: list[ir.Node], no: list[ir.Node], default: str | None) -> str | None | bool:
    """A value meeting the leaves, None for absent, False when there is none."""
    if any(isinstance(leaf, ir.Null) for leaf in yes) or any(isinstance(leaf, ir.Exists) for leaf in no):
        return None if len(yes) == sum(isinstance(leaf, ir.Null) for leaf in yes) else False
    tests = [(compile_predicate(leaf), True) for leaf in yes] + [(compile_predicate(leaf), False) for leaf in no]
    if not yes:  # a System value is always there: the rule sees it or the event data's own value
        options: list[str | None] = [default, "socpipe"] if default is not None else [None, "socpipe"]
    else:
        options = list(_candidates(yes))
        options += [v + "_" for v in options if v is not None] + ["_" + v for v in options if v is not None]
    for option in options:
        if all(_holds(test, field, option) == want for test, want in tests):
            return option
    return False


def _holds(test: object, field: str, value: str | None) -> bool:
    fields = {} if value is None else {field: value}
    view = EventView(fields)
    return bool(test(fields, view.l, view))  # type: ignore[operator]


def _put_reference(values: dict[str, str], leaf: ir.FieldRef, want: bool) -> None:
    other = values.setdefault(leaf.other, "socpipe")
    if want:
        values[leaf.field] = {ir.EQ: other, ir.PREFIX: other + "x", ir.SUFFIX: "x" + other,
                              ir.CONTAINS: "x" + other + "x"}[leaf.op]
    elif values.get(leaf.field, "").lower() == other.lower():
        values[leaf.field] = other + "_"


def assignments(rule: CompiledRule, defaults: dict[str, str]) -> Iterator[dict[str, str]]:
    """Field maps (defaults included) on which the rule's own predicate is true."""
    predicate = compile_predicate(rule.condition)
    budget = _Budget()
    seen = 0
    for made in choices(rule.condition, True, budget):
        seen += 1
        if seen > MAX_TRIES:
            return
        values = values_for(made, defaults)
        if values is None:
            continue
        view = EventView(values)
        if predicate(values, view.l, view):
            yield values


# ---- the event, as a Windows log holds it --------------------------------------------------------------

def source_defaults(source: Source) -> Iterator[dict[str, str]]:
    """The System values an event of this log source has (one EventID of the source at a time)."""
    base = {"Channel": source.channel} if source.channel else {}
    for event_id in source.event_ids or (None,):
        yield {**base, "EventID": event_id} if event_id else base


SYSTEM_ELSE = "socpipe-system-value"


def evtx_document(values: dict[str, str], system_defaults: dict[str, str], clash: bool = False,
                  own_data: bool = True) -> dict[str, object]:
    """The EVTX JSON document of an event whose fields (as a Sigma author reads them) are `values`. A value of
    the rule for Channel or EventID that differs from the log source's is in the event's own data (with
    `own_data`) or replaces the System value. With `clash`, the other System names the rule reads are in the
    event's own data too, and System holds another value."""
    system: dict[str, object] = {}
    data: list[object] = []
    for name, value in system_defaults.items():
        _put_system(system, name, value)
    for name, value in values.items():
        if name == KEYWORDS:
            data.append({"#text": value})
            continue
        if name in _SYSTEM_FIELDS:
            given = system_defaults.get(name)
            if given is None and not clash:
                _put_system(system, name, value)
                continue
            if given is None:
                _put_system(system, name, SYSTEM_ELSE)
                given = SYSTEM_ELSE
            if given.lower() == value.lower():
                continue
            if not own_data:
                _put_system(system, name, value)
                continue
        data.append({"#attributes": {"Name": name}, **({"#text": value} if value != "" else {})})
    return {"Event": {"System": system, "EventData": {"Data": data}}}


def _put_system(system: dict[str, object], name: str, value: str) -> None:
    path = _SYSTEM_FIELDS[name]
    node = system
    for step in path[:-1]:
        node = node.setdefault(step, {})  # type: ignore[assignment]
    node[path[-1]] = value


# ---- the run -------------------------------------------------------------------------------------------

def windows_rules(repo: Path) -> list[CompiledRule]:
    config = load_config(None)
    rule_dirs = sorted(p for p in repo.glob("rules*") if p.is_dir())
    ruleset = load_rules(rule_dirs, config.get("rules", "placeholders"), config.rule_cache_dir)
    return [r for r in ruleset.rules if r.logsource[0] == "windows"]


def verdicts(rules: list[CompiledRule]) -> list[Verdict]:
    """Each rule's verdict: built or not, and fired or not by the events built for it."""
    tried: list[tuple[int, str, dict[str, object]]] = []  # rule, variant, document
    built = [False] * len(rules)
    for index, rule in enumerate(rules):
        for source in rule.sources:
            if source.kind != WINDOWS:
                continue
            for defaults in source_defaults(source):
                for values in itertools.islice(assignments(rule, defaults), 3):
                    built[index] = True
                    # "": as a log holds it; "routing": its Channel or EventID differ from the log source's
                    # (first in the event's own data, here in System); "clash": System names in its own data too
                    conflict = any(values.get(name, "").lower() != value.lower() for name, value in defaults.items())
                    tried.append((index, "routing" if conflict else "", evtx_document(values, defaults)))
                    if conflict:
                        tried.append((index, "", evtx_document(values, defaults, own_data=False)))
                    if any(name in _SYSTEM_FIELDS and name not in defaults for name in values):
                        tried.append((index, "clash", evtx_document(values, defaults, clash=True)))
    events = [normalise(Event(parse_evtx_json(json.dumps(document).encode()), WINDOWS, "never-fires"))
              for _, _, document in tried]
    detector = Detector(rules)
    batch = pa.array([list(e.fields.items()) for e in events], pa.map_(pa.string(), pa.string()))
    hits = {row: set(matched) for row, _, matched in detector.match_batch(pa.array([WINDOWS] * len(events)), batch)}
    fired: dict[tuple[int, str], bool] = {}
    last: dict[int, dict[str, object]] = {}
    for row, (index, variant, document) in enumerate(tried):
        fired[index, variant] = fired.get((index, variant), False) or index in hits.get(row, ())
        if variant != "clash":
            last[index] = document
    return [Verdict(rule, built[i], fired.get((i, ""), False) or fired.get((i, "routing"), False), last.get(i),
                    fired.get((i, "clash")), fired.get((i, "routing"), False) and not fired.get((i, ""), False))
            for i, rule in enumerate(rules)]


def main(argv: list[str]) -> int:
    repo = Path(argv[0]) if argv else Path(__file__).resolve().parents[2] / "shared" / "sigmahq"
    results = verdicts(windows_rules(repo))
    never = [v for v in results if v.built and not v.fires]
    unbuilt = [v for v in results if not v.built]
    for v in never:
        print(f"NEVER FIRES {v.rule.id} {v.rule.title} ({Path(v.rule.path).name})")
        print(f"    event: {json.dumps(v.event, ensure_ascii=False)[:400]}")
    for v in unbuilt:
        print(f"NOT BUILT {v.rule.id} {v.rule.title} ({Path(v.rule.path).name})")
    clashing = [v for v in results if v.fires and v.fires_on_clash is False]
    for v in clashing:
        print(f"NOT ON A NAME CLASH {v.rule.id} {v.rule.title} ({Path(v.rule.path).name})")
    routed = [v for v in results if v.only_through_own_data]
    for v in routed:
        print(f"ONLY THROUGH ITS OWN DATA {v.rule.id} {v.rule.title} ({Path(v.rule.path).name})")
        print(f"    event: {json.dumps(v.event, ensure_ascii=False)[:400]}")
    print(f"{len(results)} Windows rules: {len(results) - len(never) - len(unbuilt)} fire on an event built from "
          f"their selections, {len(never)} never fire, {len(unbuilt)} no event could be built for; "
          f"{sum(v.fires_on_clash is not None for v in results)} read a System name, "
          f"{len(clashing)} of them do not fire when the event's own data uses the name too; "
          f"{len(routed)} fire only with a Channel or EventID of their own in the event's data")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
