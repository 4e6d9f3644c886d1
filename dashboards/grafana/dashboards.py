"""The dashboards: the SOC's overview, one per agency (its own filtered data sources) and the auditors'.

Fields follow docs/records.md: alerts and events (`alerts-*`, `events-*`), incidents (`incidents`,
with `status`, `level`, `tta_seconds`, `ttc_seconds`). An agency's dashboard reads only through its
own data sources, whose index is the agency's filtered alias (socpipe.search.agency_aliases): there is
no variable a viewer could change to see another agency.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from dashboards.grafana.panels import Layout, count, dashboard, histogram, metric, target, terms
from dashboards.grafana.query import DataSource
from socpipe.config import Config
from socpipe.registry import Registry

LEVELS = ("critical", "high", "medium", "low", "informational")
# Layer 2's alerts, less the stream's early ones withdrawn since (docs/correlation.md).
CORRELATIONS = "_exists_:correlation.type AND NOT correlation.withdrawn:true"
# The plan's coverage targets (domain brief): agency types by tier, and the share to be monitored.
TIERS = (("provincial", ("province", "department"), 1.0), ("district", ("district",), 1.0),
         ("commune", ("commune", "ward", "special_zone"), 0.5))


@dataclass(frozen=True)
class Settings:
    """What the dashboards are built from: index names and the handling deadlines."""

    alerts: str = "alerts"  # prefixes of the daily indices
    events: str = "events"
    incidents: str = "incidents"
    ack_deadline: dict[str, int] = field(default_factory=dict)  # level -> seconds
    close_deadline: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: Config) -> Settings:
        return cls(config.get("run", "alerts_index"), config.get("run", "events_index"),
                   config.get("grafana", "incidents_index"), dict(config.get("grafana", "ack_deadline_seconds")),
                   dict(config.get("grafana", "close_deadline_seconds")))


def soc_sources(s: Settings) -> dict[str, DataSource]:
    """The SOC's data sources: every agency, daily indices named as `socpipe run` writes them."""
    return {"alerts": DataSource("soc-alerts", f"[{s.alerts}-]YYYY.MM.DD", interval="Daily"),
            "events": DataSource("soc-events", f"[{s.events}-]YYYY.MM.DD", interval="Daily"),
            "incidents": DataSource("soc-incidents", s.incidents)}


def agency_sources(s: Settings, agency_id: str) -> dict[str, DataSource]:
    """An agency's data sources: its filtered aliases only."""
    return {kind: DataSource(f"agency-{agency_id}-{kind}", f"{prefix}-agency-{agency_id}")
            for kind, prefix in (("alerts", s.alerts), ("events", s.events), ("incidents", s.incidents))}


def auditor_sources(s: Settings) -> dict[str, DataSource]:
    """The auditors' data sources (read-only credentials on the server side)."""
    return {"events": DataSource("audit-events", f"[{s.events}-]YYYY.MM.DD", interval="Daily"),
            "incidents": DataSource("audit-incidents", s.incidents)}


def _alert_panels(layout: Layout, alerts: str, with_agencies: bool) -> None:
    layout.add("timeseries", "Cảnh báo theo mức độ / Alerts by level",
               [target(alerts, [terms("2", "rule.level", size=5), histogram("3")])], width=24,
               options={"legend": {"displayMode": "list", "placement": "bottom"}})
    layout.add("barchart", "Luật cảnh báo nhiều nhất / Top rules",
               [target(alerts, [terms("2", "rule.title.raw", size=10)])], width=12,
               options={"orientation": "horizontal"})
    if with_agencies:
        layout.add("barchart", "Cơ quan nhiều cảnh báo nhất / Top agencies",
                   [target(alerts, [terms("2", "agency.id", size=10)])], width=6, options={"orientation": "horizontal"})
    layout.add("barchart", "Máy nhiều cảnh báo nhất / Top hosts", [target(alerts, [terms("2", "host.name", size=10)])],
               width=6 if with_agencies else 12, options={"orientation": "horizontal"})
    layout.add("table", "Tương quan (lớp 2) / Correlations (layer 2)",
               [target(alerts, [terms("2", "rule.title.raw", size=10)], [count(), metric("3", "max", "@timestamp")],
                       query=CORRELATIONS)], width=24, unit="dateTimeFromNow",
               description="Correlation alerts per rule (one per attacker and episode, across agencies and time) "
                           "and when the latest was raised.")


def _incident_panels(layout: Layout, incidents: str) -> None:
    layout.add("timeseries", "Sự cố theo mức độ / Incidents by level",
               [target(incidents, [terms("2", "level", size=5), histogram("3")])], width=12)
    layout.add("table", "Sự cố đang mở theo trạng thái và tuổi / Open incidents by state and age",
               [target(incidents, [terms("2", "status", size=10)], [count(), metric("3", "min", "@timestamp")],
                       query="NOT status:closed")], width=12, unit="dateTimeFromNow",
               description="Count of open incidents per state; the oldest one's detection time gives the age.")
    layout.add("table", "Thời gian xác nhận và xử lý / Time to acknowledge and to resolve",
               [target(incidents, [terms("2", "level", size=5)],
                       [count(), metric("3", "avg", "tta_seconds"), metric("4", "max", "tta_seconds"),
                        metric("5", "avg", "ttc_seconds"), metric("6", "max", "ttc_seconds")])],
               width=12, unit="s")


def _silence_panel(layout: Layout, events: str) -> None:
    layout.add("table", "Nguồn im lặng lâu nhất / Sources silent longest",
               [target(events, [terms("2", "host.name", size=100, order_by="1", order="asc")],
                       [metric("1", "max", "@timestamp")])], width=12, unit="dateTimeFromNow",
               description="Every host that sent events in the range, the longest silent first (its last event).")


def soc_overview(s: Settings) -> dict[str, Any]:
    ds = {k: v.uid for k, v in soc_sources(s).items()}
    layout = Layout()
    _alert_panels(layout, ds["alerts"], with_agencies=True)
    _incident_panels(layout, ds["incidents"])
    _silence_panel(layout, ds["events"])
    return dashboard("socpipe-soc-overview", "SOC: tổng quan / SOC overview", ["socpipe", "soc"], layout.panels,
                     description="Layer 2: every agency's alerts, incidents and log sources.")


def agency_dashboard(s: Settings, agency_id: str, name: str) -> dict[str, Any]:
    ds = {k: v.uid for k, v in agency_sources(s, agency_id).items()}
    layout = Layout()
    _alert_panels(layout, ds["alerts"], with_agencies=False)
    _incident_panels(layout, ds["incidents"])
    _silence_panel(layout, ds["events"])
    return dashboard(f"socpipe-agency-{agency_id}", f"{name} ({agency_id})", ["socpipe", "agency", agency_id],
                     layout.panels, description="Layer 1: this agency and the units under it only.")


def coverage_queries(registry: Registry, on: date) -> list[tuple[str, list[str], float]]:
    """(tier, agency ids active on the day, target share) for the plan's coverage targets."""
    active = registry.active(on)
    return [(tier, [a.id for a in active if a.type in types], share) for tier, types, share in TIERS]


def auditor_dashboard(s: Settings, registry: Registry, on: date) -> dict[str, Any]:
    ds = {k: v.uid for k, v in auditor_sources(s).items()}
    layout = Layout()
    for tier, ids, share in coverage_queries(registry, on):
        if not ids:
            continue
        needed = -(-len(ids) * int(share * 100) // 100)
        layout.add("stat", f"Giám sát cấp {tier} / Monitored {tier} agencies (target {share:.0%} of {len(ids)})",
                   [target(ds["events"], [terms("2", "agency.id", size=len(ids))],
                           query="agency.id:(" + " OR ".join(f'"{i}"' for i in ids) + ")")], width=8, height=5,
                   options={"reduceOptions": {"calcs": ["count"], "fields": "/agency.id/"}},
                   thresholds=[{"color": "red", "value": None}, {"color": "green", "value": needed}],
                   description=f"Agencies of this tier that sent events in the range; the plan asks for {needed}.")
    layout.add("table", "Im lặng theo hệ thống và ngày / Silence per system and day",
               [target(ds["events"], [terms("2", "system.id", size=500), histogram("3", interval="1d")])],
               width=24, height=10, description="Events per information system and UTC day; 0 is a silent day.")
    layout.add("table", "Thời gian xử lý theo mức độ / Handling times by level",
               [target(ds["incidents"], [terms("2", "level", size=5)],
                       [count(), metric("3", "avg", "tta_seconds"), metric("4", "max", "tta_seconds"),
                        metric("5", "avg", "ttc_seconds"), metric("6", "max", "ttc_seconds")])], width=12, unit="s")
    late = [target(ds["incidents"], [terms("2", "level", size=5)],
                   query=f"level:{level} AND tta_seconds:>{s.ack_deadline[level]}", ref=f"L{n}")
            for n, level in enumerate(LEVELS) if level in s.ack_deadline]
    layout.add("table", "Xác nhận trễ hạn / Acknowledged late", late, width=12,
               description="Incidents per level acknowledged after the deadline; deadlines (s): "
                           + ", ".join(f"{k} {v}" for k, v in s.ack_deadline.items()))
    return dashboard("socpipe-audit", "Kiểm tra, đánh giá / Assessment (layer 3)", ["socpipe", "audit"],
                     layout.panels, time_from="now-30d",
                     description="Layer 3: coverage against the plan, log-source silence, handling times.")


def all_dashboards(s: Settings, registry: Registry, on: date) -> dict[str, dict[str, Any]]:
    """uid -> dashboard, for export and push."""
    boards = [soc_overview(s), auditor_dashboard(s, registry, on)]
    boards += [agency_dashboard(s, a.id, a.name) for a in registry.active(on)]
    return {b["uid"]: b for b in boards}
