"""The cache on disk: memory-mapped, one per database, trusted only by the code that wrote it."""

from __future__ import annotations

import json

import numpy as np

from gis.network import MODES, cache_root, database_key, load_network, read_manifest
from gis.network_cache import CACHE_FORMAT, MANIFEST, cost_model_hash, read_manifest_file
from gis.tables import TABLE_ARRAYS


def test_cache_is_memory_mapped_and_keyed_by_database(hel):
    root = cache_root(hel)
    manifest = read_manifest(root)
    assert manifest and set(manifest["modes"]) == set(MODES)
    assert (root / manifest["version"] / "car.indptr.npy").is_file()
    net = load_network(root)
    indptr = net.arrays["car.indptr"]
    assert not indptr.flags.writeable  # a read-only map shared by every process
    assert isinstance(indptr.base, np.memmap) or type(indptr.base).__name__ == "mmap"
    weight = net.arrays["car.weight"]
    original = float(weight[0])
    weight[0] = original + 1.0  # copy-on-write: private to this process
    again = load_network(root, writable_weights=False)
    assert float(again.arrays["car.weight"][0]) == original
    # keys: one cache per database, never shared, no credentials in the path
    other = hel.rsplit("/", 1)[0] + "/some_other_db"
    assert database_key(other) != database_key(hel)
    with_password = hel.replace("postgres@", "postgres:s3cret@")
    assert database_key(with_password) == database_key(hel)
    assert "s3cret" not in str(cache_root(with_password))


def test_cache_holds_the_tables_of_every_mode_and_category(hel):
    root = cache_root(hel)
    manifest = read_manifest(root)
    net = load_network(root)
    for mode in MODES:
        for category in manifest["categories"]:
            for suffix in TABLE_ARRAYS.values():
                assert f"{mode}.{category}.{suffix}" in net.arrays
            n = len(net.facilities[category])
            assert net.arrays[f"{mode}.{category}.fac_edge"].shape == (n,)
            assert net.arrays[f"{mode}.{category}.dist"].dtype == np.float32


def test_a_cache_of_another_format_or_model_counts_as_absent(hel, tmp_path):
    root = cache_root(hel)
    manifest = read_manifest_file(root)
    assert manifest["format"] == CACHE_FORMAT and manifest["model"] == cost_model_hash()
    for change in ({"format": CACHE_FORMAT - 1}, {"model": "0" * 16}, {"version": "v0"}):
        copy = tmp_path / str(len(list(tmp_path.iterdir())))
        copy.mkdir()
        (copy / manifest["version"]).symlink_to(root / manifest["version"])
        (copy / MANIFEST).write_text(json.dumps({**manifest, **change}))
        assert read_manifest_file(copy) is not None
        assert read_manifest(copy) is None
