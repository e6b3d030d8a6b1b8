"""The cost model: which roads each travel mode may use, and how long each segment takes.

``cost_s = length_m / (speed_kph / 3.6) / condition_factor``, at least :data:`MIN_COST_S`.

* Which ``highway`` classes a mode may use, and their default speeds, are in
  :data:`PROFILES`. Walking may use every footway, path, steps and road except motorways;
  motorcycles may use ``path`` and ``track`` (the narrow *gang* of Indonesian towns) but, as on
  Indonesian toll roads, not motorways; cars may use neither paths nor footways.
* Speed: for motorcycle and car, the numeric ``maxspeed`` when it parses (``"50"``,
  ``"30 mph"``, ``"50;30"`` takes the lowest), else the class default, capped at the mode's
  maximum. Walking ignores ``maxspeed``.
* ``truck`` (the sanitation fleet, :mod:`gis.collection`) drives where cars do except
  ``living_street`` and ``track`` (and never footways, paths or steps), at
  :data:`TRUCK_SPEED_FACTOR` of the car's class speed, capped at 60 km/h, and slows much more
  than a car on *rusak ringan* and *rusak berat*. It is not offered to citizens
  (:data:`PUBLIC_MODES`).
* ``oneway`` binds motorcycle and car (travel only ``u`` -> ``v``); walking ignores it.
* Condition: a speed factor per class (:data:`CONDITION_FACTORS`). ``rusak_berat`` is much
  slower; ``tidak_dapat_dilalui`` removes the edge for every mode.

The costs are written back to ``road_segment.cost_<mode>_s`` by :func:`gis.network.build_network`,
so pgRouting, networkx or plain SQL reproduce every answer from the database alone. Changing
the *code* of the model (e.g. :func:`parse_maxspeed_kph`) must bump
:data:`gis.network_cache.CACHE_FORMAT`; changing its *data* (:data:`PROFILES`) changes
:func:`gis.network_cache.cost_model_hash` by itself.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from layers.vocab import ROAD_CONDITIONS

MODES: tuple[str, ...] = ("walk", "motorcycle", "car", "truck")
#: No edge is cheaper than this, so zero-length segments stay real edges.
MIN_COST_S = 0.001


@dataclass(frozen=True)
class ModeProfile:
    """How one travel mode uses the network.

    Parameters
    ----------
    name : str
        ``walk``, ``motorcycle``, ``car`` or ``truck``.
    speeds_kph : dict
        Default speed (km/h) per allowed ``highway`` class; classes absent are not allowed.
    max_speed_kph : float
        Cap on any speed, including a tagged ``maxspeed``.
    use_maxspeed : bool
        Whether a tagged ``maxspeed`` replaces the class default.
    oneway : bool
        Whether ``oneway`` segments may only be travelled ``u`` -> ``v``.
    condition_factors : dict
        Speed multiplier per road condition class; None removes the edge.
    public : bool
        Whether citizens and planners may choose it (:data:`PUBLIC_MODES`); the sanitation
        fleet's ``truck`` is built like every mode but offered only to collection planning.
    """

    name: str
    speeds_kph: dict[str, float]
    max_speed_kph: float
    use_maxspeed: bool
    oneway: bool
    condition_factors: dict[str, float | None]
    public: bool = True


_ROAD_SPEEDS_CAR = {
    "motorway": 80.0,
    "motorway_link": 50.0,
    "trunk": 60.0,
    "trunk_link": 40.0,
    "primary": 50.0,
    "primary_link": 35.0,
    "secondary": 40.0,
    "secondary_link": 30.0,
    "tertiary": 35.0,
    "tertiary_link": 25.0,
    "unclassified": 25.0,
    "road": 20.0,
    "residential": 20.0,
    "living_street": 10.0,
    "service": 15.0,
    "track": 10.0,
}
#: A loaded dump truck against a car on the same road (Indonesian collection trucks: 6 m³
#: *dump truck* or *arm roll*, heavy and slow in traffic).
TRUCK_SPEED_FACTOR = 0.75
#: Road classes a collection truck may not use: too narrow or not for vehicles.
TRUCK_FORBIDDEN: frozenset[str] = frozenset(
    {"footway", "path", "track", "steps", "living_street", "pedestrian", "cycleway"}
)
_ROAD_SPEEDS_TRUCK = {
    c: round(v * TRUCK_SPEED_FACTOR, 2)
    for c, v in _ROAD_SPEEDS_CAR.items()
    if c not in TRUCK_FORBIDDEN
}
_ROAD_SPEEDS_MOTORCYCLE = {
    "trunk": 55.0,
    "trunk_link": 40.0,
    "primary": 45.0,
    "primary_link": 35.0,
    "secondary": 40.0,
    "secondary_link": 30.0,
    "tertiary": 35.0,
    "tertiary_link": 30.0,
    "unclassified": 30.0,
    "road": 25.0,
    "residential": 25.0,
    "living_street": 15.0,
    "service": 20.0,
    "track": 15.0,
    "path": 10.0,  # gang / jalan setapak: motorcycles ride them, cars cannot
}
_WALK_CLASSES = (
    "trunk",
    "trunk_link",
    "primary",
    "primary_link",
    "secondary",
    "secondary_link",
    "tertiary",
    "tertiary_link",
    "unclassified",
    "road",
    "residential",
    "living_street",
    "service",
    "track",
    "path",
    "footway",
    "pedestrian",
    "cycleway",
    "bridleway",
    "crossing",
    "sidewalk",
)
_WALK_SPEEDS = {c: 5.0 for c in _WALK_CLASSES} | {"steps": 2.5}

PROFILES: dict[str, ModeProfile] = {
    "walk": ModeProfile(
        "walk",
        _WALK_SPEEDS,
        max_speed_kph=5.0,
        use_maxspeed=False,
        oneway=False,
        condition_factors={
            "baik": 1.0,
            "sedang": 1.0,
            "rusak_ringan": 0.9,
            "rusak_berat": 0.7,
            "tidak_dapat_dilalui": None,
            "unknown": 1.0,
        },
    ),
    "motorcycle": ModeProfile(
        "motorcycle",
        _ROAD_SPEEDS_MOTORCYCLE,
        max_speed_kph=80.0,
        use_maxspeed=True,
        oneway=True,
        condition_factors={
            "baik": 1.0,
            "sedang": 0.85,
            "rusak_ringan": 0.65,
            "rusak_berat": 0.35,
            "tidak_dapat_dilalui": None,
            "unknown": 1.0,
        },
    ),
    "car": ModeProfile(
        "car",
        _ROAD_SPEEDS_CAR,
        max_speed_kph=100.0,
        use_maxspeed=True,
        oneway=True,
        condition_factors={
            "baik": 1.0,
            "sedang": 0.8,
            "rusak_ringan": 0.6,
            "rusak_berat": 0.3,
            "tidak_dapat_dilalui": None,
            "unknown": 1.0,
        },
    ),
    "truck": ModeProfile(
        "truck",
        _ROAD_SPEEDS_TRUCK,
        max_speed_kph=60.0,
        use_maxspeed=True,
        oneway=True,
        condition_factors={
            "baik": 1.0,
            "sedang": 0.75,
            "rusak_ringan": 0.45,
            "rusak_berat": 0.15,
            "tidak_dapat_dilalui": None,
            "unknown": 1.0,
        },
        public=False,
    ),
}
#: Modes citizens and planners choose from (the API's ``mode``); every mode of
#: :data:`MODES` is built.
PUBLIC_MODES: tuple[str, ...] = tuple(m for m in MODES if PROFILES[m].public)
#: Condition factor per mode and class, for the docs and the tests.
CONDITION_FACTORS: dict[str, dict[str, float | None]] = {
    m: p.condition_factors for m, p in PROFILES.items()
}
assert all(set(f) == set(ROAD_CONDITIONS) for f in CONDITION_FACTORS.values())


_MAXSPEED_NUMBER = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(mph|km/h|kmh|kph)?\s*$")


def parse_maxspeed_kph(raw: str | None) -> float | None:
    """Read a raw OSM ``maxspeed`` tag as km/h.

    ``"50"`` -> 50, ``"30 mph"`` -> 48.28, ``"50;30"`` -> 30 (the lowest), ``"walk"`` -> 6,
    ``"RU:urban"``, ``"signals"``, ``"none"`` -> None (use the class default).

    Parameters
    ----------
    raw : str or None
        The tag's value.

    Returns
    -------
    float or None
        The speed in km/h, or None when the tag gives no number.
    """
    if not raw:
        return None
    values = []
    for part in raw.split(";"):
        part = part.strip().lower()
        if part == "walk":
            values.append(6.0)
            continue
        m = _MAXSPEED_NUMBER.match(part)
        if m:
            value = float(m.group(1)) * (1.609344 if m.group(2) == "mph" else 1.0)
            if value > 0:
                values.append(value)
    return min(values) if values else None


def edge_costs(
    mode: str,
    highway: Sequence[str],
    maxspeed: Sequence[str | None],
    length_m: np.ndarray,
    condition: Sequence[str],
) -> np.ndarray:
    """Travel time in seconds of each segment for ``mode``; NaN where the mode may not pass.

    Parameters
    ----------
    mode : str
        One of :data:`MODES`.
    highway, maxspeed, condition : sequences of str
        Per segment: OSM ``highway`` class, raw ``maxspeed`` tag (or None), condition class.
    length_m : ndarray of float
        Per segment length in metres.
    """
    profile = PROFILES[mode]
    n = len(length_m)
    speed_kph = np.full(n, np.nan)
    factor = np.full(n, np.nan)
    speed_cache: dict[tuple[str, str | None], float] = {}
    for i in range(n):
        key = (highway[i], maxspeed[i] if profile.use_maxspeed else None)
        s = speed_cache.get(key)
        if s is None:
            default = profile.speeds_kph.get(key[0])
            if default is None:
                s = math.nan
            else:
                tagged = parse_maxspeed_kph(key[1]) if profile.use_maxspeed else None
                s = min(tagged or default, profile.max_speed_kph)
            speed_cache[key] = s
        speed_kph[i] = s
        f = profile.condition_factors.get(condition[i], 1.0)
        factor[i] = np.nan if f is None else f
    cost_s = np.asarray(length_m, dtype=float) / (speed_kph / 3.6) / factor
    return np.where(np.isnan(cost_s), np.nan, np.maximum(cost_s, MIN_COST_S))


# --- reading the database -------------------------------------------------------------------
