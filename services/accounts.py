"""Staff accounts (argon2 password hashes, lockout) and Open311 API keys (SHA-256 only).

Staff accounts
--------------
Created by the database owner (``sigap user add NAME --role ROLE``); roles are
:data:`layers.complaint_catalogue.STAFF_ROLES`. Passwords are hashed with argon2id
(``argon2-cffi``'s defaults) and re-hashed on login when those defaults change. After
:data:`services.config.LOCKOUT_FAILURES` wrong passwords in a row an account is locked for
:data:`services.config.LOCKOUT_S` seconds; a correct password resets the count. An unknown
user name costs the same hash verification as a known one. ``session_token`` is part of
every login session: :func:`end_sessions` (a new password, disabling the account, "log out
everywhere") changes it and so ends them all.

API keys
--------
``sigap apikey add NAME`` makes a random key (``sgp_`` + 43 URL-safe characters, 256 bits),
prints it once and stores only its SHA-256 (a random key of that length needs no slow
hash) and its first characters, which identify it in lists and logs. Keys are revoked, never
deleted, so complaints keep pointing at the key they came with.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg2.errors
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from layers.complaint_catalogue import STAFF_ROLES
from services.config import LOCKOUT_FAILURES, LOCKOUT_S
from services.errors import (
    AuthenticationError,
    ConflictError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    RateLimitedError,
)

logger = logging.getLogger(__name__)

#: User names: lower-case letters, digits, ``.``, ``_`` and ``-``, 2 to 64 characters.
USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")
MIN_PASSWORD = 10
MAX_PASSWORD = 1024
API_KEY_PREFIX = "sgp_"
#: What a key looks like: the prefix and URL-safe base 64.
API_KEY = re.compile(r"sgp_[A-Za-z0-9_-]{20,100}")
#: Characters of a key kept in clear to identify it.
KEY_ID_CHARS = 12

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("not a password of anyone")

_USER_COLUMNS = (
    "id, username, display_name, role, active, session_token, failed_logins, locked_until,"
    " last_login_at"
)


@dataclass(frozen=True)
class StaffAccount:
    """A staff account, without its password hash.

    Attributes
    ----------
    id : int
        Database id.
    username : str
        Login name.
    display_name : str, optional
        Name shown in the staff pages (never on public pages).
    role : str
        One of :data:`layers.complaint_catalogue.STAFF_ROLES`.
    active : bool
        Disabled accounts cannot log in.
    session_token : str
        Part of every login session of this account.
    failed_logins : int
        Wrong passwords in a row.
    locked_until : datetime, optional
        End of a lockout.
    last_login_at : datetime, optional
        Time of the last successful login.
    """

    id: int
    username: str
    display_name: str | None
    role: str
    active: bool
    session_token: str
    failed_logins: int = 0
    locked_until: datetime | None = None
    last_login_at: datetime | None = None

    def public_dict(self) -> dict:
        """Return the account as JSON-ready data for staff pages (no token, no hash)."""
        return {
            "id": self.id,
            "username": self.username,
            "display_name": self.display_name,
            "role": self.role,
        }


def _account(row) -> StaffAccount:
    return StaffAccount(*row)


def hash_password(password: str) -> str:
    """Return the argon2id hash of ``password``."""
    return _hasher.hash(password)


def validate_username(raw: object) -> str:
    """Return a valid user name (lower-cased) or raise :class:`InvalidInputError`."""
    name = raw.strip().lower() if isinstance(raw, str) else ""
    if not USERNAME.fullmatch(name):
        msg = (
            "A user name has 2 to 64 characters: letters, digits, '.', '_' or '-', starting "
            f"with a letter or digit; got {raw!r}."
        )
        raise InvalidInputError(msg, code="invalid_parameter", param="username")
    return name


def validate_password(raw: object) -> str:
    """Return ``raw`` if it is an acceptable password, else raise :class:`InvalidInputError`."""
    if not isinstance(raw, str) or "\x00" in raw:
        msg = "The password must be text without NUL bytes."
        raise InvalidInputError(msg, code="invalid_parameter", param="password")
    if not MIN_PASSWORD <= len(raw) <= MAX_PASSWORD or not raw.strip():
        msg = f"The password must have {MIN_PASSWORD} to {MAX_PASSWORD} characters."
        raise InvalidInputError(msg, code="invalid_parameter", param="password")
    return raw


def validate_role(raw: object) -> str:
    """Return ``raw`` if it is a staff role, else raise :class:`InvalidInputError`."""
    if raw not in STAFF_ROLES:
        msg = f"The role must be one of: {', '.join(STAFF_ROLES)}; got {raw!r}."
        raise InvalidInputError(msg, code="invalid_parameter", param="role")
    return str(raw)


def create_user(
    cur, username: str, role: str, password: str, *, display_name: str | None = None
) -> StaffAccount:
    """Create a staff account (as the database owner).

    Parameters
    ----------
    cur : cursor
        A cursor of the owner's connection; the caller commits.
    username, role, password : str
        Validated here.
    display_name : str, optional
        Shown in the staff pages.

    Returns
    -------
    StaffAccount
        The new account.

    Raises
    ------
    InvalidInputError
        A bad user name, role or password.
    ConflictError
        The user name is taken.
    """
    name = validate_username(username)
    role = validate_role(role)
    validate_password(password)
    if display_name is not None and (len(display_name) > 200 or not display_name.isprintable()):
        msg = "A display name has at most 200 printable characters."
        raise InvalidInputError(msg, code="invalid_parameter", param="display_name")
    cur.execute("SAVEPOINT create_user")
    try:
        cur.execute(
            "INSERT INTO staff_user (username, display_name, role, password_hash, session_token)"
            " VALUES (%s, %s, %s, %s, %s) RETURNING id, username, display_name, role, active,"
            " session_token, failed_logins, locked_until, last_login_at",
            (name, display_name, role, hash_password(password), secrets.token_hex(16)),
        )
    except psycopg2.errors.UniqueViolation as exc:
        cur.execute("ROLLBACK TO SAVEPOINT create_user")
        msg = f"A staff user named {name!r} already exists."
        raise ConflictError(msg, code="user_exists", param="username") from exc
    return _account(cur.fetchone())


def get_user(cur, user_id: int, session_token: str | None = None) -> StaffAccount | None:
    """Return the active account ``user_id`` (with ``session_token``, when given), or None."""
    cur.execute(
        f"SELECT {_USER_COLUMNS} FROM staff_user WHERE id = %s AND active"  # noqa: S608
        " AND (%s::text IS NULL OR session_token = %s)",
        (user_id, session_token, session_token),
    )
    row = cur.fetchone()
    return _account(row) if row else None


def find_user(cur, username: str) -> StaffAccount:
    """Return the account named ``username`` (active or not); :class:`NotFoundError`."""
    name = str(username).strip().lower()
    row = None
    if USERNAME.fullmatch(name):
        cur.execute(
            f"SELECT {_USER_COLUMNS} FROM staff_user WHERE username = %s",  # noqa: S608
            (name,),
        )
        row = cur.fetchone()
    if row is None:
        msg = f"There is no staff user named {username!r}."
        raise NotFoundError(msg, code="no_such_user", param="username")
    return _account(row)


def list_users(cur) -> list[StaffAccount]:
    """Return every staff account, by user name."""
    cur.execute(f"SELECT {_USER_COLUMNS} FROM staff_user ORDER BY username")  # noqa: S608
    return [_account(r) for r in cur.fetchall()]


def set_password(cur, username: str, password: str) -> StaffAccount:
    """Set a new password, unlock the account and end its sessions."""
    validate_password(password)
    account = find_user(cur, username)
    cur.execute(
        "UPDATE staff_user SET password_hash = %s, failed_logins = 0, locked_until = NULL,"
        " session_token = %s WHERE id = %s",
        (hash_password(password), secrets.token_hex(16), account.id),
    )
    return find_user(cur, username)


def set_active(cur, username: str, active: bool) -> StaffAccount:
    """Enable or disable an account; disabling ends its sessions."""
    account = find_user(cur, username)
    cur.execute(
        "UPDATE staff_user SET active = %s, session_token = %s WHERE id = %s",
        (active, secrets.token_hex(16), account.id),
    )
    return find_user(cur, username)


def unlock(cur, username: str) -> StaffAccount:
    """Clear an account's lockout and its count of failed logins."""
    account = find_user(cur, username)
    cur.execute(
        "UPDATE staff_user SET failed_logins = 0, locked_until = NULL WHERE id = %s",
        (account.id,),
    )
    return find_user(cur, username)


def end_sessions(cur, user_id: int) -> None:
    """End every login session of account ``user_id`` (a new session token)."""
    cur.execute(
        "UPDATE staff_user SET session_token = %s WHERE id = %s", (secrets.token_hex(16), user_id)
    )


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def authenticate(cur, username: object, password: object) -> StaffAccount:
    """Check a login and record its outcome (the caller commits, whatever happens).

    Parameters
    ----------
    cur : cursor
        A cursor of the staff role's connection.
    username, password : object
        As typed.

    Returns
    -------
    StaffAccount
        The account, its failed-login count reset and ``last_login_at`` set.

    Raises
    ------
    AuthenticationError
        Unknown user, disabled account or wrong password (one message for all three).
    RateLimitedError
        The account is locked (code ``account_locked``, with ``Retry-After``); also when this
        wrong password locks it.
    """
    wrong = AuthenticationError("Wrong user name or password.", code="bad_credentials")
    name = username.strip().lower() if isinstance(username, str) else ""
    pw = password if isinstance(password, str) and len(password) <= MAX_PASSWORD else ""
    if not USERNAME.fullmatch(name):  # no such user can exist (and no NUL reaches SQL)
        _verify(_DUMMY_HASH, pw)
        raise wrong
    cur.execute(
        "SELECT id, password_hash, active, failed_logins, locked_until, now()"
        " FROM staff_user WHERE username = %s FOR UPDATE",
        (name,),
    )
    row = cur.fetchone()
    if row is None:
        _verify(_DUMMY_HASH, pw)  # the same cost as a known user
        raise wrong
    user_id, password_hash, active, failures, locked_until, now = row
    if locked_until is not None and locked_until > now:
        raise _locked(locked_until - now)
    if not active or not pw or not _verify(password_hash, pw):
        failures += 1
        lock = timedelta(seconds=LOCKOUT_S) if failures >= LOCKOUT_FAILURES else None
        cur.execute(
            "UPDATE staff_user SET failed_logins = %s,"
            " locked_until = CASE WHEN %s THEN now() + %s ELSE NULL END WHERE id = %s",
            (0 if lock else failures, lock is not None, lock or timedelta(0), user_id),
        )
        if lock is not None:
            logger.warning("staff user %s locked after %d failed logins", name, failures)
            raise _locked(lock)
        raise wrong
    new_hash = _hasher.hash(pw) if _hasher.check_needs_rehash(password_hash) else password_hash
    cur.execute(
        "UPDATE staff_user SET failed_logins = 0, locked_until = NULL, last_login_at = now(),"
        " password_hash = %s WHERE id = %s RETURNING id, username, display_name, role, active,"
        " session_token, failed_logins, locked_until, last_login_at",
        (new_hash, user_id),
    )
    return _account(cur.fetchone())


def _locked(left: timedelta) -> RateLimitedError:
    seconds = max(1, int(left.total_seconds()))
    minutes = max(1, -(-seconds // 60))
    msg = (
        f"This account is locked after {LOCKOUT_FAILURES} wrong passwords in a row. "
        f"Try again in {minutes} min, or ask an administrator to unlock it."
    )
    return RateLimitedError(msg, retry_after_s=seconds, code="account_locked")


# --- API keys ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ApiKeyInfo:
    """An Open311 API key as stored (never the key itself).

    Attributes
    ----------
    id : int
        Database id.
    name : str
        Who holds it.
    prefix : str
        Its first characters, to recognise it.
    created_at : datetime
        When it was issued.
    revoked_at : datetime, optional
        When it was revoked.
    """

    id: int
    name: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None = None


_KEY_COLUMNS = "id, name, prefix, created_at, revoked_at"


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_api_key(cur, name: str) -> tuple[ApiKeyInfo, str]:
    """Issue a new API key for ``name`` (as the owner); return it with the key in clear.

    Raises
    ------
    InvalidInputError
        A bad name (1 to 64 printable characters).
    ConflictError
        ``name`` already has a key (revoked or not).
    """
    label = name.strip() if isinstance(name, str) else ""
    if not 1 <= len(label) <= 64 or not label.isprintable():
        msg = f"An API key's name has 1 to 64 printable characters; got {name!r}."
        raise InvalidInputError(msg, code="invalid_parameter", param="name")
    key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    cur.execute("SAVEPOINT create_key")
    try:
        cur.execute(
            "INSERT INTO api_key (name, prefix, key_hash) VALUES (%s, %s, %s)"
            " RETURNING id, name, prefix, created_at, revoked_at",
            (label, key[:KEY_ID_CHARS], _key_hash(key)),
        )
    except psycopg2.errors.UniqueViolation as exc:
        cur.execute("ROLLBACK TO SAVEPOINT create_key")
        msg = f"An API key named {label!r} exists already; pick another name."
        raise ConflictError(msg, code="key_exists", param="name") from exc
    return ApiKeyInfo(*cur.fetchone()), key


def verify_api_key(cur, key: object) -> ApiKeyInfo:
    """Return the live key ``key``.

    Raises
    ------
    ForbiddenError
        Missing, unknown or revoked (HTTP 403, code ``invalid_api_key``, as Open311 asks).
    """
    if not isinstance(key, str) or not API_KEY.fullmatch(key):
        raise ForbiddenError("Invalid api_key.", code="invalid_api_key", param="api_key")
    cur.execute(
        f"SELECT {_KEY_COLUMNS} FROM api_key WHERE key_hash = %s",  # noqa: S608 - constant
        (_key_hash(key),),
    )
    row = cur.fetchone()
    if row is None or row[4] is not None:
        raise ForbiddenError("Invalid api_key.", code="invalid_api_key", param="api_key")
    return ApiKeyInfo(*row)


def list_api_keys(cur) -> list[ApiKeyInfo]:
    """Return every API key (live and revoked), by name."""
    cur.execute(f"SELECT {_KEY_COLUMNS} FROM api_key ORDER BY name")  # noqa: S608 - constant
    return [ApiKeyInfo(*r) for r in cur.fetchall()]


def revoke_api_key(cur, name: str) -> ApiKeyInfo:
    """Revoke the key of ``name`` (or whose prefix is ``name``); at once, for every worker.

    Raises
    ------
    NotFoundError
        No such key.
    """
    if not isinstance(name, str) or "\x00" in name:
        msg = f"There is no API key named {name!r}."
        raise NotFoundError(msg, code="no_such_key", param="name")
    cur.execute(
        "UPDATE api_key SET revoked_at = coalesce(revoked_at, now())"
        " WHERE name = %s OR prefix = %s RETURNING id, name, prefix, created_at, revoked_at",
        (name, name),
    )
    rows = cur.fetchall()
    if not rows:
        msg = f"There is no API key named {name!r}."
        raise NotFoundError(msg, code="no_such_key", param="name")
    return ApiKeyInfo(*rows[0])
