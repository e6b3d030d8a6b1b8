"""The parts every planning answer shares.

Checking a request's arguments, loading its setting, and the head and body of the JSON;
:mod:`gis.coverage` composes them into the answers.
"""

from __future__ import annotations

import numpy as np

from gis import validate
from gis.coverage_access import decay
from gis.coverage_analysis import Analysis, accessibility_unit, analyse, legend
from gis.coverage_areas import HEX_RESOLUTIONS
from gis.coverage_report import areas_collection
from gis.coverage_setting import Setting, load_setting
from gis.routing import FACILITY_CATEGORIES, MODES

#: T may be at most this many minutes.
MAX_MINUTES = 240.0
#: ``suggest`` gives at most this many sites.
MAX_COUNT = 50
#: What the areas of an analysis may be.
AREA_KINDS: tuple[str, ...] = ("admin_area", "hex")
#: Most candidate points a user may give.
MAX_CANDIDATE_POINTS = 5000


# --- validation ---------------------------------------------------------------------------


def validate_threshold(minutes: object) -> float:
    """Parse T in minutes: a number above 0 and at most :data:`MAX_MINUTES`."""
    value = validate.number(minutes, "minutes")
    if not 0 < value <= MAX_MINUTES:
        msg = f"'minutes' must be above 0 and at most {MAX_MINUTES:g}, got {minutes!r}."
        raise validate.bad("minutes", msg)
    return value


def validate_count(count: object) -> int:
    """Parse how many sites: 1 to :data:`MAX_COUNT`."""
    return validate.integer(count, "count", minimum=1, maximum=MAX_COUNT)


def check_request(category: object, mode: object, minutes: object) -> tuple[str, str, float]:
    """Check a request's category, mode and T (minutes); return them parsed."""
    cat = validate.choice(category, "category", FACILITY_CATEGORIES)
    return cat, validate.choice(mode, "mode", MODES), validate_threshold(minutes)


def areas_args(by, admin_level, hex_resolution):
    """Check the area arguments (``by``, ``admin_level``, ``hex_resolution``); None: default."""
    if by is not None:
        by = validate.choice(by, "by", AREA_KINDS)
    if admin_level is not None:
        admin_level = validate.integer(admin_level, "admin_level", minimum=1, maximum=20)
    if hex_resolution is not None:
        lo, hi = HEX_RESOLUTIONS[0], HEX_RESOLUTIONS[-1]
        hex_resolution = validate.integer(hex_resolution, "hex_resolution", minimum=lo, maximum=hi)
    return by, admin_level, hex_resolution


def request_setting(url, mode, by, admin_level, hex_resolution, progress) -> Setting:
    """Load the setting of a request, its area arguments checked first."""
    by, admin_level, hex_resolution = areas_args(by, admin_level, hex_resolution)
    return load_setting(
        url,
        mode=mode,
        by=by,
        admin_level=admin_level,
        hex_resolution=hex_resolution,
        progress=progress,
    )


def answer_head(kind: str, key: str, setting: Setting, category: str, mode: str, minutes: float):
    """Return the fields every answer starts with: what was asked, and of which areas."""
    areas = setting.areas
    return {
        "analysis": kind,
        "key": key,
        "category": category,
        "mode": mode,
        "minutes": minutes,
        "threshold_s": minutes * 60.0,
        "areas_kind": areas.kind,
        "admin_level": areas.admin_level,
        "hex_resolution": areas.hex_resolution,
    }


def facility_info(setting: Setting, category: str, fac_edge: np.ndarray, facs: list) -> dict:
    """Return how many facilities there are, and which are off the network."""
    on = np.asarray(fac_edge) >= 0
    return {
        "count": len(facs),
        "on_network": int(on.sum()),
        "off_network": [int(f["id"]) for f, ok in zip(facs, on.tolist(), strict=True) if not ok],
    }


def answer_body(analysis: Analysis, setting: Setting, *, gaps: bool) -> dict:
    """Return an analysis as JSON: summary, areas, legend bands and (``gaps``) the gap layer."""
    frame = analysis.frame
    out = {
        "summary": analysis.summary(),
        "demand_unit": frame.demand_unit,
        "accessibility_unit": accessibility_unit(frame.demand_unit),
        "decay": decay(analysis.threshold_s),
        "areas": areas_collection(analysis.area_rows(), setting.area_features()),
        "outside": analysis.outside(),
        "bands": legend(analysis.threshold_s),
    }
    if gaps:
        out["gaps"] = analysis.gap_layer()
    return out


def baseline(
    setting: Setting, category: str, mode: str, threshold_s: float, *, accessibility: bool = True
) -> Analysis:
    """Analyse the stored network and facilities (no scenario) for one category and mode."""
    dist, fac_edge, fac_fraction = setting.base_tables(mode, category)
    return analyse(
        setting.frame(mode),
        dist,
        threshold_s,
        fac_edge=fac_edge,
        fac_fraction=fac_fraction,
        capacity=setting.capacity(category),
        accessibility=accessibility,
    )
