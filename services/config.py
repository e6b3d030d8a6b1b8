"""Settings of the services, read once from the environment into a frozen object.

Environment variables
---------------------
SIGAP_TIMEZONE             The local time zone of working days and due dates (IANA name).
                           Default ``Asia/Jakarta`` (WIB); ``Asia/Makassar`` (WITA) and
                           ``Asia/Jayapura`` (WIT) for the other zones.
SIGAP_CUTI_BERSAMA_FILE    CSV of *cuti bersama* days (``date,name``). Default: the tracked
                           ``data/calendar/cuti_bersama.csv``.
SIGAP_PUBLIC_POST_LIMIT    Complaints one client IP may submit through the public form and
                           JSON API, as ``COUNT/SECONDS``. Default ``30/600``: 30 per 10 min
                           (generous, because mobile carriers put many people behind one
                           address).
SIGAP_OPEN311_POST_LIMIT   Open311 POSTs per API key, ``COUNT/SECONDS``. Default ``600/600``.
SIGAP_LOGIN_LIMIT          Staff login attempts per client IP, ``COUNT/SECONDS``. Default
                           ``20/900``.
SIGAP_PROXY_HOPS           Reverse proxies in front of ``sigap serve`` whose
                           ``X-Forwarded-For`` is trusted for the client address. Default 0
                           (the socket's peer address); 1 behind the nginx or Caddy set-up of
                           ``docs/deployment.md``.

Staff accounts lock for :data:`LOCKOUT_S` seconds after :data:`LOCKOUT_FAILURES` wrong
passwords in a row; those two are constants, not settings.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gis.errors import ConfigError
from gis.settings import PROJECT_ROOT

#: The tracked file of cuti bersama days.
DEFAULT_CUTI_BERSAMA_FILE = PROJECT_ROOT / "data" / "calendar" / "cuti_bersama.csv"
#: Wrong passwords in a row that lock a staff account, and for how long.
LOCKOUT_FAILURES = 5
LOCKOUT_S = 15 * 60

_LIMIT = re.compile(r"([0-9]{1,9})/([0-9]{1,7})")


@dataclass(frozen=True)
class Limit:
    """At most ``count`` requests per ``window_s`` seconds (a fixed window)."""

    count: int
    window_s: int

    def __str__(self) -> str:  # noqa: D105
        return f"{self.count} per {self.window_s} s"


@dataclass(frozen=True)
class ServiceSettings:
    """Settings of the services (see the module docstring for the variables)."""

    timezone: str = "Asia/Jakarta"
    cuti_bersama_file: Path = DEFAULT_CUTI_BERSAMA_FILE
    public_post_limit: Limit = Limit(30, 600)
    open311_post_limit: Limit = Limit(600, 600)
    login_limit: Limit = Limit(20, 900)
    proxy_hops: int = 0

    @property
    def tz(self) -> ZoneInfo:
        """The local time zone."""
        return ZoneInfo(self.timezone)


def parse_limit(raw: str, name: str) -> Limit:
    """Parse ``COUNT/SECONDS`` (both at least 1); :class:`ConfigError` naming ``name``."""
    m = _LIMIT.fullmatch(raw.strip())
    if not m or int(m.group(1)) < 1 or int(m.group(2)) < 1:
        msg = f"{name} must look like COUNT/SECONDS, e.g. 30/600; got {raw!r}."
        raise ConfigError(msg)
    return Limit(int(m.group(1)), int(m.group(2)))


def from_env(environ: Mapping[str, str] | None = None) -> ServiceSettings:
    """Build the settings from ``environ`` (default ``os.environ``).

    Raises
    ------
    ConfigError
        A variable is not usable; the message names it.
    """
    env = os.environ if environ is None else environ
    defaults = ServiceSettings()

    def get(name: str) -> str | None:
        return env.get(name) or None

    tz = get("SIGAP_TIMEZONE") or defaults.timezone
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        msg = f"SIGAP_TIMEZONE must be an IANA time zone such as Asia/Jakarta; got {tz!r}."
        raise ConfigError(msg) from exc
    hops_raw = get("SIGAP_PROXY_HOPS") or "0"
    if not hops_raw.isdigit() or int(hops_raw) > 5:
        msg = f"SIGAP_PROXY_HOPS must be a whole number from 0 to 5; got {hops_raw!r}."
        raise ConfigError(msg)
    cuti = get("SIGAP_CUTI_BERSAMA_FILE")

    def limit(name: str, default: Limit) -> Limit:
        raw = get(name)
        return default if raw is None else parse_limit(raw, name)

    return ServiceSettings(
        timezone=tz,
        cuti_bersama_file=Path(cuti) if cuti else defaults.cuti_bersama_file,
        public_post_limit=limit("SIGAP_PUBLIC_POST_LIMIT", defaults.public_post_limit),
        open311_post_limit=limit("SIGAP_OPEN311_POST_LIMIT", defaults.open311_post_limit),
        login_limit=limit("SIGAP_LOGIN_LIMIT", defaults.login_limit),
        proxy_hops=int(hops_raw),
    )


@lru_cache(maxsize=1)
def get_service_settings() -> ServiceSettings:
    """Return the process-wide service settings, read once."""
    return from_env()
