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
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Settings:
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
        return self.env == "production"

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"


def from_env(environ: dict[str, str] | None = None) -> Settings:
    """Build settings from ``environ`` (default: ``os.environ``)."""
    env = os.environ if environ is None else environ
    data_dir = Path(env.get("SIGAP_DATA_DIR") or PROJECT_ROOT / "data").resolve()
    return Settings(
        database_url=env.get("DATABASE_URL") or None,
        data_dir=data_dir,
        env=env.get("SIGAP_ENV", "development"),
        secret_key=env.get("SIGAP_SECRET_KEY") or None,
        pg_port=int(env.get("SIGAP_PG_PORT", "54329")),
        tile_url=env.get("SIGAP_TILE_URL") or None,
        tile_attribution=env.get("SIGAP_TILE_ATTRIBUTION", ""),
        overpass_url=env.get("SIGAP_OVERPASS_URL", "https://overpass-api.de/api/interpreter"),
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return from_env()
