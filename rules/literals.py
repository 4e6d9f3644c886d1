"""Literals a pattern requires: of several strings, one occurs in every match (the prefilter's and the guards' basis).

Below the matcher on purpose: the Python renderer guards its regexes with these, and rules/ must not import layers/.
"""

from __future__ import annotations

import re
import re._constants as sre
import re._parser as sre_parse
from collections.abc import Callable
from operator import attrgetter
from typing import Any


def best(options: list[frozenset | None], text: Callable[[Any], str] = attrgetter("text")) -> frozenset | None:
    """Of several sufficient requirements, the one most likely to rule an event out."""
    found = [o for o in options if o]
    return max(found, key=lambda o: rank(o, text)) if found else None


def rank(option: frozenset, text: Callable[[Any], str] = attrgetter("text")) -> tuple[int, int]:
    """Prefer sets whose shortest literal is long (rare), then sets with fewer literals."""
    return min(len(text(x)) for x in option), -len(option)


def regex_literals(pattern: str) -> frozenset[str] | None:
    """Lowercased ASCII strings of which one occurs in every match of `pattern`, or None."""
    try:
        return _sequence(list(sre_parse.parse(pattern)))
    except (re.error, RecursionError):
        return None


def _sequence(items: list) -> frozenset[str] | None:
    """Best requirement of a concatenation: a run of literals, or a mandatory group or alternation."""
    options: list[frozenset[str] | None] = []
    run: list[str] = []

    def end_run() -> None:
        if run:
            options.append(frozenset({"".join(run)}))
        run.clear()

    for op, av in items:
        if op is sre.LITERAL and chr(av).isascii():
            run.append(chr(av).lower())
        elif op is sre.AT:
            continue  # anchors consume nothing: the run goes on
        elif op is sre.SUBPATTERN:
            end_run()
            options.append(_sequence(list(av[3])))
        elif op is sre.BRANCH:
            end_run()
            branches = [_sequence(list(b)) for b in av[1]]
            options.append(frozenset().union(*branches) if all(branches) else None)
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT):
            end_run()
            if av[0] >= 1:
                options.append(_sequence(list(av[2])))
        else:
            end_run()
    end_run()
    return best([o for o in options if o], text=str)
