"""Controlled vocabularies: office categories, waste-bin kinds and road condition classes.

Every mapping from OpenStreetMap tags to a SIGAP class lives here, in one table each, so
ingest, routing, the API and the maps agree.
"""

from __future__ import annotations

from collections.abc import Mapping

# --- Offices --------------------------------------------------------------------------------
#: Office category -> the OSM ``(key, value)`` tags that map to it. The first matching
#: category wins, in this order.
OFFICE_CATEGORY_TAGS: dict[str, tuple[tuple[str, str], ...]] = {
    "government": (("amenity", "townhall"), ("office", "government")),
    "health": (
        ("amenity", "hospital"),
        ("amenity", "clinic"),
        ("amenity", "doctors"),
        ("healthcare", "hospital"),
        ("healthcare", "clinic"),
        ("healthcare", "centre"),
    ),
    "police": (("amenity", "police"),),
    "post": (("amenity", "post_office"),),
    "school": (("amenity", "school"),),
    "library": (("amenity", "library"),),
    "fire": (("amenity", "fire_station"),),
    "court": (("amenity", "courthouse"),),
}

#: Indonesian and English labels for each office category (data and UI keep Indonesian).
OFFICE_CATEGORY_LABELS: dict[str, tuple[str, str]] = {
    "government": ("Kantor pemerintahan", "Government office"),
    "health": ("Kesehatan (puskesmas, klinik, RS)", "Health (clinic, hospital)"),
    "police": ("Kantor polisi", "Police station"),
    "post": ("Kantor pos", "Post office"),
    "school": ("Sekolah", "School"),
    "library": ("Perpustakaan", "Library"),
    "fire": ("Pemadam kebakaran", "Fire station"),
    "court": ("Pengadilan", "Court"),
}

OFFICE_CATEGORIES: tuple[str, ...] = tuple(OFFICE_CATEGORY_TAGS)


def office_category(tags: Mapping[str, str]) -> tuple[str, str] | None:
    """Return ``(category, kind)`` for an OSM object's tags, or None if it is not an office.

    ``kind`` is the raw tag that matched, e.g. ``"amenity=clinic"``.
    """
    for category, pairs in OFFICE_CATEGORY_TAGS.items():
        for key, value in pairs:
            if tags.get(key) == value:
                return category, f"{key}={value}"
    return None


# --- Waste bins -----------------------------------------------------------------------------
#: Waste-bin kind -> the OSM tag that maps to it. ``waste_disposal`` is a TPS
#: (tempat pembuangan sementara), a large communal container.
WASTE_BIN_KIND_TAGS: dict[str, tuple[str, str]] = {
    "waste_basket": ("amenity", "waste_basket"),
    "waste_disposal": ("amenity", "waste_disposal"),
    "recycling": ("amenity", "recycling"),
}

WASTE_BIN_KIND_LABELS: dict[str, tuple[str, str]] = {
    "waste_basket": ("Tempat sampah", "Waste basket"),
    "waste_disposal": ("TPS (tempat pembuangan sementara)", "Waste disposal (TPS)"),
    "recycling": ("Daur ulang", "Recycling"),
}

WASTE_BIN_KINDS: tuple[str, ...] = tuple(WASTE_BIN_KIND_TAGS)


def waste_bin_kind(tags: Mapping[str, str]) -> str | None:
    """Return the waste-bin kind for an OSM object's tags, or None."""
    for kind, (key, value) in WASTE_BIN_KIND_TAGS.items():
        if tags.get(key) == value:
            return kind
    return None


#: Every category a nearest-facility query accepts: office categories, then waste-bin kinds.
FACILITY_CATEGORIES: tuple[str, ...] = (*OFFICE_CATEGORIES, *WASTE_BIN_KINDS)

# --- Colours (map markers, legends, tiles) --------------------------------------------------
OFFICE_COLORS: dict[str, str] = {
    "government": "#1f4e9c",
    "health": "#c62828",
    "police": "#283593",
    "post": "#ef6c00",
    "school": "#2e7d32",
    "library": "#6a1b9a",
    "fire": "#b71c1c",
    "court": "#4e342e",
}

WASTE_BIN_COLORS: dict[str, str] = {
    "waste_basket": "#546e7a",
    "waste_disposal": "#8d6e63",
    "recycling": "#00897b",
}

# --- Road condition -------------------------------------------------------------------------
#: Road condition classes, best to worst. Indonesian classes (Permen PU) plus "impassable".
ROAD_CONDITIONS: tuple[str, ...] = (
    "baik",
    "sedang",
    "rusak_ringan",
    "rusak_berat",
    "tidak_dapat_dilalui",
    "unknown",
)

ROAD_CONDITION_LABELS: dict[str, tuple[str, str]] = {
    "baik": ("Baik", "Good"),
    "sedang": ("Sedang", "Fair"),
    "rusak_ringan": ("Rusak ringan", "Light damage"),
    "rusak_berat": ("Rusak berat", "Heavy damage"),
    "tidak_dapat_dilalui": ("Tidak dapat dilalui", "Impassable"),
    "unknown": ("Tidak diketahui", "Unknown"),
}

#: Map colour per condition class (used by the sanitation map legend and the tiles).
ROAD_CONDITION_COLORS: dict[str, str] = {
    "baik": "#1a9641",
    "sedang": "#a6d96a",
    "rusak_ringan": "#fdae61",
    "rusak_berat": "#d7191c",
    "tidak_dapat_dilalui": "#5e0a0a",
    "unknown": "#9e9e9e",
}

#: OSM ``smoothness=*`` -> condition class. Checked first.
SMOOTHNESS_CONDITION: dict[str, str] = {
    "excellent": "baik",
    "good": "baik",
    "intermediate": "sedang",
    "bad": "rusak_ringan",
    "very_bad": "rusak_berat",
    "horrible": "rusak_berat",
    "very_horrible": "rusak_berat",
    "impassable": "tidak_dapat_dilalui",
}

#: OSM ``surface=*`` -> condition class. Used when ``smoothness`` is absent or unknown.
#: Surface alone is a weak signal: sealed surfaces are assumed good, loose ones damaged.
SURFACE_CONDITION: dict[str, str] = {
    "asphalt": "baik",
    "concrete": "baik",
    "concrete:plates": "baik",
    "concrete:lanes": "baik",
    "paved": "baik",
    "paving_stones": "baik",
    "chipseal": "baik",
    "sett": "sedang",
    "cobblestone": "sedang",
    "unhewn_cobblestone": "sedang",
    "bricks": "sedang",
    "metal": "sedang",
    "wood": "sedang",
    "compacted": "sedang",
    "fine_gravel": "sedang",
    "grass_paver": "sedang",
    "gravel": "rusak_ringan",
    "pebblestone": "rusak_ringan",
    "unpaved": "rusak_ringan",
    "ground": "rusak_ringan",
    "dirt": "rusak_ringan",
    "earth": "rusak_ringan",
    "grass": "rusak_ringan",
    "rock": "rusak_ringan",
    "mud": "rusak_berat",
    "sand": "rusak_berat",
}


def road_condition(smoothness: str | None, surface: str | None) -> str:
    """Condition class from OSM ``smoothness`` first, then ``surface``; else ``unknown``."""
    if smoothness and smoothness in SMOOTHNESS_CONDITION:
        return SMOOTHNESS_CONDITION[smoothness]
    if surface and surface in SURFACE_CONDITION:
        return SURFACE_CONDITION[surface]
    return "unknown"


#: ``highway=*`` values that are not part of a routable network.
NON_ROUTABLE_HIGHWAYS: frozenset[str] = frozenset(
    {
        "proposed",
        "construction",
        "abandoned",
        "disused",
        "platform",
        "raceway",
        "bus_stop",
        "rest_area",
        "services",
        "elevator",
        "corridor",
        "razed",
        "no",
    }
)

# --- Complaints -----------------------------------------------------------------------------
COMPLAINT_CHANNELS: tuple[str, ...] = ("web", "phone", "desk", "api")
COMPLAINT_STATUSES: tuple[str, ...] = ("open", "acknowledged", "in_progress", "closed", "rejected")

COMPLAINT_STATUS_LABELS: dict[str, tuple[str, str]] = {
    "open": ("Baru", "Open"),
    "acknowledged": ("Diterima", "Acknowledged"),
    "in_progress": ("Diproses", "In progress"),
    "closed": ("Selesai", "Closed"),
    "rejected": ("Ditolak", "Rejected"),
}

COMPLAINT_CHANNEL_LABELS: dict[str, tuple[str, str]] = {
    "web": ("Situs web", "Web"),
    "phone": ("Telepon", "Phone"),
    "desk": ("Loket", "Help desk"),
    "api": ("API / impor", "API / import"),
}
