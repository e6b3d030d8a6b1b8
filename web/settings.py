"""The web process's own settings: which database roles it connects as, and which hosts it trusts.

Read once from the environment into a frozen object, like :mod:`gis.settings` (which holds
``DATABASE_URL``, the owner's URL). Secrets come only from the environment.

Environment variables
---------------------
SIGAP_WEB_DATABASE_URL    URL the web app connects with, as the ``sigap_web`` role (or a role
                          that is a member of it). Unset: the owner's URL (``DATABASE_URL`` or
                          the local cluster) with the user changed to ``sigap_web`` and no
                          password, which works with the local cluster's ``trust`` auth and with
                          ``peer``/``.pgpass`` set-ups.
SIGAP_STAFF_DATABASE_URL  The same for ``sigap_staff``, the role that may read reporters'
                          contact details. Unset: derived the same way.
SIGAP_TRUSTED_HOSTS       Comma-separated host names the app answers to (Flask's
                          ``TRUSTED_HOSTS``; a leading dot allows subdomains). Unset: the
                          local names (``localhost``, ``127.0.0.1``), this machine's name and
                          IPv4 addresses, and the address ``sigap serve`` binds. (Werkzeug
                          cannot match an IPv6 literal in ``Host``: use a name for those.)
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy.engine import make_url

#: The role the public web app connects as (see migration 0003).
WEB_ROLE = "sigap_web"
#: The role that may read reporters' contact details (staff pages).
STAFF_ROLE = "sigap_staff"
#: Host names every deployment answers to.
LOCAL_HOSTS: tuple[str, ...] = ("localhost", "127.0.0.1")
#: Bind addresses that mean "every interface": they name no host.
ANY_ADDRESS: frozenset[str] = frozenset({"", "0.0.0.0", "::", "*"})


@dataclass(frozen=True)
class WebSettings:
    """Settings of the web process (see the module docstring for the variables)."""

    web_database_url: str | None
    staff_database_url: str | None
    trusted_hosts: tuple[str, ...] | None


def from_env(environ: dict[str, str] | None = None) -> WebSettings:
    """Build the web settings from ``environ`` (default: ``os.environ``)."""
    env = os.environ if environ is None else environ
    hosts = env.get("SIGAP_TRUSTED_HOSTS", "")
    return WebSettings(
        web_database_url=env.get("SIGAP_WEB_DATABASE_URL") or None,
        staff_database_url=env.get("SIGAP_STAFF_DATABASE_URL") or None,
        trusted_hosts=tuple(h.strip() for h in hosts.split(",") if h.strip()) or None,
    )


@lru_cache(maxsize=1)
def get_web_settings() -> WebSettings:
    """The process-wide web settings, read once."""
    return from_env()


def role_url(owner_url: str, role: str) -> str:
    """``owner_url`` with the user changed to ``role`` and no password.

    Parameters
    ----------
    owner_url : str
        The owner's database URL (``DATABASE_URL`` or the local cluster's).
    role : str
        The role to connect as, e.g. :data:`WEB_ROLE`.

    Returns
    -------
    str
        The URL for ``role``: same host, port, database and options.
    """
    url = make_url(owner_url).set(username=role, password=None)
    return url.render_as_string(hide_password=False)


def web_database_url(owner_url: str, settings: WebSettings | None = None) -> str:
    """The URL the web app connects with: ``SIGAP_WEB_DATABASE_URL``, else derived from the
    owner's URL (:func:`role_url`)."""
    s = settings or get_web_settings()
    return s.web_database_url or role_url(owner_url, WEB_ROLE)


def staff_database_url(owner_url: str, settings: WebSettings | None = None) -> str:
    """The URL of staff pages: ``SIGAP_STAFF_DATABASE_URL``, else derived from the owner's."""
    s = settings or get_web_settings()
    return s.staff_database_url or role_url(owner_url, STAFF_ROLE)


def trusted_hosts(bind_host: str | None = None, settings: WebSettings | None = None) -> list[str]:
    """Host names the app answers to: ``SIGAP_TRUSTED_HOSTS``, else the local names, this
    machine's names and addresses, and ``bind_host`` (when it names one address).

    Parameters
    ----------
    bind_host : str, optional
        The address ``sigap serve`` listens on.
    """
    s = settings or get_web_settings()
    if s.trusted_hosts:
        return list(s.trusted_hosts)
    hosts = list(LOCAL_HOSTS)
    names = {socket.gethostname()}
    try:
        names.add(socket.getfqdn())
        for info in socket.getaddrinfo(socket.gethostname(), None):
            names.add(str(info[4][0]))
    except OSError:
        pass
    if bind_host and bind_host not in ANY_ADDRESS:
        names.add(bind_host.strip("[]"))
    hosts += sorted(n for n in names if n and ":" not in n and n not in hosts)
    return hosts
