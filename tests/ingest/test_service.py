"""The ingest service: after a load, refresh the routing network if it was built.

The network side is checked with ``gis.network``'s own status, which compares the cache with
the database; the loads are real (Krems, then one more office).
"""

from __future__ import annotations

import pytest
from shapely.geometry import Point

from gis.network import build_network, cache_root, drop_cache, network_status, read_manifest
from ingest import service
from ingest.load import InterruptedAfterCommit
from ingest.osm import ingest_osm_file
from tests.conftest import query, shared_file


def one_more_office(url: str, source_id: str) -> dict:
    ((lon, lat),) = query(
        url,
        "SELECT ST_X(ST_StartPoint(geom)), ST_Y(ST_StartPoint(geom)) FROM road_segment "
        "WHERE highway = 'residential' ORDER BY id LIMIT 1",
    )
    return {
        "source": "test",
        "source_id": source_id,
        "category": "health",
        "name": "Puskesmas Uji",
        "geom": Point(lon, lat),
    }


@pytest.fixture
def krems(fresh_db):
    _, result = ingest_osm_file(shared_file("osm/krems.osm.gz"), fresh_db, progress=False)
    assert result.network is None  # no network was built: nothing to refresh
    assert read_manifest(cache_root(fresh_db)) is None  # and none was built by the load
    yield fresh_db
    drop_cache(fresh_db)


def test_a_load_refreshes_a_built_network(krems):
    build_network(krems, progress=False)
    version = read_manifest(cache_root(krems))["version"]
    result = service.load(krems, {"office": [one_more_office(krems, "1")]}, source="test")
    assert result.network is not None
    assert result.committed and not result.interrupted
    # the cache now matches the database's facilities, the new office included
    status = network_status(krems)
    assert not status["stale"] and status["version"] != version


def test_refresh_false_leaves_the_network_stale(krems):
    build_network(krems, progress=False)
    result = service.load(
        krems, {"office": [one_more_office(krems, "2")]}, source="test", refresh=False
    )
    assert result.network is None
    status = network_status(krems)
    assert status["stale"] and status["facilities_changed"]


def test_ctrl_c_during_the_refresh_keeps_the_load(krems, monkeypatch):
    def interrupted(url, *, progress=None):
        raise KeyboardInterrupt

    monkeypatch.setattr(service, "refresh_network", interrupted)
    with pytest.raises(InterruptedAfterCommit) as info:
        service.load(krems, {"office": [one_more_office(krems, "3")]}, source="test")
    assert info.value.result.committed and info.value.result.interrupted
    assert query(krems, "SELECT count(*) FROM office WHERE source = 'test'") == [(1,)]
