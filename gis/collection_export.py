"""A collection plan for the drivers: a GPX file per truck (phone navigation apps).

:func:`truck_gpx` writes GPX 1.1: the truck's visits as waypoints in order (``name`` numbered
like the map and the route sheet: ``1. TPS ...``, TPA visits ``TPA ...``) and its road path as
one track, a segment per leg. Text is XML-escaped.
"""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

#: Labels of visit kinds on the sheet, the map and in GPX (Indonesian, as drivers read them).
KIND_LABELS: dict[str, str] = {"depot": "Pool", "stop": "TPS", "unload": "TPA"}


def visit_labels(truck: dict) -> list[str]:
    """Give each visit's label: stops numbered in order (``1``, ``2``, ...), else its kind."""
    out, n = [], 0
    for v in truck["visits"]:
        if v["kind"] == "stop":
            n += 1
            out.append(str(n))
        else:
            out.append(KIND_LABELS[v["kind"]])
    return out


def truck_gpx(plan: dict, truck: dict) -> str:
    """Write one truck's route as GPX 1.1.

    Parameters
    ----------
    plan : dict
        The plan (:func:`gis.collection.plan_collection`).
    truck : dict
        One of ``plan["trucks"]``.

    Returns
    -------
    str
        The GPX document.
    """
    name = f"SIGAP truk {truck['truck']} {plan['date']}"
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<gpx version="1.1" creator="SIGAP" xmlns="http://www.topografix.com/GPX/1/1">',
        f"<metadata><name>{escape(name)}</name></metadata>",
    ]
    for label, v in zip(visit_labels(truck), truck["visits"], strict=True):
        title = f"{label}. {v.get('name') or ''}".strip() if label.isdigit() else label
        if not label.isdigit() and v.get("name"):
            title = f"{label} {v['name']}"
        desc = f"{v['arrival']}"
        if v["kind"] == "stop":
            desc += f", {v['volume_m3']:g} m3"
        lines.append(
            f"<wpt lat={quoteattr(str(v['lat']))} lon={quoteattr(str(v['lon']))}>"
            f"<name>{escape(title)}</name><desc>{escape(desc)}</desc></wpt>"
        )
    lines.append(f"<trk><name>{escape(name)}</name>")
    for part in truck["route"]["coordinates"]:
        pts = "".join(f'<trkpt lat="{lat}" lon="{lon}"/>' for lon, lat in part)
        lines.append(f"<trkseg>{pts}</trkseg>")
    lines.append("</trk></gpx>")
    return "\n".join(lines) + "\n"
