"""False-positive tuning applied to alerts: Sigma meta filters, then per-rule suppression.

Neither removes an alert silently: every alert taken away becomes an action record of kind `suppress`
(alerting/actions.py) carrying the whole alert in its `detail`, and the run's summary counts them by
filter and by rule. The same code runs on a batch (`socpipe detect`, `socpipe demo`) and on each
micro-batch of the stream, whose suppression windows live in a SuppressionState kept in the checkpoint
folder. The exact rules, and where the stream can differ from a batch, are in docs/incidents.md.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from alerting.actions import Action
from rules.filters import CompiledFilter, Suppression, suppression
from rules.model import RuleSet
from rules.python_code import EventView, Predicate, compile_predicate

FILTER_ACTOR, SUPPRESSION_ACTOR = "system:filter", "system:suppression"


def alert_time(alert: dict[str, Any]) -> datetime | None:
    stamp = alert.get("@timestamp")
    return datetime.fromisoformat(stamp).astimezone(UTC) if stamp else None


def field_value(alert: dict[str, Any], name: str) -> Any:
    """A dotted alert field (`source.ip`, `agency.id`), else the event's native field of that name."""
    value: Any = alert
    for part in name.split("."):
        if not isinstance(value, dict) or part not in value:
            return (alert.get("event") or {}).get(name)
        value = value[part]
    return value


@dataclass
class Outcome:
    """What tuning did to one batch of alerts."""

    kept: list[dict[str, Any]] = field(default_factory=list)
    suppressed: list[Action] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)  # "filter F" / "suppression of rule R" -> alerts


@dataclass
class SuppressionState:
    """Open suppression windows: "rule|group|window start" -> [time, alert id] of the alert kept there, and
    the newest alert time seen, from which windows older than the allowed lateness are let go."""

    kept: dict[str, list[str]] = field(default_factory=dict)
    newest: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"kept": self.kept, "newest": self.newest}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SuppressionState:
        return cls(dict(data["kept"]), data["newest"])


class Tuning:
    """The filters and suppressions of a rule set (configuration's `suppression.rules` win over the rules'
    own `socpipe.suppress`), ready to apply."""

    def __init__(self, filters: Iterable[CompiledFilter], suppressions: dict[str, Suppression]) -> None:
        self.filters: dict[str, list[tuple[CompiledFilter, Predicate]]] = {}
        for f in filters:
            predicate = compile_predicate(f.condition)
            for rule_id in f.rule_ids:
                self.filters.setdefault(rule_id, []).append((f, predicate))
        self.suppressions = dict(suppressions)

    @classmethod
    def of(cls, ruleset: RuleSet, configured: dict[str, Any]) -> Tuning:
        """`configured` is the config's `suppression.rules`: {rule id: {group_by, duration}}."""
        suppressions = dict(ruleset.suppressions)
        for rule_id, spec in configured.items():
            try:
                suppressions[str(rule_id)] = suppression(spec)
            except ValueError as e:
                raise ValueError(f"configuration suppression.rules.{rule_id}: {e}") from None
        return cls(ruleset.filters, suppressions)

    def apply(self, alerts: list[dict[str, Any]], state: SuppressionState | None = None,
              lateness_seconds: float = 0.0) -> Outcome:
        """Filters, then suppression, on `alerts` (any order). With `state` (the stream), windows opened by
        earlier micro-batches count too and the state is updated in place."""
        outcome = Outcome()
        passed = []
        for alert in alerts:
            hit = self._filtered_by(alert)
            if hit is None:
                passed.append(alert)
                continue
            outcome.counts[f"filter {hit.id}"] += 1
            outcome.suppressed.append(_action(alert, FILTER_ACTOR, {
                "by": "filter", "filter_id": hit.id, "filter_title": hit.title, "rule_id": alert["rule"]["id"]}))
        self._suppress(passed, state or SuppressionState(), outcome)
        if state is not None:
            _expire(state, lateness_seconds)
        return outcome

    def _filtered_by(self, alert: dict[str, Any]) -> CompiledFilter | None:
        """The first filter of the alert's rule whose condition is false on the alert's event."""
        entries = self.filters.get(alert["rule"]["id"])
        if not entries:
            return None
        view = EventView({k: str(v) for k, v in (alert.get("event") or {}).items() if v is not None})
        return next((f for f, predicate in entries if not predicate(view.f, view.l, view)), None)

    def _suppress(self, alerts: list[dict[str, Any]], state: SuppressionState, outcome: Outcome) -> None:
        """In every window of `duration` (aligned to the Unix epoch) and group, the earliest alert (ties: the
        smaller alert_id) stands and the others are suppressed. Alerts without a time always stand."""
        ordered = sorted(alerts, key=lambda a: (a.get("@timestamp") or "", a["alert_id"]))
        for alert in ordered:
            rule = self.suppressions.get(alert["rule"]["id"])
            at = alert_time(alert)
            if rule is None or at is None:
                outcome.kept.append(alert)
                continue
            if state.newest is None or at.isoformat() > state.newest:
                state.newest = at.isoformat()
            group = {name: field_value(alert, name) for name in rule.group_by}
            start = int(at.timestamp()) // rule.seconds * rule.seconds
            key = json.dumps([alert["rule"]["id"], group, start, rule.seconds], sort_keys=True, default=str)
            kept = state.kept.get(key)
            if kept is None or [at.isoformat(), alert["alert_id"]] <= kept:
                # Earliest so far. A stream that already sent a later alert of this window keeps both: it
                # never takes back an alert it sent.
                if kept is None:
                    state.kept[key] = [at.isoformat(), alert["alert_id"]]
                outcome.kept.append(alert)
                continue
            outcome.counts[f"suppression of rule {alert['rule']['id']}"] += 1
            window = datetime.fromtimestamp(start, UTC)
            outcome.suppressed.append(_action(alert, SUPPRESSION_ACTOR, {
                "by": "suppression", "rule_id": alert["rule"]["id"], "group": group, "kept_alert_id": kept[1],
                "window_start": window.isoformat(),
                "window_end": (window + timedelta(seconds=rule.seconds)).isoformat()}))


def _expire(state: SuppressionState, lateness_seconds: float) -> None:
    """Let go of windows that ended more than the allowed lateness before the newest alert."""
    if state.newest is None:
        return
    horizon = datetime.fromisoformat(state.newest).timestamp() - lateness_seconds
    for key in [k for k in state.kept if _window_end(k) < horizon]:
        del state.kept[key]


def _window_end(key: str) -> int:
    _, _, start, seconds = json.loads(key)
    return start + seconds


def _action(alert: dict[str, Any], actor: str, detail: dict[str, Any]) -> Action:
    """The record of one suppressed alert: the alert itself travels in `detail`, so nothing is lost. Its
    time is the alert's own (so a re-run gives the same action id), or now for an alert without one."""
    agency = (alert.get("agency") or {}).get("id")
    return Action(alert_time(alert) or datetime.now(UTC), actor, "suppress", "alert", alert["alert_id"], agency,
                  {}, {"suppressed": True}, {**detail, "alert": alert})
