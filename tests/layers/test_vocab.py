"""The documented tag -> class tables."""

import pytest

from layers.vocab import (
    OFFICE_CATEGORIES,
    OFFICE_CATEGORY_LABELS,
    ROAD_CONDITION_COLORS,
    ROAD_CONDITION_LABELS,
    ROAD_CONDITIONS,
    office_category,
    road_condition,
    waste_bin_kind,
)


@pytest.mark.parametrize(
    ("smoothness", "surface", "expected"),
    [
        ("excellent", None, "baik"),
        ("good", "gravel", "baik"),  # smoothness wins over surface
        ("intermediate", None, "sedang"),
        ("bad", "asphalt", "rusak_ringan"),
        ("very_bad", None, "rusak_berat"),
        ("horrible", None, "rusak_berat"),
        ("impassable", "asphalt", "tidak_dapat_dilalui"),
        (None, "asphalt", "baik"),
        (None, "paving_stones", "baik"),
        (None, "sett", "sedang"),
        (None, "compacted", "sedang"),
        (None, "gravel", "rusak_ringan"),
        (None, "dirt", "rusak_ringan"),
        (None, "mud", "rusak_berat"),
        ("no-such-value", "asphalt", "baik"),  # unknown smoothness falls back to surface
        (None, "no-such-surface", "unknown"),
        (None, None, "unknown"),
    ],
)
def test_road_condition(smoothness, surface, expected):
    assert road_condition(smoothness, surface) == expected


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ({"amenity": "townhall"}, ("government", "amenity=townhall")),
        ({"office": "government", "government": "tax"}, ("government", "office=government")),
        ({"amenity": "clinic", "healthcare": "clinic"}, ("health", "amenity=clinic")),
        ({"healthcare": "centre"}, ("health", "healthcare=centre")),
        ({"amenity": "police"}, ("police", "amenity=police")),
        ({"amenity": "post_office"}, ("post", "amenity=post_office")),
        ({"amenity": "courthouse"}, ("court", "amenity=courthouse")),
        ({"amenity": "fire_station"}, ("fire", "amenity=fire_station")),
        ({"amenity": "cafe"}, None),
        ({}, None),
    ],
)
def test_office_category(tags, expected):
    assert office_category(tags) == expected


def test_waste_bin_kind():
    assert waste_bin_kind({"amenity": "waste_disposal"}) == "waste_disposal"
    assert waste_bin_kind({"amenity": "bench"}) is None


def test_every_class_has_a_label_and_colour():
    assert set(ROAD_CONDITION_LABELS) == set(ROAD_CONDITIONS) == set(ROAD_CONDITION_COLORS)
    assert set(OFFICE_CATEGORY_LABELS) == set(OFFICE_CATEGORIES)
