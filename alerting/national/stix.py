"""A STIX 2.1 bundle per incident and reporting stage, for the national centre.

The bundle holds the reporting organisation, the affected agency and system (identities of the
government sector), the incident with the OASIS incident-core extension, indicators with STIX patterns,
the observed data and sightings that tie them to the agency, and a `threat-report` report over all of it,
every object under one TLP marking. Ids are derived from the incident (hash) and times from its record,
so the same incident and stage always give the same bundle: a re-send is recognised by the receiver.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import stix2

from alerting.national.indicators import Indicator, pattern

INCIDENT_CORE = "extension-definition--ef765651-680c-498d-9894-99799f2fa126"
# The extension definition's vocabularies (OASIS cti-stix-common-objects, incident-core).
DETERMINATIONS = frozenset({"blocked", "confirmed", "failed", "false-positive", "suspected"})
INVESTIGATION_STATUSES = frozenset({"closed", "new", "open"})
DETECTION_METHODS = frozenset({"automated-tool", "commercial-solution", "customer", "external-notification",
                               "human-review", "message-from-attacker", "system-outage", "user-reporting"})
EXTENSION_PROPERTIES = frozenset({"extension_type", "determination", "investigation_status", "criticality",
                                  "detection_methods", "event_refs", "impact_refs", "incident_types",
                                  "recoverability", "scores", "task_refs", "other_object_refs"})
RECOVERABILITY = frozenset({"extended", "not-applicable", "not-recoverable", "regular", "supplemented"})
TLP = {"white": stix2.TLP_WHITE, "green": stix2.TLP_GREEN, "amber": stix2.TLP_AMBER, "red": stix2.TLP_RED}
CRITICALITY = {"critical": 90, "high": 70, "medium": 50, "low": 30, "informational": 10}
NAMESPACE = "socpipe-national"


@dataclass(frozen=True)
class Party:
    """An organisation or system as the bundle names it."""

    key: str
    name: str
    identity_class: str
    description: str | None = None


def _id(kind: str, *parts: str) -> str:
    """A UUIDv4-shaped id (STIX 2.1 wants v4 for domain objects) taken from a hash of what it names, so
    the same incident gives the same ids at every export."""
    digest = hashlib.sha256(chr(31).join((NAMESPACE, kind, *parts)).encode()).digest()
    return f"{kind}--{uuid.UUID(bytes=digest[:16], version=4)}"


def _time(value: datetime) -> str:
    return stix2.utils.format_datetime(stix2.utils.STIXdatetime(value, precision="millisecond"))


def bundle(incident: Mapping[str, Any], stage: str, reporter: Party, agency: Party, system: Party | None,
           found: Sequence[Indicator], tlp: str, closed: datetime | None = None) -> stix2.Bundle:
    """The bundle for one incident and stage (`initial`, or `full` once the incident is closed)."""
    incident_id = incident["incident_id"]
    marking = TLP[tlp]
    detected = datetime.fromisoformat(incident["@timestamp"])
    first = datetime.fromisoformat(incident.get("first") or incident["@timestamp"])
    last = datetime.fromisoformat(incident.get("last") or incident["@timestamp"])
    modified = closed if stage == "full" and closed else detected
    common = {"created_by_ref": _id("identity", reporter.key), "object_marking_refs": [marking.id]}
    stamp = {"created": _time(detected), "modified": _time(modified)}
    created = {"created": _time(detected), "modified": _time(detected)}

    def identity(party: Party) -> stix2.Identity:
        return stix2.Identity(id=_id("identity", party.key), name=party.name, identity_class=party.identity_class,
                              sectors=["government"], description=party.description, **created,
                              object_marking_refs=[marking.id],
                              created_by_ref=None if party is reporter else common["created_by_ref"])

    parties = [identity(p) for p in (reporter, agency, system) if p is not None]
    agency_ref = parties[1].id
    rule = incident.get("rule") or {}
    level = incident.get("level") or rule.get("level") or "informational"
    verdict = incident.get("verdict")
    extension = {"extension_type": "property-extension",
                 "determination": "confirmed" if verdict in ("true_positive_impact", "true_positive_no_impact")
                 else "false-positive" if verdict == "false_positive" else "suspected",
                 "investigation_status": "closed" if stage == "full" and closed else
                 "new" if incident.get("status", "new") == "new" else "open",
                 "criticality": CRITICALITY.get(level, 10), "detection_methods": ["automated-tool"]}
    description = (f"{rule.get('title', '')} ({level}); {incident.get('count', 1)} alerts from "
                   f"{incident.get('first')} to {incident.get('last')}; agency {incident.get('agency.id')}, "
                   f"system {incident.get('system.id')} (level {incident.get('system.level')})")
    sdo_incident = stix2.Incident(id=_id("incident", incident_id), name=rule.get("title") or incident_id,
                                  description=description, extensions={INCIDENT_CORE: extension},
                                  external_references=[{"source_name": "socpipe", "external_id": incident_id}],
                                  **stamp, **common, allow_custom=True)
    objects: list[Any] = [marking, *parties, sdo_incident]
    relations = [stix2.Relationship(id=_id("relationship", incident_id, "agency"), relationship_type="related-to",
                                    source_ref=sdo_incident.id, target_ref=agency_ref, **created, **common)]
    if system is not None:
        relations.append(stix2.Relationship(id=_id("relationship", incident_id, "system"),
                                            relationship_type="related-to", source_ref=sdo_incident.id,
                                            target_ref=parties[2].id, **created, **common))
    observables = [_observable(i) for i in found]
    observed = None
    if observables:
        observed = stix2.ObservedData(id=_id("observed-data", incident_id), first_observed=_time(first),
                                      last_observed=_time(last), number_observed=max(1, int(incident.get("count", 1))),
                                      object_refs=[o.id for o in observables], **created, **common)
        objects += [*observables, observed]
    for item in found:
        key = f"{item.kind}:{item.value}"
        indicator = stix2.Indicator(id=_id("indicator", incident_id, key), name=f"{item.kind} {item.value}",
                                    description=f"Seen in incident {incident_id}: {rule.get('title', '')}",
                                    pattern=pattern(item), pattern_type="stix", valid_from=_time(first),
                                    indicator_types=["malicious-activity"], **created, **common)
        objects.append(indicator)
        relations.append(stix2.Relationship(id=_id("relationship", incident_id, key),
                                            relationship_type="related-to", source_ref=indicator.id,
                                            target_ref=sdo_incident.id, **created, **common))
        objects.append(stix2.Sighting(id=_id("sighting", incident_id, key), sighting_of_ref=indicator.id,
                                      where_sighted_refs=[agency_ref], observed_data_refs=[observed.id],
                                      first_seen=_time(first), last_seen=_time(last),
                                      count=max(1, int(incident.get("count", 1))), **created, **common))
    objects += relations
    title = f"{'Initial' if stage == 'initial' else 'Full'} report: {rule.get('title', incident_id)}"
    report = stix2.Report(id=_id("report", incident_id, stage), name=title,
                          description=description, report_types=["threat-report"], published=_time(modified),
                          object_refs=[o.id for o in objects if o.type != "marking-definition"], **stamp, **common)
    objects.append(report)
    return stix2.Bundle(*objects, id=_id("bundle", incident_id, stage), allow_custom=True)


def _observable(item: Indicator) -> Any:
    if item.kind == "ipv4-addr":
        return stix2.IPv4Address(value=item.value)
    if item.kind == "ipv6-addr":
        return stix2.IPv6Address(value=item.value)
    if item.kind == "domain-name":
        return stix2.DomainName(value=item.value)
    if item.kind == "url":
        return stix2.URL(value=item.value)
    return stix2.File(hashes={item.hash_name: item.value})


def serialise(value: stix2.Bundle) -> str:
    """The bundle as JSON text, keys sorted, so equal bundles are equal bytes."""
    return json.dumps(json.loads(value.serialize()), sort_keys=True, ensure_ascii=False, indent=1) + "\n"


def check_incident_core(document: Mapping[str, Any]) -> list[str]:
    """What stix2-validator does not check: each incident's incident-core extension against the extension
    definition (required properties, vocabularies, ranges, references that resolve within the bundle)."""
    problems = []
    ids = {o["id"]: o["type"] for o in document.get("objects", [])}
    for obj in document.get("objects", []):
        if obj["type"] != "incident":
            continue
        ext = (obj.get("extensions") or {}).get(INCIDENT_CORE)
        where = obj["id"]
        if ext is None:
            problems.append(f"{where}: no incident-core extension")
            continue
        for key in sorted(set(ext) - EXTENSION_PROPERTIES):
            problems.append(f"{where}: property {key!r} is not in the extension definition")
        if ext.get("extension_type") != "property-extension":
            problems.append(f"{where}: extension_type must be 'property-extension'")
        if ext.get("determination") not in DETERMINATIONS:
            problems.append(f"{where}: determination {ext.get('determination')!r} not in {sorted(DETERMINATIONS)}")
        if not isinstance(ext.get("investigation_status"), str):
            problems.append(f"{where}: investigation_status is required")
        elif ext["investigation_status"] not in INVESTIGATION_STATUSES:
            problems.append(f"{where}: investigation_status {ext['investigation_status']!r} is outside the vocabulary")
        criticality = ext.get("criticality")
        if criticality is not None and not (isinstance(criticality, int) and 0 <= criticality <= 100):
            problems.append(f"{where}: criticality {criticality!r} must be an integer 0-100")
        for method in ext.get("detection_methods", []):
            if method not in DETECTION_METHODS:
                problems.append(f"{where}: detection method {method!r} is outside the vocabulary")
        if "recoverability" in ext and ext["recoverability"] not in RECOVERABILITY:
            problems.append(f"{where}: recoverability {ext['recoverability']!r} is outside the vocabulary")
        for key, kind in (("event_refs", "event"), ("impact_refs", "impact"), ("task_refs", "task")):
            for ref in ext.get(key, []):
                if ids.get(ref) != kind:
                    problems.append(f"{where}: {key} {ref} is no {kind} of the bundle")
    return problems
