"""``sigap user``: staff accounts (roles admin, desk, sanitation, roads, planner).

Passwords are never command-line arguments (they would land in the shell history and the
process list): ``add`` and ``passwd`` prompt for them on a terminal, or read one line from
standard input otherwise (``printf '%s\\n' "$PW" | sigap user add budi --role desk``).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import click

from cli.context import CliContext, echo_json, pass_cli
from layers.complaint_catalogue import STAFF_ROLES


@contextmanager
def owner_cursor(url: str) -> Iterator:
    """A cursor in one transaction as the database owner, committed if the block succeeds."""
    import psycopg2
    import psycopg2.errors

    from gis.db import libpq_url
    from gis.errors import DatabaseError

    conn = psycopg2.connect(libpq_url(url))
    try:
        with conn, conn.cursor() as cur:
            try:
                yield cur
            except psycopg2.errors.UndefinedTable as exc:
                msg = "The database has no staff tables yet: run 'sigap db upgrade' first."
                raise DatabaseError(msg) from exc
    finally:
        conn.close()


def read_password(prompt: str = "Password") -> str:
    """The new password: prompted twice on a terminal, else the first line of stdin."""
    if sys.stdin.isatty():
        return click.prompt(prompt, hide_input=True, confirmation_prompt=True)
    line = sys.stdin.readline()
    if not line:
        raise click.ClickException("No password on standard input.")
    return line.rstrip("\r\n")


def _row(account) -> dict:
    return {
        "username": account.username,
        "display_name": account.display_name,
        "role": account.role,
        "active": account.active,
        "locked_until": account.locked_until.isoformat() if account.locked_until else None,
        "last_login_at": account.last_login_at.isoformat() if account.last_login_at else None,
    }


@click.group()
def user() -> None:
    """Manage staff accounts."""


@user.command("add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(STAFF_ROLES), help="The account's role.")
@click.option("--display-name", default=None, help="Name shown in the staff pages.")
@pass_cli
def user_add(obj: CliContext, name: str, role: str, display_name: str | None) -> None:
    """Create staff user NAME; the password is prompted for, or read from stdin."""
    from services.accounts import create_user, validate_username

    validate_username(name)  # before asking for a password
    password = read_password()
    with owner_cursor(obj.url) as cur:
        account = create_user(cur, name, role, password, display_name=display_name)
    click.echo(f"Created staff user {account.username!r} with role {account.role}.")


@user.command("passwd")
@click.argument("name")
@pass_cli
def user_passwd(obj: CliContext, name: str) -> None:
    """Set a new password for NAME (prompted, or from stdin); ends its sessions."""
    from services.accounts import find_user, set_password

    with owner_cursor(obj.url) as cur:
        find_user(cur, name)
    password = read_password("New password")
    with owner_cursor(obj.url) as cur:
        set_password(cur, name, password)
    click.echo(f"Password of {name!r} changed; its sessions are ended.")


@user.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@pass_cli
def user_list(obj: CliContext, as_json: bool) -> None:
    """List staff accounts."""
    from services.accounts import list_users

    with owner_cursor(obj.url) as cur:
        users = list_users(cur)
    for account in users:
        row = _row(account)
        if as_json:
            echo_json(row)
        else:
            state = "active" if account.active else "disabled"
            if account.locked_until:
                state += f", locked until {row['locked_until']}"
            click.echo(f"{account.username}\t{account.role}\t{state}")


def _toggle(obj: CliContext, name: str, active: bool) -> None:
    from services.accounts import set_active

    with owner_cursor(obj.url) as cur:
        set_active(cur, name, active)


@user.command("disable")
@click.argument("name")
@pass_cli
def user_disable(obj: CliContext, name: str) -> None:
    """Disable NAME: it can no longer log in, and its sessions end."""
    _toggle(obj, name, False)
    click.echo(f"Disabled {name!r}.")


@user.command("enable")
@click.argument("name")
@pass_cli
def user_enable(obj: CliContext, name: str) -> None:
    """Enable NAME again."""
    _toggle(obj, name, True)
    click.echo(f"Enabled {name!r}.")


@user.command("unlock")
@click.argument("name")
@pass_cli
def user_unlock(obj: CliContext, name: str) -> None:
    """Clear NAME's lockout after too many wrong passwords."""
    from services.accounts import unlock

    with owner_cursor(obj.url) as cur:
        unlock(cur, name)
    click.echo(f"Unlocked {name!r}.")
