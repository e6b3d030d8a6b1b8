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


def planning_js_strings() -> dict[str, str]:
    """The strings of the planning page's scripts (``js/planning*.js``), in the current
    language; the planning view adds them to :func:`js_strings` in its blob."""
    return {
        "plan_points": gettext("%(n)s points"),
        "plan_hexagon": gettext("Hexagon %(key)s"),
        "plan_t_is": gettext("T = %(n)s min"),
        "plan_headline": gettext("%(share)s of roads beyond %(n)s min"),
        "plan_roads_beyond": gettext(
            "%(share)s of the road length (%(beyond)s of %(total)s) is more than %(n)s "
            "minutes from the nearest office."
        ),
        "plan_nodes_beyond": gettext(
            "%(beyond)s of %(total)s road junctions (%(share)s) are beyond T."
        ),
        "plan_nodes_unreachable": gettext("Junctions that cannot reach any office at all: %(n)s."),
        "plan_people_beyond": gettext(
            "About %(beyond)s of %(total)s people live beyond T (population spread along "
            "residential roads)."
        ),
        "plan_no_facilities": gettext(
            "There is no office of this kind in the data: every road is beyond T."
        ),
        "plan_facilities": gettext("Offices of this kind: %(n)s (%(on)s on the road network)."),
        "plan_off_network": gettext("Offices too far from any road of this mode, left out: %(n)s."),
        "plan_by_hex": gettext("Per hexagon (H3 resolution %(res)s): %(n)s."),
        "plan_by_admin": gettext("Per administrative area (level %(level)s): %(n)s."),
        "plan_no_admin_areas": gettext("No administrative areas are loaded, so hexagons are used."),
        "plan_outside": gettext(
            "%(total)s of road lies outside every area (%(beyond)s of it beyond T)."
        ),
        "plan_scenario_headline": gettext(
            "With the scenario: %(before)s → %(after)s of roads beyond T (%(change)s)."
        ),
        "plan_scenario_peek": gettext("%(before)s → %(after)s beyond T"),
        "plan_with_scenario": gettext("Scenario"),
        "plan_compare": gettext("%(before)s → %(after)s (%(change)s)"),
        "plan_share_beyond": gettext("Roads beyond T"),
        "plan_road_beyond": gettext("Road length beyond T"),
        "plan_nodes": gettext("Junctions beyond T"),
        "plan_unreachable": gettext("Junctions with no office"),
        "plan_people": gettext("People beyond T"),
        "plan_areas_changed": gettext("Areas that change: %(n)s."),
        "plan_col_area": gettext("Area"),
        "plan_col_road_km": gettext("Roads (km)"),
        "plan_col_beyond_km": gettext("Beyond T (km)"),
        "plan_col_share": gettext("Beyond T"),
        "plan_col_change": gettext("Change"),
        "plan_col_people": gettext("People beyond T"),
        "plan_col_access": gettext("Accessibility (%(unit)s)"),
        "plan_access_road": gettext("office capacity per km of road"),
        "plan_access_people": gettext("office capacity per 1,000 people"),
        "plan_table_caption": gettext("Areas: %(n)s, the most uncovered first."),
        "plan_table_caption_scenario": gettext(
            "Areas with the scenario: %(n)s, the most uncovered first."
        ),
        "plan_show_area": gettext("Show %(name)s on the map"),
        "plan_site_covers": gettext("newly covers %(km)s of road (%(share)s)"),
        "plan_site_people": gettext("about %(n)s people"),
        "plan_site_after": gettext("then %(share)s beyond T"),
        "plan_sites_intro": gettext(
            "With all of these sites: %(before)s → %(after)s of roads beyond T."
        ),
        "plan_sites_fewer": gettext("Fewer sites than asked for would newly cover anything."),
        "plan_sites_loading": gettext("Looking for the best new sites..."),
        "plan_site_label": gettext("Site %(rank)s"),
        "plan_site_newly": gettext("Newly covered road"),
        "plan_share_after": gettext("Roads beyond T after"),
        "plan_show": gettext("Show"),
        "plan_show_site": gettext("Show site %(rank)s on the map"),
        "plan_add_to_scenario": gettext("Add to the scenario"),
        "plan_add_site": gettext("Add site %(rank)s to the scenario"),
        "plan_above": gettext("above %(n)s"),
        "plan_range": gettext("%(from)s to %(to)s"),
        "plan_access_zero": gettext("0: no office within T"),
        "plan_no_value": gettext("no value (no road)"),
        "plan_no_roads": gettext("no road of this mode"),
        "plan_change_at_most": gettext("%(n)s or better"),
        "plan_no_change": gettext("no change"),
        "plan_area_tip": gettext("%(share)s beyond T, accessibility %(access)s"),
        "plan_band": gettext("%(from)s to %(to)s min beyond T"),
        "plan_band_over": gettext("more than %(n)s min beyond T"),
        "plan_band_unreachable": gettext("no office can be reached"),
        "plan_gaps_title": gettext("Roads beyond %(n)s min"),
        "plan_legend_share": gettext("Areas: share of road beyond T"),
        "plan_legend_access": gettext("Areas: accessibility score (E2SFCA), %(unit)s"),
        "plan_legend_change": gettext("Areas: change of the share beyond T"),
        "plan_legend_more": gettext("Scenario and suggestions"),
        "plan_legend": gettext("Legend"),
        "plan_newly_covered": gettext("road newly within T"),
        "plan_newly_beyond": gettext("road newly beyond T"),
        "plan_closed_road": gettext("closed road"),
        "plan_added_office": gettext("office added"),
        "plan_removed_office": gettext("office closed"),
        "plan_site_symbol": gettext("suggested site (rank)"),
        "plan_closed_office": gettext("Closed: %(name)s"),
        "plan_item_closed_road": gettext("Road closed: %(name)s"),
        "plan_item_added_office": gettext("Office added: %(name)s"),
        "plan_item_closed_office": gettext("Office closed: %(name)s"),
        "plan_undo": gettext("Undo"),
        "plan_undo_item": gettext("Undo: %(what)s"),
        "plan_new_office": gettext("New office %(n)s"),
        "plan_unnamed_road": gettext("(road without a name)"),
        "plan_no_road_here": gettext("No road for this mode of travel here. Tap closer to a road."),
        "plan_not_this_category": gettext(
            "This office is not a %(category)s office; choose that service first."
        ),
        "plan_tap_an_office": gettext("Tap an office of the kind %(category)s to close it."),
        "plan_loading": gettext("Computing coverage..."),
        "plan_scenario_loading": gettext("Computing the scenario..."),
        "plan_error_minutes": gettext(
            "The travel time must be above 0 and at most %(maxMinutes)s minutes."
        ),
        "plan_error_count": gettext(
            "The number of new sites must be a whole number from 0 to %(max)s."
        ),
        "plan_error_category": gettext("This service is not known."),
        "plan_error_roads": gettext(
            "A closed road is no longer in the data. Clear the scenario and try again."
        ),
        "plan_error_offices": gettext(
            "A closed office is no longer in the data. Clear the scenario and try again."
        ),
        "plan_error_detail": gettext("The analysis could not be run: %(detail)s"),
        "plan_error_unavailable": gettext(
            "The road network is being prepared. Please try again in a minute."
        ),
        "plan_tool_iso": gettext("Tap the map: the area reachable from there."),
        "plan_tool_close": gettext("Tap a road to close it (tap again to open it)."),
        "plan_tool_add": gettext("Tap the map where a new office would stand."),
        "plan_tool_remove": gettext("Tap an office to close it (tap again to open it)."),
    }
