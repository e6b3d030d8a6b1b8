"""The on-disk cache of a routing network: memory-mapped ``.npy`` arrays and a manifest.

A build writes compact arrays to ``<cache_dir>/network/<db key>/v<stamp>/`` as ``.npy`` files,
which query processes memory-map (:func:`load_network`): node coordinates, per-segment geometry
and ids, one CSR adjacency per mode, and per mode and facility category the nearest-facility
tables (:mod:`gis.tables`). Then it points ``current.json`` (the manifest, replaced atomically)
at the new version. Readers check the manifest's modification time at most every few seconds
and reload.

The directory is named after ``host:port/dbname`` (:func:`database_key`). Its manifest is only
trusted when it matches the code: the same :data:`CACHE_FORMAT` and cost model
(:func:`cost_model_hash`); whether it matches the *database* is
:func:`gis.network.network_status`'s question.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from gis.costs import MIN_COST_S, PROFILES
from gis.errors import NotFoundError
from gis.snapping import SNAP_LIMIT_M, LocalProjection

#: Cache format; bump when the array layout or the code of the cost model changes, so old
#: caches are rebuilt. 5: facilities join the network on segments (virtual nodes). 6: a
#: second road point for facilities on cut-off fragments (``fac2_*``), ``condition_seq``.
CACHE_FORMAT = 6
#: The manifest's file name.
MANIFEST = "current.json"


def cost_model_hash() -> str:
    """Hash everything the cached costs and tables depend on besides the data.

    That is :data:`gis.costs.PROFILES`, :data:`gis.costs.MIN_COST_S`,
    :data:`gis.snapping.SNAP_LIMIT_M` and :data:`CACHE_FORMAT`.

    Returns
    -------
    str
        16 hexadecimal digits.
    """
    model = {
        "format": CACHE_FORMAT,
        "min_cost_s": MIN_COST_S,
        "snap_limit_m": SNAP_LIMIT_M,
        "profiles": {m: dataclasses.asdict(p) for m, p in sorted(PROFILES.items())},
    }
    return hashlib.sha256(json.dumps(model, sort_keys=True).encode()).hexdigest()[:16]


def database_key(url: str) -> str:
    """Name a database's cache directory: a hash of ``host:port/dbname`` (no credentials).

    Parameters
    ----------
    url : str
        Database URL.

    Returns
    -------
    str
        ``<dbname>-<12 hex digits>``.
    """
    from sqlalchemy.engine import make_url

    from gis.db import libpq_url

    u = make_url(libpq_url(url))
    ident = f"{u.host or 'localhost'}:{u.port or 5432}/{u.database or ''}"
    digest = hashlib.sha256(ident.encode()).hexdigest()[:12]
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", u.database or "db")[:40]
    return f"{safe}-{digest}"


def cache_root(url: str, cache_dir: Path | None = None) -> Path:
    """Give the network cache directory of the database at ``url``.

    Parameters
    ----------
    url : str
        Database URL.
    cache_dir : Path, optional
        Cache base directory (default: the settings' ``cache_dir``).

    Returns
    -------
    Path
        ``<cache_dir>/network/<database key>``.
    """
    from gis.settings import get_settings

    base = cache_dir or get_settings().cache_dir
    return Path(base) / "network" / database_key(url)


@contextlib.contextmanager
def build_lock(root: Path) -> Iterator[None]:
    """Hold the cache's file lock (one build at a time, across processes)."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def write_cache(root: Path, net: NetworkArrays, extra_meta: dict | None = None) -> dict:
    """Write a new version under ``root`` and point the manifest at it (atomically).

    Old versions are deleted; processes that still map them keep working (POSIX semantics).

    Parameters
    ----------
    root : Path
        The cache directory (:func:`cache_root`).
    net : NetworkArrays
        What to write.
    extra_meta : dict, optional
        More manifest entries (the database stamps).

    Returns
    -------
    dict
        The new manifest.
    """
    root.mkdir(parents=True, exist_ok=True)
    version = f"v{time.time_ns()}"
    tmp = root / f".{version}.tmp"
    tmp.mkdir()
    for name, arr in net.arrays.items():
        np.save(tmp / f"{name}.npy", np.ascontiguousarray(arr), allow_pickle=False)
    with open(tmp / "facilities.json", "w") as fh:
        json.dump(net.meta.get("facilities", {}), fh)
    tmp.rename(root / version)
    manifest = {k: v for k, v in net.meta.items() if k != "facilities"}
    manifest.update(extra_meta or {})
    manifest.update(
        {
            "format": CACHE_FORMAT,
            "model": cost_model_hash(),
            "version": version,
            "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "categories": sorted(net.meta.get("facilities", {})),
        }
    )
    tmp_manifest = root / f".{MANIFEST}.{os.getpid()}"
    tmp_manifest.write_text(json.dumps(manifest, indent=1))
    os.replace(tmp_manifest, root / MANIFEST)
    # Keep the previous version too: a process that read the old manifest a moment ago may
    # still be opening its files. Older ones go.
    versions = sorted(
        (p for p in root.iterdir() if p.is_dir() and p.name.startswith("v")),
        key=lambda p: int(p.name[1:]),
    )
    for old in versions[:-2]:
        shutil.rmtree(old, ignore_errors=True)
    return manifest


def read_manifest_file(root: Path) -> dict | None:
    """Read the manifest at ``root`` as it is, whatever code wrote it (None: none)."""
    try:
        manifest = json.loads((root / MANIFEST).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return manifest if isinstance(manifest, dict) else None


def read_manifest(root: Path) -> dict | None:
    """Read the manifest of the cache at ``root`` if this code can use it.

    Whether it matches the *database* is :func:`gis.network.network_status`'s question (that
    needs a query).

    Parameters
    ----------
    root : Path
        The cache directory.

    Returns
    -------
    dict or None
        The manifest; None if there is none or it is outdated: another
        :data:`CACHE_FORMAT`, another cost model (:func:`cost_model_hash`), or its version
        directory is gone.
    """
    manifest = read_manifest_file(root)
    if (
        manifest is None
        or manifest.get("format") != CACHE_FORMAT
        or manifest.get("model") != cost_model_hash()
        or not (root / str(manifest.get("version"))).is_dir()
    ):
        return None
    return manifest


@dataclass
class NetworkArrays:
    """Everything a cache version holds: arrays by file name, and JSON metadata.

    Parameters
    ----------
    arrays : dict of str to ndarray
        File name (without ``.npy``) to array.
    meta : dict
        Manifest entries; ``facilities`` (per category, the facilities' JSON) goes to
        ``facilities.json`` instead.
    """

    arrays: dict[str, np.ndarray]
    meta: dict


@dataclass
class Network:
    """A loaded (memory-mapped) network cache.

    Parameters
    ----------
    root : Path
        The cache directory.
    manifest : dict
        Its manifest.
    arrays : dict of str to ndarray
        The arrays, memory-mapped.
    facilities : dict of str to list of dict
        Per category, the facilities' JSON (the index of a facility in its list is its
        index in the tables).
    """

    root: Path
    manifest: dict
    arrays: dict[str, np.ndarray]
    facilities: dict[str, list[dict]]

    @property
    def version(self) -> str:
        """The version directory's name."""
        return self.manifest["version"]

    @property
    def modes(self) -> list[str]:
        """The modes the cache holds."""
        return list(self.manifest.get("modes", {}))

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return int(self.manifest["n_nodes"])

    def projection(self) -> LocalProjection:
        """Give the network's local projection."""
        return LocalProjection(self.manifest["lat0"], self.manifest["lon0"])

    def geometry_xy(self) -> tuple[np.ndarray, np.ndarray]:
        """Give the projected segment vertices and their distance along their segment.

        Returns
        -------
        xy : ndarray [M, 2]
            Vertices in the network's projection (metres), shared and memory-mapped.
        cum_m : ndarray [M]
            Distance of each vertex from its segment's start (metres).
        """
        return self.arrays["geom_xy"], self.arrays["geom_cum_m"]


def load_network(root: Path, *, writable_weights: bool = True) -> Network:
    """Memory-map the current version of the cache at ``root``.

    Arrays are read-only maps shared by every process, except the per-mode ``weight`` arrays,
    which are copy-on-write (``writable_weights``) so a query can adjust one entry privately.

    Parameters
    ----------
    root : Path
        The cache directory.
    writable_weights : bool
        Map the ``weight`` arrays copy-on-write.

    Returns
    -------
    Network
        The loaded cache.

    Raises
    ------
    NotFoundError
        No network has been built here.
    """
    for attempt in range(3):
        manifest = read_manifest(root)
        if manifest is None:
            msg = "No routing network has been built for this database; run 'sigap network build'."
            raise NotFoundError(msg)
        try:
            return _load_version(root, manifest, writable_weights)
        except FileNotFoundError:  # replaced by a concurrent build while we read it
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _load_version(root: Path, manifest: dict, writable_weights: bool) -> Network:
    vdir = root / manifest["version"]
    arrays: dict[str, np.ndarray] = {}
    for path in vdir.glob("*.npy"):
        name = path.name[:-4]
        writable = writable_weights and name.endswith(".weight")
        arr = np.load(path, mmap_mode="c" if writable else "r", allow_pickle=False)
        arrays[name] = arr.view(np.ndarray) if isinstance(arr, np.memmap) else arr
    facilities = json.loads((vdir / "facilities.json").read_text())
    return Network(root, manifest, arrays, facilities)
