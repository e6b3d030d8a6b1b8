"""layers/complaint_catalogue.py: the catalogue is consistent, checked at import, and what the
database enforces (migration 0005) matches it."""

from __future__ import annotations

import importlib.util
from dataclasses import replace

import pytest

from gis.settings import PROJECT_ROOT
from layers import complaint_catalogue as cat
from layers.complaint_spec import (
    AttributeSpec,
    AttributeValue,
    ServiceLink,
    Transition,
    check_catalogue,
)
from layers.registry import LAYERS


def test_the_services_of_the_issue():
    assert set(cat.SERVICES) == {
        "sampah",
        "jalan_rusak",
        "banjir",
        "lampu_jalan",
        "drainase",
        "pelayanan_kantor",
        "lainnya",
    }
    links = {c: (s.link.layer if s.link else None) for c, s in cat.SERVICES.items()}
    assert links["sampah"] == "waste_bin" and links["pelayanan_kantor"] == "office"
    assert links["jalan_rusak"] == links["banjir"] == "road_segment"
    assert {c for c, s in cat.SERVICES.items() if s.road_action} == {"jalan_rusak", "banjir"}
    for s in cat.SERVICES.values():
        assert s.name("id") and s.name("en") and s.agency in cat.AGENCIES


def test_states_and_clocks():
    assert list(cat.STATES) == [
        "diterima",
        "diverifikasi",
        "diteruskan",
        "dalam_proses",
        "selesai",
        "ditolak",
        "duplikat",
    ]
    assert {c for c, s in cat.STATES.items() if s.closed} == {"selesai", "ditolak", "duplikat"}
    assert (cat.FORWARD_DAYS, cat.FOLLOW_UP_DAYS) == (3, 5)
    assert cat.STATES["diteruskan"].forwarded and not cat.STATES["diteruskan"].followed_up


def _migration():
    path = next((PROJECT_ROOT / "migrations" / "versions").glob("0005_*.py"))
    spec = importlib.util.spec_from_file_location("m0005", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_migration_checks_the_catalogue_s_values():
    m = _migration()
    assert m.STATES == tuple(cat.STATES)
    assert m.CHANNELS == cat.CHANNELS
    assert m.ROLES == cat.STAFF_ROLES
    assert m.EVENT_KINDS == cat.EVENT_KINDS


BAD = {
    "unknown agency": lambda c: _svc(c, agency="kemenkeu"),
    "unknown group": lambda c: _svc(c, group="x"),
    "sla": lambda c: _svc(c, sla_days=0),
    "unknown layer": lambda c: _svc(c, link=ServiceLink("bins", "facility")),
    "not a facility layer": lambda c: _svc(c, link=ServiceLink("admin_area", "facility")),
    "segment link": lambda c: _svc(c, link=ServiceLink("office", "segment")),
    "road action": lambda c: _svc(c, road_action=True),
    "list without values": lambda c: _svc(
        c, attributes=(AttributeSpec("a", "singlevaluelist", "?", "?"),)
    ),
    "datatype": lambda c: _svc(c, attributes=(AttributeSpec("a", "color", "?", "?"),)),
    "values twice": lambda c: _svc(
        c,
        attributes=(
            AttributeSpec(
                "a",
                "singlevaluelist",
                "?",
                "?",
                values=(AttributeValue("k", "x", "x"), AttributeValue("k", "y", "y")),
            ),
        ),
    ),
    "unreachable state": lambda c: replace(
        c, transitions=tuple(t for t in c.transitions if t.target != "duplikat")
    ),
    "unknown role": lambda c: replace(
        c, transitions=(*c.transitions, Transition("selesai", "ditolak", ("mayor",)))
    ),
    "transition twice": lambda c: replace(c, transitions=(*c.transitions, c.transitions[0])),
    "closed initial state": lambda c: replace(c, initial_state="selesai"),
}


def _svc(c, **over):
    services = dict(c.services)
    services["lainnya"] = replace(services["lainnya"], **over)
    return replace(c, services=services)


@pytest.mark.parametrize("case", BAD)
def test_an_inconsistent_catalogue_is_refused(case):
    check_catalogue(cat.CATALOGUE, LAYERS)  # the real one passes
    with pytest.raises(ValueError):
        check_catalogue(BAD[case](cat.CATALOGUE), LAYERS)


def test_who_may_make_a_move():
    verify = cat.CATALOGUE.transition("diterima", "diverifikasi")
    assert verify.allows("desk", cat.AGENCIES["dlh"]) and not verify.allows("planner", None)
    start = cat.CATALOGUE.transition("diteruskan", "dalam_proses")
    assert start.allows("sanitation", cat.AGENCIES["dlh"])
    assert not start.allows("sanitation", cat.AGENCIES["dpupr"])
    assert start.allows("roads", cat.AGENCIES["dpupr"]) and start.allows("admin", None)
    assert cat.CATALOGUE.transition("diterima", "selesai") is None
    assert not any(t.allows("planner", a) for t in cat.TRANSITIONS for a in cat.AGENCIES.values())
