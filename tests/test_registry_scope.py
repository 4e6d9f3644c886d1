"""Registry.subtree: an agency's access scope (the agency aliases and agency dashboards use it)."""

from __future__ import annotations

import pytest
from conftest import ROOT

from socpipe.registry import Registry

REGISTRY = Registry.load(ROOT / "socpipe" / "demo" / "registry.yaml")


def test_scope_is_the_agency_its_units_and_the_units_it_took_over():
    assert set(REGISTRY.subtree("ankhanh")) == set(REGISTRY.agencies)
    district = REGISTRY.agencies["huyen-binh-lac"]
    children = {a.id for a in REGISTRY.agencies.values() if a.parent == district.id}
    assert set(REGISTRY.subtree(district.id)) == {district.id, *children}
    successor = district.superseded_by
    assert successor and district.id in REGISTRY.subtree(successor)  # old records stay with the successor
    leaf = next(a.id for a in REGISTRY.agencies.values() if a.type == "department" and not a.superseded_by
                and not any(b.parent == a.id or b.superseded_by == a.id for b in REGISTRY.agencies.values()))
    assert REGISTRY.subtree(leaf) == [leaf]
    with pytest.raises(KeyError):
        REGISTRY.subtree("nowhere")
