"""Registry facts about a network record's two addresses, as fields the rules read.

The event's context (enrich/normalise.py) places the whole record once, host first: a sensor's or a router's
name wins over the addresses, so the context's system.level says where a record was seen, not whose address
sent it. Network rules need the owner of each address: an upload from a level-3 system, a connection to the
province's VPN gateway. So a record that carries both ECS addresses (flows, Zeek and Suricata records) gains,
for each address the registry places, source.system.id, source.system.level and source.system.role (when the
system has a role), and the same under destination. The fields are written to the lake with the event, so
batch detection, the stream and a later match over the lake all read the same values.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from socpipe.registry import Registry

SIDES = (("source.ip", "source.system."), ("destination.ip", "destination.system."))


def address_fields(fields: dict[str, str], registry: Registry | None) -> dict[str, str]:
    """`fields` with the owner of its source and destination addresses added (a name the record has already
    is left alone); the same dict when the record is not a network record or the registry places neither."""
    if registry is None or "source.ip" not in fields or "destination.ip" not in fields:
        return fields
    found: dict[str, str] = {}
    for address, prefix in SIDES:
        owner = registry.locate(None, fields[address])
        if owner is not None:
            found[prefix + "id"] = owner.system_id
            found[prefix + "level"] = str(owner.level)
            if owner.role:
                found[prefix + "role"] = owner.role
    return {**found, **fields} if found else fields
