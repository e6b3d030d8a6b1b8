"""Fields a layer needs that an input file seldom has, derived from what it does have.

Each function here is a layer's ``from_file`` in the registry (:mod:`layers.registry`). The file
loader calls it on every chunk of rows after the columns were mapped and the geometries checked:
a pandas DataFrame with the layer's mapped fields (a column each, missing ones absent) and
``geom`` (shapely geometries in EPSG:4326). It fills what is missing in place; values the file
gave are kept.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import shapely

from layers.vocab import SMOOTHNESS_CONDITION, SURFACE_CONDITION

#: Mean Earth radius (m) for lengths on the sphere; within 0.5 % of the ellipsoid.
EARTH_RADIUS_M = 6_371_008.8

#: Grid of end-node ids made from coordinates: 1e-7 degrees (about 1 cm).
NODE_GRID_PER_DEG = 10_000_000


def node_ids(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Return a node id per coordinate: the same point gives the same id, in any file.

    Files of road lines have no node ids, but the routing graph joins segments that share an
    end. The id packs the coordinate rounded to 1e-7 degrees into 63 bits and is negative, so
    it never equals an OpenStreetMap node id.

    Parameters
    ----------
    x, y : numpy.ndarray
        Longitudes and latitudes (degrees).

    Returns
    -------
    numpy.ndarray of int64
    """
    ix = np.rint((np.asarray(x, dtype=float) + 180.0) * NODE_GRID_PER_DEG).astype(np.int64)
    iy = np.rint((np.asarray(y, dtype=float) + 90.0) * NODE_GRID_PER_DEG).astype(np.int64)
    return -((ix << 31) | iy) - 1


def line_lengths_m(geoms: np.ndarray) -> np.ndarray:
    """Return the length of each line on the sphere, in metres (haversine per vertex pair).

    Parameters
    ----------
    geoms : numpy.ndarray of shapely geometries
        Lines in EPSG:4326.

    Returns
    -------
    numpy.ndarray of float
    """
    coords, index = shapely.get_coordinates(geoms, return_index=True)
    if len(coords) < 2:
        return np.zeros(len(geoms))
    lon, lat = np.radians(coords[:, 0]), np.radians(coords[:, 1])
    same = index[1:] == index[:-1]
    dlat, dlon = lat[1:] - lat[:-1], lon[1:] - lon[:-1]
    a = np.sin(dlat / 2) ** 2 + np.cos(lat[1:]) * np.cos(lat[:-1]) * np.sin(dlon / 2) ** 2
    dist = 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0, 1)))
    return np.bincount(index[1:][same], weights=dist[same], minlength=len(geoms))


def _missing(frame: pd.DataFrame, name: str) -> np.ndarray:
    if name not in frame:
        return np.ones(len(frame), dtype=bool)
    return np.asarray(frame[name].isna(), dtype=bool)


def road_fields(frame: pd.DataFrame) -> None:
    """Fill a road segment's end nodes, length, one-way flag and condition where missing.

    ``u`` and ``v`` come from the line's first and last point (:func:`node_ids`), ``length_m``
    from its length on the sphere, ``oneway`` is False, and ``condition`` comes from
    ``smoothness`` then ``surface`` as for OpenStreetMap roads (else ``unknown``).

    Parameters
    ----------
    frame : pandas.DataFrame
        Mapped fields and ``geom`` (LineStrings); changed in place.
    """
    geoms = frame["geom"].to_numpy()
    for name, index in (("u", 0), ("v", -1)):
        missing = _missing(frame, name)
        if missing.any():
            ends = shapely.get_point(geoms[missing], index)
            ids = node_ids(shapely.get_x(ends), shapely.get_y(ends))
            column = (
                frame[name].astype("Int64")
                if name in frame
                else pd.Series(pd.NA, index=frame.index, dtype="Int64")
            )
            column[missing] = ids
            frame[name] = column
    missing = _missing(frame, "length_m")
    if missing.any():
        lengths = (
            frame["length_m"].astype(float)
            if "length_m" in frame
            else pd.Series(np.nan, index=frame.index)
        )
        lengths[missing] = line_lengths_m(geoms[missing])
        frame["length_m"] = lengths
    if "oneway" not in frame:
        frame["oneway"] = False
    else:
        frame["oneway"] = frame["oneway"].astype(object).where(frame["oneway"].notna(), False)
    missing = _missing(frame, "condition")
    if missing.any():
        smooth = (
            frame["smoothness"] if "smoothness" in frame else pd.Series(None, index=frame.index)
        )
        surface = frame["surface"] if "surface" in frame else pd.Series(None, index=frame.index)
        # road_condition(smoothness, surface) for whole columns: smoothness first
        by_smoothness = smooth[missing].astype(object).map(SMOOTHNESS_CONDITION)
        by_surface = surface[missing].astype(object).map(SURFACE_CONDITION)
        derived = by_smoothness.where(by_smoothness.notna(), by_surface).astype(object)
        derived = derived.where(derived.notna(), "unknown").to_numpy()
        column = (
            frame["condition"].astype(object)
            if "condition" in frame
            else pd.Series(None, index=frame.index, dtype=object)
        )
        column[missing] = derived
        frame["condition"] = column


def public_id(source: str, source_id: str) -> str:
    """Return the public request id of an imported complaint: stable for its source and id.

    Parameters
    ----------
    source, source_id : str
        The complaint's key.

    Returns
    -------
    str
        ``IMP-`` and 12 hexadecimal digits of a SHA-1 of the key.
    """
    digest = hashlib.sha1(f"{source}\x1f{source_id}".encode(), usedforsecurity=False)
    return "IMP-" + digest.hexdigest()[:12].upper()


def complaint_fields(frame: pd.DataFrame) -> None:
    """Fill an imported complaint's public id, status, channel and request time where missing.

    The public id comes from the row's key (:func:`public_id`), the status is ``open``, the
    channel ``api`` (it came from another system) and the request time the time of the load.

    Parameters
    ----------
    frame : pandas.DataFrame
        Mapped fields, ``source``, ``source_id`` and ``geom``; changed in place.
    """
    missing = _missing(frame, "public_id")
    if missing.any():
        column = (
            frame["public_id"].astype(object)
            if "public_id" in frame
            else pd.Series(None, index=frame.index, dtype=object)
        )
        column[missing] = [
            public_id(str(s), str(i))
            for s, i in zip(frame["source"][missing], frame["source_id"][missing], strict=True)
        ]
        frame["public_id"] = column
    for name, default in (("status", "open"), ("channel", "api")):
        if name not in frame:
            frame[name] = default
        else:
            frame[name] = frame[name].astype(object).where(frame[name].notna(), default)
    now = datetime.now(UTC)
    if "requested_at" not in frame:
        frame["requested_at"] = pd.Timestamp(now)
    else:
        frame["requested_at"] = frame["requested_at"].fillna(pd.Timestamp(now))
