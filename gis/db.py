"""Database engine, sessions and migrations."""

from __future__ import annotations

import logging
from functools import lru_cache

from sqlalchemy import create_engine
from sqlalchemy.engine import Engine

from gis.errors import DatabaseError
from gis.settings import PROJECT_ROOT, Settings, get_settings

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = PROJECT_ROOT / "migrations"


def database_url(settings: Settings | None = None, *, start: bool = False) -> str:
    """Return the URL to use: ``DATABASE_URL`` if set, else the local cluster's.

    Parameters
    ----------
    start : bool
        Start the local cluster when it is not running (ignored with ``DATABASE_URL``).
    """
    s = settings or get_settings()
    if s.database_url:
        return s.database_url
    from gis.cluster import local_cluster

    cluster = local_cluster(s)
    if start:
        cluster.start()
    elif not cluster.is_running():
        msg = "The local database is not running. Start it with 'sigap db start'."
        raise DatabaseError(msg)
    return cluster.url()


def sqlalchemy_url(url: str) -> str:
    """Pin the psycopg2 driver (SQLAlchemy 2.1 defaults ``postgresql://`` to psycopg 3)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix) :]
    return url


def libpq_url(url: str) -> str:
    """Return ``url`` without SQLAlchemy's ``+driver`` part, for psycopg2 and other tools."""
    return url.replace("postgresql+psycopg2://", "postgresql://", 1)


@lru_cache(maxsize=8)
def _engine_for(url: str) -> Engine:
    return create_engine(sqlalchemy_url(url), pool_pre_ping=True)


def get_engine(url: str | None = None) -> Engine:
    """One cached engine per URL per process."""
    return _engine_for(url or database_url())


def alembic_config(url: str):
    """Return the Alembic configuration that migrates the database at ``url``."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at ``url`` up to ``revision``."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    """Migrate the database at ``url`` down to ``revision`` (``"base"``: remove everything)."""
    from alembic import command

    command.downgrade(alembic_config(url), revision)
