"""``sigap apikey``: API keys of Open311 clients (printed once; only a hash is stored)."""

from __future__ import annotations

import click

from cli.context import CliContext, echo_json, pass_cli
from cli.users import owner_cursor


@click.group()
def apikey() -> None:
    """Manage Open311 API keys."""


@apikey.command("add")
@click.argument("name")
@pass_cli
def apikey_add(obj: CliContext, name: str) -> None:
    """Issue a key for client NAME and print it once (only its SHA-256 is kept)."""
    from services.accounts import create_api_key

    with owner_cursor(obj.url) as cur:
        info, key = create_api_key(cur, name)
    click.echo(key)
    click.echo(
        f"API key for {info.name!r} (starts {info.prefix}). It is shown only now: store it "
        "safely. Revoke it with 'sigap apikey revoke'.",
        err=True,
    )


@apikey.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@pass_cli
def apikey_list(obj: CliContext, as_json: bool) -> None:
    """List keys: name, first characters, issued, revoked."""
    from services.accounts import list_api_keys

    with owner_cursor(obj.url) as cur:
        keys = list_api_keys(cur)
    for k in keys:
        row = {
            "name": k.name,
            "prefix": k.prefix,
            "created_at": k.created_at.isoformat(),
            "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None,
        }
        if as_json:
            echo_json(row)
        else:
            state = f"revoked {row['revoked_at']}" if k.revoked_at else "active"
            click.echo(f"{k.name}\t{k.prefix}…\t{state}")


@apikey.command("revoke")
@click.argument("name")
@pass_cli
def apikey_revoke(obj: CliContext, name: str) -> None:
    """Revoke the key of NAME (or with that prefix), at once for every server."""
    from services.accounts import revoke_api_key

    with owner_cursor(obj.url) as cur:
        info = revoke_api_key(cur, name)
    click.echo(f"Revoked the key of {info.name!r}.")
