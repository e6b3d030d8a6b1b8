"""Languages: Indonesian first, English through ``?lang=en`` or the switch on every page.

The choice is kept in a ``lang`` cookie so that it follows the user from page to page.
Strings for the page's JavaScript are translated here and reach the page in its JSON blob.
"""

from __future__ import annotations

from flask import Flask, g, request
from flask_babel import Babel, gettext

LANGUAGES: tuple[str, ...] = ("id", "en")
DEFAULT_LANGUAGE = "id"
LANG_COOKIE = "lang"
LANG_COOKIE_MAX_AGE_S = 365 * 24 * 3600


def select_locale() -> str:
    """``?lang=``, else the ``lang`` cookie, else Indonesian."""
    for raw in (request.args.get("lang"), request.cookies.get(LANG_COOKIE)):
        if raw in LANGUAGES:
            return raw
    return DEFAULT_LANGUAGE


def current_lang() -> str:
    if "lang" not in g:
        g.lang = select_locale()
    return g.lang


def _remember_lang(response):
    raw = request.args.get("lang")
    if raw in LANGUAGES and request.cookies.get(LANG_COOKIE) != raw:
        response.set_cookie(
            LANG_COOKIE, raw, max_age=LANG_COOKIE_MAX_AGE_S, samesite="Lax", httponly=True
        )
    return response


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LANGUAGE)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(app.root_path + "/translations"))
    Babel(app, locale_selector=current_lang)
    app.after_request(_remember_lang)
    app.jinja_env.globals["current_lang"] = current_lang
    app.jinja_env.globals["LANGUAGES"] = {"id": "Bahasa Indonesia", "en": "English"}


def js_strings() -> dict[str, str]:
    """Every string the page JavaScript shows, in the current language."""
    return {
        "minutes": gettext("%(n)s min"),
        "hours_minutes": gettext("%(h)s h %(m)s min"),
        "km": gettext("%(n)s km"),
        "meters": gettext("%(n)s m"),
        "trip": gettext("%(time)s %(mode)s, %(dist)s"),
        "mode_walk": gettext("on foot"),
        "mode_motorcycle": gettext("by motorcycle"),
        "mode_car": gettext("by car"),
        "searching": gettext("Searching for the nearest office..."),
        "pick_point": gettext("Click the map or use “My location” to choose a starting point."),
        "nearest_is": gettext("Nearest office:"),
        "unreachable": gettext("No office of this kind can be reached from here."),
        "error_off_network": gettext(
            "This place is too far from any road we know. Choose a point closer to a road."
        ),
        "error_input": gettext("The request was not valid. Please choose another point."),
        "error_not_found": gettext("Nothing was found for this request."),
        "error_no_facilities": gettext("There is no office of this kind in the data yet."),
        "error_generic": gettext("Sorry, something went wrong. Please try again."),
        "error_network": gettext("The server cannot be reached. Check your connection."),
        "geolocation_unavailable": gettext(
            "This browser cannot give your location. Tap the map to choose a starting point."
        ),
        "geolocation_locating": gettext("Finding your location..."),
        "geolocation_denied": gettext(
            "Permission to use your location was refused. Allow location for this site in the"
            " browser settings, or tap the map to choose a starting point."
        ),
        "geolocation_no_fix": gettext(
            "Your location could not be found (no GPS fix). Try again in the open, or tap the"
            " map to choose a starting point."
        ),
        "geolocation_timeout": gettext(
            "Finding your location took too long. Try again, or tap the map to choose a"
            " starting point."
        ),
        "geolocation_insecure": gettext(
            "Your location can only be used over a secure (https) connection. Tap the map to"
            " choose a starting point."
        ),
        "my_location": gettext("My location"),
        "cluster": gettext("%(n)s places here: zoom in"),
        "zoom_in": gettext("Zoom in"),
        "zoom_out": gettext("Zoom out"),
        "layers": gettext("Layers"),
        "close": gettext("Close"),
        "origin": gettext("Starting point"),
        "name_missing": gettext("(no name)"),
        "yes": gettext("Yes"),
        "no": gettext("No"),
        "isochrone_minutes": gettext("Reachable within %(n)s minutes"),
        "isochrone_loading": gettext("Computing reachable area..."),
        # collection routes on the sanitation map (issue 15)
        "coll_planning": gettext("Planning the routes (up to %(n)s s)..."),
        "coll_login": gettext("Log in as sanitation staff to plan routes."),
        "coll_summary": gettext("%(served)s of %(stops)s stops served, %(m3)s m³"),
        "coll_truck": gettext("Truck %(n)s"),
        "coll_truck_col": gettext("Truck"),
        "coll_stops": gettext("Stops"),
        "coll_trips": gettext("TPA trips"),
        "coll_volume": gettext("m³"),
        "coll_drive": gettext("Driving"),
        "coll_distance": gettext("Distance"),
        "coll_back": gettext("Back"),
        "coll_unserved": gettext("Not served: %(n)s stops"),
        "coll_sheet": gettext("Route sheet"),
        "coll_gpx": gettext("GPX"),
        "coll_time": gettext("Time"),
        "coll_place": gettext("Place"),
        "coll_address": gettext("Address"),
        "coll_load": gettext("Load after (m³)"),
        "coll_unload": gettext("Unload at the TPA"),
        "coll_depot": gettext("Depot"),
        "coll_idle": gettext("not needed"),
    }
