"""The summary a batch run prints: what was read, which rules ran, what was found, how fast."""

from __future__ import annotations

from alerting.alerts import LEVELS
from layers.detect import Summary


def summary_lines(s: Summary) -> list[str]:
    levels = ", ".join(f"{lvl} {s.alerts_by_level[lvl]}" for lvl in LEVELS if s.alerts_by_level[lvl])
    return [
        f"{'events read':<14}{s.events:>10,}   dead letters {s.dead_letters:,}",
        f"{'rules':<14}{s.rules_loaded:>10,}   loaded, {s.rules_failed} failed, "
        f"{s.fallback_rules} checked on every event of their log source",
        f"{'alerts':<14}{s.alerts:>10,}   {levels or 'none'}",
        *s.correlation_lines,
        *s.triage_lines,
        *([f"{'name clashes':<14}" + ", ".join(f"{name} {count:,}" for name, count in sorted(s.name_collisions.items()))
           + " (Windows System names also in event data: the field is the event data's value, the System value"
           " is System.<name>)"] if s.name_collisions else []),
        f"{'elapsed':<14}{s.seconds:>10.1f} s {s.events_per_second:,.0f} events/s",
        *([f"{'stages':<14}" + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in s.stages.items())]
          if s.stages else []),
    ]


def agency_lines(s: Summary) -> list[str]:
    rows = sorted(s.alerts_by_agency.items(), key=lambda kv: (-kv[1], kv[0]))
    return [f"  {agency:<40}{count:>6}" for agency, count in rows]


def print_summary(s: Summary) -> None:
    print("\n".join(summary_lines(s)))
