"""Staff authentication: Flask-Login sessions, the login page, logout, role checks, CSRF.

* ``/staff/login`` (GET the form, POST it) and ``/staff/logout`` (POST). A login is checked by
  :func:`services.accounts.authenticate` as the staff role; its outcome (a failure count, a
  lockout, the last login) is committed whatever the answer. Login attempts are limited per
  client address (``SIGAP_LOGIN_LIMIT``) and per account (5 wrong passwords lock it for 15
  minutes); both answer 429 with ``Retry-After`` and say so on the page.
* The session cookie (Flask's signed cookie, holding the user id and the account's session
  token) is ``HttpOnly``, ``SameSite=Lax`` and ``Secure`` unless the app runs in debug or
  testing mode over plain HTTP (:class:`StaffSessionInterface`). Logging out, a new password
  or a disabled account ends the session on the server side too (the token changes).
* :func:`staff_required` guards staff views: a page redirects to the login; the JSON API
  answers 401, or 403 for a role the view does not allow.
* CSRF: every state-changing staff request carries the session's token, as the form field
  ``csrf_token`` (the login form) or the ``X-CSRF-Token`` header (the JSON API; ``GET
  /staff/api/me`` gives it). With ``SameSite=Lax`` cookies this is a second lock.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

import psycopg2
from flask import Blueprint, Flask, redirect, render_template, request, session
from flask.sessions import SecureCookieSessionInterface
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user

from services import accounts
from services.accounts import StaffAccount
from services.config import get_service_settings
from services.errors import AuthenticationError, ForbiddenError, RateLimitedError
from web import db, ratelimit
from web.i18n import current_lang

logger = logging.getLogger(__name__)

bp = Blueprint("staff", __name__, url_prefix="/staff")
login_manager = LoginManager()
CSRF_KEY = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"

F = TypeVar("F", bound=Callable[..., Any])

#: The login page's words (kept here, beside the page, in both languages).
TEXT: dict[str, dict[str, str]] = {
    "id": {
        "title": "Masuk petugas",
        "username": "Nama pengguna",
        "password": "Kata sandi",
        "submit": "Masuk",
        "wrong": "Nama pengguna atau kata sandi salah.",
        "locked": "Terlalu banyak percobaan. Coba lagi dalam {minutes} menit.",
        "expired": "Formulir kedaluwarsa. Silakan coba lagi.",
        "welcome": "Anda masuk sebagai {name} ({role}).",
        "logout": "Keluar",
        "api": "Antarmuka data petugas",
    },
    "en": {
        "title": "Staff login",
        "username": "User name",
        "password": "Password",
        "submit": "Log in",
        "wrong": "Wrong user name or password.",
        "locked": "Too many attempts. Try again in {minutes} minutes.",
        "expired": "The form expired. Please try again.",
        "welcome": "You are logged in as {name} ({role}).",
        "logout": "Log out",
        "api": "Staff data API",
    },
}


def text() -> dict[str, str]:
    """The login page's words in the current language."""
    return TEXT.get(current_lang(), TEXT["id"])


class StaffUser(UserMixin):
    """The logged-in staff member (Flask-Login's user)."""

    def __init__(self, account: StaffAccount) -> None:
        self.account = account

    def get_id(self) -> str:
        """``<id>:<session token>``: a changed token ends the session."""
        return f"{self.account.id}:{self.account.session_token}"

    @property
    def role(self) -> str:
        return self.account.role


class StaffSessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie session; ``Secure`` except in debug or testing over HTTP."""

    def get_cookie_secure(self, app: Flask) -> bool:
        if app.debug or app.testing:
            return bool(request.is_secure) if request else False
        return True

    def get_cookie_samesite(self, app: Flask) -> str:
        return app.config.get("SESSION_COOKIE_SAMESITE") or "Lax"


@login_manager.user_loader
def _load_user(user_id: str) -> StaffUser | None:
    raw_id, _, token = user_id.partition(":")
    if not raw_id.isdigit() or not token:
        return None
    with db.cursor(db.staff_database_url()) as cur:
        account = accounts.get_user(cur, int(raw_id), token)
    return StaffUser(account) if account else None


def _is_api() -> bool:
    return request.path.startswith(("/staff/api/", "/api/"))  # JSON APIs answer 401


@login_manager.unauthorized_handler
def _unauthorized():
    if _is_api():
        raise AuthenticationError("Log in first (POST /staff/login).", code="login_required")
    here = request.full_path if request.query_string else request.path
    return redirect(f"/staff/login?next={quote(here, safe='/')}")


def staff() -> StaffAccount:
    """The logged-in staff member's account (inside a :func:`staff_required` view)."""
    return current_user.account  # type: ignore[no-any-return]


def csrf_token() -> str:
    """This session's CSRF token (made on first use)."""
    token = session.get(CSRF_KEY)
    if not token:
        token = secrets.token_urlsafe(32)
        session[CSRF_KEY] = token
    return token


def check_csrf(sent: str | None) -> None:
    """Refuse (403 ``csrf``) a state-changing request without this session's token."""
    expected = session.get(CSRF_KEY)
    if not expected or not sent or not hmac.compare_digest(str(sent), str(expected)):
        msg = "Missing or wrong CSRF token; reload the page (or GET /staff/api/me)."
        raise ForbiddenError(msg, code="csrf")


def staff_required(*roles: str) -> Callable[[F], F]:
    """Guard a staff view: logged in, one of ``roles`` (any role when none are given), and
    the CSRF token on POST, PUT, PATCH and DELETE."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if roles and current_user.role not in roles:
                msg = f"This needs one of the roles: {', '.join(roles)}."
                raise ForbiddenError(msg, code="role_not_allowed")
            if request.method in ("POST", "PUT", "PATCH", "DELETE"):
                check_csrf(request.headers.get(CSRF_HEADER) or request.form.get(CSRF_KEY))
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorate


def _safe_next(raw: str | None) -> str:
    """Where to go after logging in: a path under ``/staff`` of this site, else ``/staff/``."""
    if not raw:
        return "/staff/"
    parts = urlsplit(raw)
    if parts.scheme or parts.netloc or not parts.path.startswith("/staff") or "\\" in raw:
        return "/staff/"
    return raw


def _page(status: int = 200, error: str | None = None, username: str = ""):
    html = render_template(
        "staff_login.html",
        t=text(),
        error=error,
        username=username,
        csrf=csrf_token(),
        next=_safe_next(request.values.get("next")),
    )
    return html, status, {"Cache-Control": "no-store"}


@bp.get("/login")
def login_form():
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    return _page()


@bp.post("/login")
def login():
    t = text()
    username = request.form.get("username", "")[:64]
    try:
        check_csrf(request.form.get(CSRF_KEY))
    except ForbiddenError:
        return _page(400, t["expired"], username)
    staff_url = db.staff_database_url()
    try:
        limit = get_service_settings().login_limit
        ratelimit.enforce("login", ratelimit.client_ip(), limit, "login attempts", url=staff_url)
        account = _authenticate(staff_url, username, request.form.get("password"))
    except RateLimitedError as exc:
        minutes = max(1, -(-exc.retry_after_s // 60))
        html, _, headers = _page(429, t["locked"].format(minutes=minutes), username)
        return html, 429, {**headers, "Retry-After": str(exc.retry_after_s)}
    except AuthenticationError:
        return _page(401, t["wrong"], username)
    session.clear()  # a fresh session and CSRF token for the logged-in user
    login_user(StaffUser(account))
    csrf_token()
    logger.info("staff user %s logged in", account.id)
    return redirect(_safe_next(request.form.get("next")), code=303)


def _authenticate(url: str, username: str, password: str | None) -> StaffAccount:
    """Check the login on its own connection and commit its outcome whatever it is."""
    conn = db.connect(url)
    try:
        with conn.cursor() as cur:
            try:
                account = accounts.authenticate(cur, username, password)
            finally:
                conn.commit()
    except psycopg2.Error:
        db.release(conn, broken=True)
        raise
    except BaseException:
        conn.close()
        raise
    conn.close()
    return account


@bp.post("/logout")
def logout():
    if current_user.is_authenticated:
        check_csrf(request.form.get(CSRF_KEY) or request.headers.get(CSRF_HEADER))
        with db.transaction(db.staff_database_url()) as cur:
            accounts.end_sessions(cur, staff().id)
        logout_user()
    session.clear()
    return redirect("/staff/login", code=303)


@bp.get("/")
def home():
    """A plain landing page after login (the staff queue page replaces it)."""
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    html = render_template("staff_home.html", t=text(), account=staff(), csrf=csrf_token())
    return html, 200, {"Cache-Control": "no-store"}


def init_app(app: Flask) -> None:
    """Sessions, Flask-Login and the staff pages on ``app``.

    The service settings and the working-day calendar are read here, so a bad
    ``SIGAP_*_LIMIT``, ``SIGAP_TIMEZONE`` or cuti bersama file stops ``sigap serve`` with one
    line before it serves, instead of failing requests.
    """
    from services.calendar import get_calendar

    get_service_settings()
    get_calendar()
    app.config.setdefault("SESSION_COOKIE_HTTPONLY", True)
    app.config.setdefault("SESSION_COOKIE_SAMESITE", "Lax")
    app.session_interface = StaffSessionInterface()
    login_manager.init_app(app)
    app.register_blueprint(bp)
    app.jinja_env.globals.setdefault("csrf_token", csrf_token)
