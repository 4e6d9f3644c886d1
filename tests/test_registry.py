"""The agency registry: loading, validation errors, and ownership look-ups."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from socpipe.registry import Agency, Ownership, Registry, RegistryError

DEMO = Path(__file__).resolve().parents[1] / "socpipe" / "demo" / "registry.yaml"


def small(**changes: Any) -> dict[str, Any]:
    """A minimal valid registry; keyword arguments replace or extend whole sections."""
    data: dict[str, Any] = {
        "agencies": [
            {"id": "p", "name": "Tỉnh P", "type": "province"},
            {"id": "d", "name": "Sở D", "type": "department", "parent": "p"},
            {
                "id": "old",
                "name": "Huyện Cũ",
                "type": "district",
                "parent": "p",
                "valid_to": date(2025, 6, 30),
                "superseded_by": "new",
            },
            {"id": "new", "name": "Xã Mới", "type": "commune", "parent": "p", "valid_from": "2025-07-01"},
        ],
        "systems": [
            {
                "id": "dc",
                "name": "Data centre",
                "agency": "d",
                "level": 3,
                "hosts": ["*.dc.example.vn"],
                "networks": ["10.0.0.0/8", "2001:db8::/32"],
            },
            {
                "id": "portal",
                "name": "Portal",
                "agency": "d",
                "level": 3,
                "hosts": ["Portal.example.vn", "web01.dc.example.vn"],
                "networks": ["10.1.0.0/16"],
            },
            {
                "id": "lgsp",
                "name": "LGSP",
                "agency": "d",
                "level": 4,
                "hosts": ["*.lgsp.dc.example.vn"],
                "networks": ["10.1.2.0/24", "2001:db8:40::/64"],
            },
            {
                "id": "commune-lan",
                "name": "Commune LAN",
                "agency": "new",
                "level": 2,
                "hosts": ["*.commune.example.vn"],
                "networks": ["172.16.5.0/24"],
            },
        ],
    }
    data.update(changes)
    return data


def with_agency(**fields: Any) -> dict[str, Any]:
    base = small()
    return small(agencies=[*base["agencies"], {"name": "X", "type": "commune", "parent": "p", **fields}])


def with_system(**fields: Any) -> dict[str, Any]:
    base = small()
    return small(systems=[*base["systems"], {"name": "X", "agency": "d", "level": 2, **fields}])


@pytest.fixture
def registry() -> Registry:
    return Registry.from_dict(small())


def test_demo_registry_loads() -> None:
    demo = Registry.load(DEMO)
    types = {agency.type for agency in demo.agencies.values()}
    assert {"province", "department", "district", "commune", "ward", "special_zone"} <= types
    assert len(demo.systems) >= 10
    assert demo.locate("dichvucong.ankhanh.gov.vn", None) == Ownership("vp-ubnd", "dvc-portal", 3)
    assert demo.locate(None, "10.10.50.5") == Ownership("skhcn", "sso", 3)


def test_load_reads_yaml_dates(tmp_path: Path) -> None:
    path = tmp_path / "registry.yaml"
    path.write_text(
        "agencies:\n"
        "  - {id: p, name: Tỉnh P, type: province}\n"
        "  - {id: d, name: Huyện D, type: district, parent: p, valid_to: 2025-06-30}\n"
        "systems: []\n",
        encoding="utf-8",
    )
    loaded = Registry.load(path)
    assert loaded.agencies["d"] == Agency("d", "Huyện D", "district", "p", None, date(2025, 6, 30), None)
    assert loaded.agencies["p"].name == "Tỉnh P"


def test_load_rejects_a_file_that_is_not_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "registry.yaml"
    path.write_text("- just a list\n", encoding="utf-8")
    with pytest.raises(RegistryError, match="expected a mapping"):
        Registry.load(path)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (with_agency(id="x", type="county"), r"agency 'x': unknown type 'county'"),
        (with_agency(id="x", parent="nowhere"), r"agency 'x': parent 'nowhere' does not exist"),
        (with_agency(id="x", superseded_by="nowhere"), r"agency 'x': superseded_by 'nowhere' does not exist"),
        (with_agency(id="x", superseded_by="x"), r"agency 'x': superseded by itself"),
        (
            with_agency(id="x", valid_from="2025-07-01", valid_to="2025-06-30"),
            r"agency 'x': valid_to is before",
        ),
        (
            with_agency(id="x", valid_from="1 July 2025"),
            r"agency 'x': valid_from: '1 July 2025' is not a date",
        ),
        (with_agency(id="d"), r"agency 'd': duplicate id"),
        (with_agency(id="x", name=""), r"agency 'x': missing name"),
        (small(agencies=["p"]), r"agency entry 'p' is not a mapping"),
        (with_system(id="x", agency="nowhere"), r"system 'x': agency 'nowhere' does not exist"),
        (with_system(id="x", level=6), r"system 'x': level 6 is not between 1 and 5"),
        (with_system(id="x", level=0), r"system 'x': level 0 is not between 1 and 5"),
        (with_system(id="x", level="3"), r"system 'x': level '3' is not an integer"),
        (with_system(id="x", networks=["10.0.0.300/24"]), r"system 'x': invalid network '10.0.0.300/24'"),
        (with_system(id="x", networks=["10.1.0.1/16"]), r"system 'x': invalid network '10.1.0.1/16'"),
        (
            with_system(id="x", networks=["10.1.0.0/16"]),
            r"system 'x': network 10.1.0.0/16 is already claimed",
        ),
        (
            with_system(id="x", hosts=["PORTAL.example.vn"]),
            r"system 'x': host 'portal.example.vn' is already",
        ),
        (with_system(id="x", hosts=["web*.example.vn"]), r"system 'x': host pattern 'web\*.example.vn'"),
        (with_system(id="portal"), r"system 'portal': duplicate id"),
        (with_system(name="no id"), r"system '\?': missing id"),
    ],
)
def test_validation_errors_name_the_culprit(data: dict[str, Any], message: str) -> None:
    with pytest.raises(RegistryError, match=message):
        Registry.from_dict(data)


def test_parent_cycle_is_rejected() -> None:
    data = small(
        agencies=[
            {"id": "a", "name": "A", "type": "department", "parent": "b"},
            {"id": "b", "name": "B", "type": "department", "parent": "a"},
        ],
        systems=[],
    )
    with pytest.raises(RegistryError, match=r"agency 'a': parent chain has a cycle"):
        Registry.from_dict(data)


def test_self_parent_is_a_cycle() -> None:
    data = small(agencies=[{"id": "a", "name": "A", "type": "province", "parent": "a"}], systems=[])
    with pytest.raises(RegistryError, match=r"agency 'a': parent chain has a cycle through 'a'"):
        Registry.from_dict(data)


def test_locate_by_exact_host_ignores_case_and_trailing_dot(registry: Registry) -> None:
    assert registry.locate("portal.EXAMPLE.vn.", None) == Ownership("d", "portal", 3)


def test_exact_host_beats_wildcard(registry: Registry) -> None:
    assert registry.locate("web01.dc.example.vn", None) == Ownership("d", "portal", 3)
    assert registry.locate("web02.dc.example.vn", None) == Ownership("d", "dc", 3)


def test_longest_wildcard_suffix_wins(registry: Registry) -> None:
    assert registry.locate("gw01.lgsp.dc.example.vn", None) == Ownership("d", "lgsp", 4)


def test_wildcard_needs_a_label_before_the_suffix(registry: Registry) -> None:
    assert registry.locate("dc.example.vn", None) is None
    assert registry.locate("xdc.example.vn", None) is None


def test_host_match_wins_over_ip(registry: Registry) -> None:
    assert registry.locate("pc1.commune.example.vn", "10.1.2.3") == Ownership("new", "commune-lan", 2)


def test_unknown_host_falls_back_to_ip(registry: Registry) -> None:
    assert registry.locate("unknown.example.org", "172.16.5.9") == Ownership("new", "commune-lan", 2)


def test_longest_ip_prefix_wins(registry: Registry) -> None:
    assert registry.locate(None, "10.1.2.3") == Ownership("d", "lgsp", 4)
    assert registry.locate(None, "10.1.3.3") == Ownership("d", "portal", 3)
    assert registry.locate(None, "10.200.0.1") == Ownership("d", "dc", 3)


def test_ipv6_networks(registry: Registry) -> None:
    assert registry.locate(None, "2001:db8:40::7") == Ownership("d", "lgsp", 4)
    assert registry.locate(None, "2001:db8:1::7") == Ownership("d", "dc", 3)
    assert registry.locate(None, "2001:db9::1") is None


@pytest.mark.parametrize("ip", ["", "-", "not-an-ip", "192.168.1.1"])
def test_unlocatable_addresses(registry: Registry, ip: str) -> None:
    assert registry.locate(None, ip) is None


def test_nothing_to_locate(registry: Registry) -> None:
    assert registry.locate(None, None) is None
    assert registry.locate("", "") is None


def test_ancestors_run_from_the_agency_to_the_root(registry: Registry) -> None:
    assert [agency.id for agency in registry.ancestors("new")] == ["new", "p"]
    assert [agency.id for agency in registry.ancestors("p")] == ["p"]
    with pytest.raises(KeyError):
        registry.ancestors("nowhere")


def test_superseded_units_stay_resolvable() -> None:
    demo = Registry.load(DEMO)
    old = demo.agencies["xa-tan-hoa"]
    assert old.superseded_by == "xa-binh-lac"
    assert [agency.id for agency in demo.ancestors(old.id)] == ["xa-tan-hoa", "huyen-binh-lac", "ankhanh"]
    successor = demo.agencies[old.superseded_by]
    assert successor.active_on(date(2025, 7, 1)) and not old.active_on(date(2025, 7, 1))


def test_active_on_a_date_follows_the_reform() -> None:
    demo = Registry.load(DEMO)
    before = {agency.id for agency in demo.active(date(2025, 6, 30))}
    after = {agency.id for agency in demo.active(date(2025, 7, 1))}
    assert {"huyen-binh-lac", "xa-tan-hoa"} <= before
    assert not {"xa-binh-lac", "phuong-hoa-phong"} & before
    assert {"xa-binh-lac", "phuong-hoa-phong", "dk-hon-ngoc"} <= after
    assert not {agency.id for agency in demo.agencies.values() if agency.type == "district"} & after
    assert "stttt" in {agency.id for agency in demo.active(date(2025, 2, 28))}
    assert "stttt" not in before
    assert {"ankhanh", "snv"} <= before & after


def test_validity_bounds_are_inclusive() -> None:
    agency = Agency("x", "X", "commune", valid_from=date(2025, 7, 1), valid_to=date(2025, 7, 31))
    assert not agency.active_on(date(2025, 6, 30))
    assert agency.active_on(date(2025, 7, 1))
    assert agency.active_on(date(2025, 7, 31))
    assert not agency.active_on(date(2025, 8, 1))
