"""services/accounts.py and services/ratelimit.py: staff logins with lockout, API keys,
request counters shared through PostgreSQL."""

from __future__ import annotations

import hashlib

import psycopg2
import pytest

from gis.db import libpq_url
from services import accounts
from services.config import LOCKOUT_FAILURES, Limit
from services.errors import (
    AuthenticationError,
    ConflictError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    RateLimitedError,
)
from services.ratelimit import enforce, hit
from tests.conftest import query
from tests.services.conftest import as_staff, as_web, transaction


def _login(url: str, username: str, password: str):
    """As the web does: the outcome is committed whether the login succeeds or not."""
    conn = psycopg2.connect(libpq_url(as_staff(url)))
    try:
        with conn.cursor() as cur:
            try:
                return accounts.authenticate(cur, username, password)
            finally:
                conn.commit()
    finally:
        conn.close()


def test_a_user_is_stored_with_an_argon2_hash(fresh_db):
    with transaction(fresh_db) as cur:
        user = accounts.create_user(cur, "Desk.One", "desk", "correct horse battery")
    assert user.username == "desk.one" and user.role == "desk" and user.active
    ((stored,),) = query(fresh_db, "SELECT password_hash FROM staff_user")
    assert stored.startswith("$argon2id$") and "correct horse" not in stored
    assert _login(fresh_db, "DESK.ONE", "correct horse battery").id == user.id


@pytest.mark.parametrize(
    ("username", "role", "password", "param"),
    [
        ("x", "desk", "long enough password", "username"),
        ("bad name", "desk", "long enough password", "username"),
        ("ok", "mayor", "long enough password", "role"),
        ("ok", "desk", "short", "password"),
        ("ok", "desk", "nul\x00byte password", "password"),
    ],
)
def test_bad_accounts_are_refused(fresh_db, username, role, password, param):
    with pytest.raises(InvalidInputError) as info, transaction(fresh_db) as cur:
        accounts.create_user(cur, username, role, password)
    assert info.value.param == param


def test_a_taken_name_is_a_conflict(fresh_db):
    with transaction(fresh_db) as cur:
        accounts.create_user(cur, "rina", "roads", "password-rina-1")
        with pytest.raises(ConflictError):
            accounts.create_user(cur, "Rina", "admin", "password-rina-2")
        assert len(accounts.list_users(cur)) == 1  # the transaction is still usable


def test_wrong_passwords_lock_the_account_and_the_lock_ends(fresh_db):
    with transaction(fresh_db) as cur:
        accounts.create_user(cur, "budi", "sanitation", "the right password")
    for _ in range(LOCKOUT_FAILURES - 1):
        with pytest.raises(AuthenticationError):
            _login(fresh_db, "budi", "wrong password")
    with pytest.raises(RateLimitedError) as locked:
        _login(fresh_db, "budi", "wrong password")
    assert locked.value.code == "account_locked"
    assert 800 < locked.value.retry_after_s <= 900
    assert "locked" in locked.value.message and "Try again in 15 min" in locked.value.message
    with pytest.raises(RateLimitedError):  # even the right password, while locked
        _login(fresh_db, "budi", "the right password")
    query(fresh_db, "UPDATE staff_user SET locked_until = now() - interval '1 s'")
    assert _login(fresh_db, "budi", "the right password").failed_logins == 0


def test_unknown_users_and_disabled_accounts_get_the_same_answer(fresh_db):
    with transaction(fresh_db) as cur:
        accounts.create_user(cur, "sari", "planner", "sari's password")
        accounts.set_active(cur, "sari", False)
    for name, pw in (("nobody", "whatever pw"), ("sari", "sari's password"), ("sari", None)):
        with pytest.raises(AuthenticationError) as info:
            _login(fresh_db, name, pw)
        assert info.value.message == "Wrong user name or password."


def test_a_new_password_ends_sessions_and_unlocks(fresh_db):
    with transaction(fresh_db) as cur:
        user = accounts.create_user(cur, "eko", "admin", "first password!")
        query(fresh_db, "SELECT 1")
        assert accounts.get_user(cur, user.id, user.session_token) is not None
        accounts.set_password(cur, "eko", "second password!")
        assert accounts.get_user(cur, user.id, user.session_token) is None
        with pytest.raises(NotFoundError):
            accounts.set_password(cur, "nobody", "second password!")


def test_the_web_role_cannot_read_staff_users(fresh_db):
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        query(as_web(fresh_db), "SELECT password_hash FROM staff_user")


def test_api_keys_are_stored_as_hashes_and_can_be_revoked(fresh_db):
    with transaction(fresh_db) as cur:
        info, key = accounts.create_api_key(cur, "Aplikasi Warga")
        with pytest.raises(ConflictError):
            accounts.create_api_key(cur, "Aplikasi Warga")
    assert key.startswith("sgp_") and len(key) >= 40
    ((stored, prefix),) = query(fresh_db, "SELECT key_hash, prefix FROM api_key")
    assert stored == hashlib.sha256(key.encode()).hexdigest() and key.startswith(prefix)
    with transaction(as_web(fresh_db)) as cur:
        assert accounts.verify_api_key(cur, key).id == info.id
        for wrong in (None, "", key + "x", "sgp_" + "a" * 43, key.upper()):
            with pytest.raises(ForbiddenError):
                accounts.verify_api_key(cur, wrong)
    with transaction(fresh_db) as cur:
        accounts.revoke_api_key(cur, "Aplikasi Warga")
        with pytest.raises(NotFoundError):
            accounts.revoke_api_key(cur, "nobody")
    with pytest.raises(ForbiddenError), transaction(as_web(fresh_db)) as cur:
        accounts.verify_api_key(cur, key)


def test_rate_limit_counts_are_shared_between_connections(fresh_db):
    limit = Limit(3, 600)
    conns = [psycopg2.connect(libpq_url(as_web(fresh_db))) for _ in range(2)]
    try:
        decisions = [hit(conns[i % 2], "test:203.0.113.7", limit) for i in range(4)]
        assert [d.hits for d in decisions] == [1, 2, 3, 4]
        assert [d.allowed for d in decisions] == [True, True, True, False]
        assert all(0 < d.retry_after_s <= 600 for d in decisions)
        with pytest.raises(RateLimitedError) as info:
            enforce(conns[0], "test:203.0.113.7", limit, "complaints from this address")
        assert "3 per 600 s" in info.value.message
        assert info.value.headers["Retry-After"] == str(info.value.retry_after_s)
        assert enforce(conns[1], "test:198.51.100.1", limit, "x").hits == 1  # another client
    finally:
        for c in conns:
            c.close()
    assert query(
        fresh_db, "SELECT hits FROM rate_limit_hit WHERE bucket = 'test:203.0.113.7/600s'"
    ) == [(5,)]
