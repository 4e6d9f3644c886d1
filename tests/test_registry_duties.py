"""Registry people and duties: contacts, roles inherited up the tree, chains, office hours, validation."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from socpipe.demo import REGISTRY
from socpipe.registry import Registry, RegistryError


def _base(**agency_extra):
    return {"agencies": [{"id": "p", "name": "P", "type": "province", "roles": {"soc_duty": ["soc"]}},
                         {"id": "d", "name": "D", "type": "department", "parent": "p", **agency_extra}],
            "contacts": [{"id": "soc", "name": "SOC", "email": "soc@example.org"},
                         {"id": "it", "name": "IT", "email": "it@example.org", "language": "en"}]}


def test_roles_and_chain_are_inherited_from_the_parent():
    registry = Registry.from_dict(_base(roles={"on_site": ["it"]}))
    assert [c.id for c in registry.role_contacts("d", "on_site")] == ["it"]
    assert [c.id for c in registry.role_contacts("d", "soc_duty")] == ["soc"]
    assert registry.escalation_chain("d") == ("on_site", "head", "soc_duty")
    assert registry.contacts["it"].language == "en"


@pytest.mark.parametrize(("extra", "message"), [
    ({"roles": {"on_site": ["nobody"]}}, "agency 'd': role 'on_site' names unknown contact 'nobody'"),
    ({"roles": {"janitor": ["it"]}}, "agency 'd': unknown role 'janitor'"),
    ({"escalation": ["on_site", "boss"]}, "agency 'd': escalation step 'boss' is not a role"),
    ({"working_hours": {"timezone": "Mars/Olympus"}}, "agency 'd': unknown time zone 'Mars/Olympus'"),
    ({"working_hours": {"start": "17:00", "end": "08:00"}}, "agency 'd': working_hours end"),
])
def test_validation_names_the_entry_at_fault(extra, message):
    with pytest.raises(RegistryError, match=message.replace("(", r"\(")):
        Registry.from_dict(_base(**extra))


def test_contact_errors_name_the_contact():
    data = _base()
    data["contacts"].append({"id": "x", "name": "X", "language": "fr"})
    with pytest.raises(RegistryError, match="contact 'x': language 'fr'"):
        Registry.from_dict(data)
    data["contacts"][-1] = {"id": "soc", "name": "again"}
    with pytest.raises(RegistryError, match="contact 'soc': duplicate id"):
        Registry.from_dict(data)


def test_working_hours_are_local_time():
    hours = Registry.from_dict(_base()).working_hours("d")
    assert hours.contains(datetime(2026, 3, 16, 1, 0, tzinfo=UTC))  # Monday 08:00 in Hanoi
    assert not hours.contains(datetime(2026, 3, 16, 11, 0, tzinfo=UTC))  # 18:00
    assert not hours.contains(datetime(2026, 3, 15, 3, 0, tzinfo=UTC))  # Sunday


def test_demo_registry_routes_a_former_district_to_its_successor():
    registry = Registry.load(REGISTRY)
    assert registry.successor("tt-binh-lac").id == "xa-binh-lac"
    assert [c.id for c in registry.role_contacts("xa-binh-lac", "on_site")] == ["binhlac-it"]
    assert registry.in_subtree("xa-binh-lac", "ankhanh") and not registry.in_subtree("snv", "stc")
