"""Download the OpenStreetMap data of a named place (``sigap ingest osm --place``).

Geocoding goes through OSMnx and the download through the Overpass API
(``SIGAP_OVERPASS_URL``). Offline, it fails at once with advice instead of waiting.
"""

from __future__ import annotations

from pathlib import Path

from gis.errors import IngestError


def download_place(place: str, dest_dir: Path, *, timeout_s: float = 5.0) -> Path:
    """Download the OSM data of a named place (via OSMnx geocoding and Overpass) to a file.

    Parameters
    ----------
    place : str
        A place name OSMnx can geocode, e.g. ``"Surabaya, Indonesia"``.
    dest_dir : Path
        Directory for the downloaded ``.osm`` file (created if needed).
    timeout_s : float
        How long to wait for the Overpass server to accept a connection.

    Returns
    -------
    Path
        The ``.osm`` file.

    Raises
    ------
    IngestError
        The servers cannot be reached (at once, with advice), the place is unknown, or
        Overpass refuses the download.
    """
    import socket
    from urllib.parse import urlparse

    from gis.settings import get_settings

    overpass_url = get_settings().overpass_url
    parsed = urlparse(overpass_url)
    try:
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        socket.create_connection((parsed.hostname or "", port), timeout=timeout_s).close()
    except OSError as exc:
        msg = (
            f"Cannot reach the OpenStreetMap servers to download '{place}' ({exc}). "
            "This machine seems to be offline: download an extract elsewhere (for example "
            "from Geofabrik) and pass the file instead: sigap ingest osm FILE.osm.pbf"
        )
        raise IngestError(msg, param="place") from exc
    import osmnx as ox
    import requests

    try:
        area = ox.geocode_to_gdf(place)
    except Exception as exc:  # osmnx raises several types for "not found"
        msg = f"OSMnx could not find the place '{place}': {exc}"
        raise IngestError(msg, param="place") from exc
    west, south, east, north = area.total_bounds
    query = f"[out:xml][timeout:300];(nwr({south},{west},{north},{east}););(._;>;);out body;"
    response = requests.post(overpass_url, data={"data": query}, timeout=600)
    if response.status_code != 200:
        msg = f"Overpass refused the download of '{place}' (HTTP {response.status_code})."
        raise IngestError(msg, param="place")
    dest_dir.mkdir(parents=True, exist_ok=True)
    slug = "".join(ch if ch.isalnum() else "_" for ch in place.lower()).strip("_")
    dest = dest_dir / f"{slug}.osm"
    dest.write_bytes(response.content)
    return dest
