"""``sigap user`` and ``sigap apikey``: accounts and keys land in the database as hashes;
passwords come from a prompt or stdin, never an argument; errors are one line."""

from __future__ import annotations

import hashlib
import json

from services.accounts import authenticate, verify_api_key
from services.errors import ForbiddenError
from tests.conftest import query
from tests.services.conftest import as_staff, as_web, transaction


def test_user_add_reads_the_password_from_stdin(runner, fresh_db):
    env = {"DATABASE_URL": fresh_db}
    result = runner.invoke(
        ["user", "add", "Budi", "--role", "desk", "--display-name", "Budi S."],
        input="a long password 1\n",
        env=env,
    )
    assert result.exit_code == 0, result.output
    assert "Created staff user 'budi' with role desk." in result.stdout
    assert "a long password" not in result.output
    ((name, role, display, hashed),) = query(
        fresh_db, "SELECT username, role, display_name, password_hash FROM staff_user"
    )
    assert (name, role, display) == ("budi", "desk", "Budi S.")
    assert hashed.startswith("$argon2id$")
    with transaction(as_staff(fresh_db)) as cur:
        assert authenticate(cur, "budi", "a long password 1").username == "budi"
    listed = runner.invoke(["user", "list", "--json"], env=env)
    assert json.loads(listed.stdout)["role"] == "desk"


def test_user_errors_are_one_line(runner, fresh_db):
    env = {"DATABASE_URL": fresh_db}
    ok = runner.invoke(["user", "add", "rina", "--role", "roads"], input="password-rina\n", env=env)
    assert ok.exit_code == 0
    cases = [
        (["user", "add", "rina", "--role", "admin"], "password-other\n", "already exists"),
        (["user", "add", "x y", "--role", "admin"], "password-other\n", "A user name has"),
        (["user", "add", "sari", "--role", "admin"], "short\n", "10 to 1024 characters"),
        (["user", "add", "sari", "--role", "admin"], "", "No password on standard input"),
        (["user", "unlock", "nobody"], "", "There is no staff user named 'nobody'"),
    ]
    for args, stdin, words in cases:
        result = runner.invoke(args, input=stdin, env=env)
        assert result.exit_code == 1, (args, result.output)
        assert result.stderr.startswith("Error: ") and words in result.stderr, result.stderr
        assert len(result.stderr.splitlines()) == 1
    bad_role = runner.invoke(["user", "add", "sari", "--role", "mayor"], input="x" * 12, env=env)
    assert bad_role.exit_code == 2 and "mayor" in bad_role.stderr
    assert query(fresh_db, "SELECT count(*) FROM staff_user") == [(1,)]


def test_disable_passwd_and_unlock(runner, fresh_db):
    env = {"DATABASE_URL": fresh_db}
    runner.invoke(["user", "add", "eko", "--role", "admin"], input="first password\n", env=env)
    assert runner.invoke(["user", "disable", "eko"], env=env).exit_code == 0
    assert query(fresh_db, "SELECT active FROM staff_user") == [(False,)]
    assert runner.invoke(["user", "enable", "eko"], env=env).exit_code == 0
    query(fresh_db, "UPDATE staff_user SET locked_until = now() + interval '1 h'")
    assert runner.invoke(["user", "unlock", "eko"], env=env).exit_code == 0
    assert query(fresh_db, "SELECT locked_until FROM staff_user") == [(None,)]
    r = runner.invoke(["user", "passwd", "eko"], input="second password\n", env=env)
    assert r.exit_code == 0, r.output
    with transaction(as_staff(fresh_db)) as cur:
        assert authenticate(cur, "eko", "second password").username == "eko"


def test_user_add_on_an_unmigrated_database(runner, server_url):
    from tests.conftest import create_database, drop_database

    url = create_database(server_url, "sigap_test_cli_bare_users")
    try:
        result = runner.invoke(
            ["user", "add", "budi", "--role", "desk"],
            input="password-budi\n",
            env={"DATABASE_URL": url},
        )
    finally:
        drop_database(server_url, "sigap_test_cli_bare_users")
    assert result.exit_code == 1
    assert "run 'sigap db upgrade'" in result.stderr


def test_apikey_add_prints_the_key_once_and_stores_its_hash(runner, fresh_db):
    env = {"DATABASE_URL": fresh_db}
    result = runner.invoke(["apikey", "add", "Aplikasi Kota"], env=env)
    assert result.exit_code == 0, result.output
    key = result.stdout.strip()
    assert key.startswith("sgp_") and len(result.stdout.splitlines()) == 1
    assert "shown only now" in result.stderr
    ((stored,),) = query(fresh_db, "SELECT key_hash FROM api_key")
    assert stored == hashlib.sha256(key.encode()).hexdigest()
    listed = runner.invoke(["apikey", "list"], env=env)
    assert key not in listed.output and key[:12] in listed.output
    with transaction(as_web(fresh_db)) as cur:
        verify_api_key(cur, key)
    again = runner.invoke(["apikey", "add", "Aplikasi Kota"], env=env)
    assert again.exit_code == 1 and "exists already" in again.stderr
    assert runner.invoke(["apikey", "revoke", "Aplikasi Kota"], env=env).exit_code == 0
    import pytest

    with pytest.raises(ForbiddenError), transaction(as_web(fresh_db)) as cur:
        verify_api_key(cur, key)
    rows = [
        json.loads(line)
        for line in runner.invoke(["apikey", "list", "--json"], env=env).stdout.splitlines()
    ]
    assert rows[0]["revoked_at"] is not None
