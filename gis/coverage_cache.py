"""The coverage result cache: answers by their inputs, dropped when the data change.

A result's key is a hash of everything it depends on:

* the routing network's stamps (``manifest["stamps"]``: database identity, roads and
  facilities, each a fingerprint of the rows) and cost model (``manifest["model"]``), so a
  changed road, condition, facility or cost model gives another key;
* :func:`gis.coverage_inputs.planning_stamp`: the admin areas (geometry, population) and the
  facilities' capacities;
* :data:`ANALYSIS_VERSION` (bumped when this code's answers change);
* the request, normalised (category, mode, minutes, areas, scenario, ...).

So the same inputs give the same answer, from the cache or not, and a change of the network or
the facilities is never served a stale answer: the key changes with it. Results live in
memory (:data:`MEMORY_ENTRIES` per process) and on disk under
``<cache_dir>/coverage/<database key>/`` as JSON (shared by the CLI and the server's workers;
the oldest files beyond :data:`DISK_ENTRIES` are deleted). The road pieces per area
(:class:`gis.coverage_areas.AreaPieces`), which take longest to compute, are cached there too
as ``.npy`` files keyed the same way.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

#: Bump when the analysis's answers change for the same inputs.
ANALYSIS_VERSION = 2
#: Results kept in memory per process.
MEMORY_ENTRIES = 32
#: Result files kept on disk per database.
DISK_ENTRIES = 200

_memory: OrderedDict[str, Any] = OrderedDict()
_lock = threading.Lock()
#: Per thread (per greenlet under gevent): whether the last :func:`get` found its answer.
_local = threading.local()


def reset_hit() -> None:
    """Forget whether this thread's last lookup hit (before an answer is computed)."""
    _local.hit = False


def was_hit() -> bool:
    """Tell whether a lookup of this thread found its answer since :func:`reset_hit`."""
    return bool(getattr(_local, "hit", False))


def cache_key(**inputs: Any) -> str:
    """Hash the inputs of an answer (JSON-able values) into its key.

    Parameters
    ----------
    **inputs
        Everything the answer depends on.

    Returns
    -------
    str
        24 hexadecimal digits.
    """
    blob = json.dumps({"v": ANALYSIS_VERSION, **inputs}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def cache_dir(url: str) -> Path:
    """Give the on-disk cache directory of the database at ``url``."""
    from gis.network_cache import database_key
    from gis.settings import get_settings

    return Path(get_settings().cache_dir) / "coverage" / database_key(url)


def get(url: str | None, key: str) -> Any | None:
    """Give the cached answer of ``key`` (memory first, then disk), or None."""
    with _lock:
        if key in _memory:
            _memory.move_to_end(key)
            _local.hit = True
            return _memory[key]
    if url is None:
        return None
    path = cache_dir(url) / f"{key}.json"
    try:
        value = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    _remember(key, value)
    _local.hit = True
    return value


def put(url: str | None, key: str, value: Any) -> None:
    """Store an answer in memory and (with a database) on disk, atomically."""
    _remember(key, value)
    if url is None:
        return
    root = cache_dir(url)
    try:
        root.mkdir(parents=True, exist_ok=True)
        tmp = root / f".{key}.{os.getpid()}.{threading.get_ident()}"
        tmp.write_text(json.dumps(value, separators=(",", ":")))
        os.replace(tmp, root / f"{key}.json")
        _prune(root)
    except OSError:
        logger.warning("cannot write the coverage cache under %s", root, exc_info=True)


def _remember(key: str, value: Any) -> None:
    with _lock:
        _memory[key] = value
        _memory.move_to_end(key)
        while len(_memory) > MEMORY_ENTRIES:
            _memory.popitem(last=False)


def _prune(root: Path) -> None:
    files = sorted(root.glob("*.json"), key=lambda p: p.stat().st_mtime)
    for old in files[:-DISK_ENTRIES]:
        old.unlink(missing_ok=True)


def get_arrays(url: str | None, key: str, names: tuple[str, ...]) -> dict[str, np.ndarray] | None:
    """Load cached arrays ``<key>.<name>.npy`` (all of them), or None."""
    with _lock:
        if key in _memory:
            return _memory[key]
    if url is None:
        return None
    root = cache_dir(url)
    try:
        arrays = {n: np.load(root / f"{key}.{n}.npy", allow_pickle=False) for n in names}
    except (FileNotFoundError, ValueError):
        return None
    _remember(key, arrays)
    return arrays


def put_arrays(url: str | None, key: str, arrays: dict[str, np.ndarray]) -> None:
    """Store arrays in memory and (with a database) on disk as ``<key>.<name>.npy``."""
    _remember(key, arrays)
    if url is None:
        return
    root = cache_dir(url)
    try:
        root.mkdir(parents=True, exist_ok=True)
        for name, arr in arrays.items():
            tmp = root / f".{key}.{name}.{os.getpid()}.npy"
            np.save(tmp, np.ascontiguousarray(arr), allow_pickle=False)
            os.replace(tmp, root / f"{key}.{name}.npy")
    except OSError:
        logger.warning("cannot write the coverage cache under %s", root, exc_info=True)


def clear_memory() -> None:
    """Forget every answer held in memory (tests)."""
    with _lock:
        _memory.clear()
