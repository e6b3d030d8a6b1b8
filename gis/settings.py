"""Configuration, read once from the environment into a frozen object.

Environment variables
---------------------
DATABASE_URL        PostgreSQL URL. Unset: use the project-local cluster under the data dir.
SIGAP_DATA_DIR      Data directory (cluster, caches). Default: ``data/`` in the checkout.
SIGAP_ENV           ``development`` (default) or ``production``.
SIGAP_SECRET_KEY    Flask session secret. Required when SIGAP_ENV=production.
SIGAP_PG_PORT       Preferred port of the local cluster. Default 54329.
SIGAP_TILE_URL      Optional XYZ tile URL for a basemap (deployments with internet).
SIGAP_TILE_ATTRIBUTION  Attribution text for SIGAP_TILE_URL.
SIGAP_OVERPASS_URL  Overpass API used by ``sigap ingest osm --place``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from gis.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parents[1]

#: The values ``SIGAP_ENV`` may take.
ENVIRONMENTS: tuple[str, ...] = ("development", "production")
DEFAULT_PG_PORT = 54329
DEFAULT_OVERPASS_URL = "https://overpass-api.de/api/interpreter"


@dataclass(frozen=True)
class Settings:
    """SIGAP's configuration, read once from the environment (see the module docstring).

    Attributes
    ----------
    database_url : str or None
        ``DATABASE_URL``; None: the project-local cluster.
    data_dir : Path
        ``SIGAP_DATA_DIR``, absolute.
    env : str
        ``SIGAP_ENV``, one of :data:`ENVIRONMENTS`.
    secret_key : str or None
        ``SIGAP_SECRET_KEY``.
    pg_port : int
        ``SIGAP_PG_PORT``, the local cluster's preferred port.
    tile_url : str or None
        ``SIGAP_TILE_URL``.
    tile_attribution : str
        ``SIGAP_TILE_ATTRIBUTION``.
    overpass_url : str
        ``SIGAP_OVERPASS_URL``.
    """

    database_url: str | None
    data_dir: Path
    env: str
    secret_key: str | None
    pg_port: int
    tile_url: str | None
    tile_attribution: str
    overpass_url: str

    @property
    def is_production(self) -> bool:
        """Whether ``SIGAP_ENV`` is ``production``."""
        return self.env == "production"

    @property
    def cache_dir(self) -> Path:
        """Where routing caches live: ``<data dir>/cache``."""
        return self.data_dir / "cache"


def _port(raw: str) -> int:
    text = raw.strip()
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        msg = f"SIGAP_PG_PORT must be a port number from 1 to 65535, got {raw!r}."
        raise ConfigError(msg, param="SIGAP_PG_PORT")
    return int(text)


def _environment(raw: str) -> str:
    if raw not in ENVIRONMENTS:
        msg = f"SIGAP_ENV must be one of {', '.join(ENVIRONMENTS)}, got {raw!r}."
        raise ConfigError(msg, param="SIGAP_ENV")
    return raw


def from_env(environ: Mapping[str, str] | None = None) -> Settings:
    """Build settings from ``environ``; an empty variable counts as unset.

    Parameters
    ----------
    environ : mapping of str to str, optional
        The environment; default ``os.environ``.

    Returns
    -------
    Settings

    Raises
    ------
    ConfigError
        ``SIGAP_PG_PORT`` is not a port number, or ``SIGAP_ENV`` is not one of
        :data:`ENVIRONMENTS`; the message names the variable.
    """
    env = os.environ if environ is None else environ

    def get(name: str) -> str | None:
        return env.get(name) or None

    data_dir = Path(get("SIGAP_DATA_DIR") or PROJECT_ROOT / "data").resolve()
    return Settings(
        database_url=get("DATABASE_URL"),
        data_dir=data_dir,
        env=_environment(get("SIGAP_ENV") or "development"),
        secret_key=get("SIGAP_SECRET_KEY"),
        pg_port=_port(get("SIGAP_PG_PORT") or str(DEFAULT_PG_PORT)),
        tile_url=get("SIGAP_TILE_URL"),
        tile_attribution=get("SIGAP_TILE_ATTRIBUTION") or "",
        overpass_url=get("SIGAP_OVERPASS_URL") or DEFAULT_OVERPASS_URL,
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings, read once from ``os.environ``.

    Raises
    ------
    ConfigError
        See :func:`from_env`.
    """
    return from_env()
