"""How an OpenStreetMap object's tags become a row of a point layer.

Each function here is a layer's ``from_osm`` in the registry (:mod:`layers.registry`): it takes
the tags of a node, way or multipolygon and returns the row's fields (without ``id``,
``source``, ``source_id`` and ``geom``), or None when the object is not a feature of that
layer. The OSM reader calls every layer that has one, so a new point layer read from OSM is a
new function here and a new ``LayerSpec``, with no change to the reader.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from layers.vocab import office_category, waste_bin_kind

#: Tags whose ``;``-separated values list an office's services.
SERVICE_TAGS: tuple[str, ...] = (
    "healthcare:speciality",
    "service",
    "services",
    "government",
    "office",
)


def address(tags: Mapping[str, str]) -> str | None:
    """Return a one-line address from ``addr:full`` or the ``addr:*`` parts, or None.

    Parameters
    ----------
    tags : mapping of str to str
        The OSM object's tags.

    Returns
    -------
    str or None
        ``"street number, postcode city"``, or None when the object has no address.
    """
    if tags.get("addr:full"):
        return tags["addr:full"]
    street = " ".join(x for x in (tags.get("addr:street"), tags.get("addr:housenumber")) if x)
    place = " ".join(x for x in (tags.get("addr:postcode"), tags.get("addr:city")) if x)
    text = ", ".join(x for x in (street, place) if x)
    return text or None


def services(tags: Mapping[str, str]) -> list[str] | None:
    """Return the services an office lists in its tags (see :data:`SERVICE_TAGS`), or None.

    Parameters
    ----------
    tags : mapping of str to str
        The OSM object's tags.

    Returns
    -------
    list of str or None
        Each ``;``-separated value, stripped; None when there is none.
    """
    values: list[str] = []
    for key in SERVICE_TAGS:
        raw = tags.get(key)
        if raw and not (key == "office" and raw == "government"):
            values.extend(v.strip() for v in raw.split(";") if v.strip())
    return values or None


def parse_number(raw: str | None) -> float | None:
    """Return the leading number of a tag value (``"1,5 m3"`` -> 1.5), or None.

    Parameters
    ----------
    raw : str or None
        The tag's value.

    Returns
    -------
    float or None
        The number, or None when the value does not start with a finite number.
    """
    if raw is None:
        return None
    try:
        value = float(raw.replace(",", ".").split()[0])
    except (ValueError, IndexError):
        return None
    return value if math.isfinite(value) else None


def office_row(tags: Mapping[str, str]) -> dict | None:
    """Return the ``office`` row of an OSM object, or None when it is not an office.

    Parameters
    ----------
    tags : mapping of str to str
        The OSM object's tags.

    Returns
    -------
    dict or None
        ``category``, ``kind`` (the matching tag, e.g. ``"amenity=clinic"``), ``name``,
        ``address``, ``phone``, ``opening_hours`` and ``services``.
    """
    match = office_category(tags)
    if match is None:
        return None
    category, kind = match
    return {
        "category": category,
        "name": tags.get("name"),
        "kind": kind,
        "address": address(tags),
        "phone": tags.get("phone") or tags.get("contact:phone"),
        "opening_hours": tags.get("opening_hours"),
        "services": services(tags),
    }


def waste_bin_row(tags: Mapping[str, str]) -> dict | None:
    """Return the ``waste_bin`` row of an OSM object, or None when it is not a waste point.

    Parameters
    ----------
    tags : mapping of str to str
        The OSM object's tags.

    Returns
    -------
    dict or None
        ``kind``, ``name`` and ``capacity_l`` (from ``capacity=*``); the fill level and the
        time it was last emptied are not in OSM and are None.
    """
    kind = waste_bin_kind(tags)
    if kind is None:
        return None
    return {
        "kind": kind,
        "name": tags.get("name"),
        "capacity_l": parse_number(tags.get("capacity")),
        "fill_level": None,
        "last_emptied_at": None,
    }


def depot_row(tags: Mapping[str, str]) -> dict | None:
    """Return the ``depot`` row of an OSM object, or None when it is not a truck depot.

    A waste transfer station (``amenity=waste_transfer_station``, a *depo sampah*) is where a
    city's collection trucks are based.

    Parameters
    ----------
    tags : mapping of str to str
        The OSM object's tags.

    Returns
    -------
    dict or None
        ``name`` and ``address``.
    """
    if tags.get("amenity") != "waste_transfer_station":
        return None
    return {"name": tags.get("name"), "address": address(tags)}


def disposal_site_row(tags: Mapping[str, str]) -> dict | None:
    """Return the ``disposal_site`` row of an OSM object, or None when it is not a landfill.

    Parameters
    ----------
    tags : mapping of str to str
        The OSM object's tags (``landuse=landfill``: a TPA, read at its centroid).

    Returns
    -------
    dict or None
        ``name`` and ``address``.
    """
    if tags.get("landuse") != "landfill":
        return None
    return {"name": tags.get("name"), "address": address(tags)}
