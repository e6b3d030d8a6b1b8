"""The ``sigap`` group: its commands, ``python -m cli``, and one-line errors from every command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cli.context import CliContext
from gis.settings import from_env

SIGAP = str(Path(sys.executable).with_name("sigap"))

#: One invocation of every command; each reads the settings and would reach the database.
COMMANDS = [
    ["db", "start"],
    ["db", "stop"],
    ["db", "status"],
    ["db", "url"],
    ["db", "upgrade"],
    ["db", "downgrade", "base"],
    ["ingest", "osm", "x.osm.pbf"],
    ["network", "build"],
    ["network", "status"],
    ["nearest", "-6.2", "106.8", "--category", "health"],
    ["isochrone", "-6.2", "106.8", "--minutes", "5"],
    ["serve", "--port", "1"],
    ["user", "list"],
    ["user", "add", "budi", "--role", "desk"],
    ["apikey", "add", "client"],
    ["apikey", "revoke", "client"],
]

BAD_SETTINGS = {
    "port not a number": (
        {"SIGAP_PG_PORT": "abc"},
        "Error: SIGAP_PG_PORT must be a port number from 1 to 65535, got 'abc'.",
    ),
    "port out of range": (
        {"SIGAP_PG_PORT": "70000"},
        "Error: SIGAP_PG_PORT must be a port number from 1 to 65535, got '70000'.",
    ),
    "unknown environment": (
        {"SIGAP_ENV": "prod"},
        "Error: SIGAP_ENV must be one of development, production, got 'prod'.",
    ),
}


def test_help_lists_every_command(runner):
    result = runner.invoke(["--help"])
    assert result.exit_code == 0
    for command in ("db", "ingest", "network", "nearest", "isochrone", "serve", "user", "apikey"):
        assert f"  {command} " in result.stdout


@pytest.mark.parametrize("argv", [[sys.executable, "-m", "cli"], [SIGAP]])
def test_python_dash_m_cli_and_the_installed_script_are_the_same_command(argv):
    proc = subprocess.run([*argv, "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("Usage: sigap [OPTIONS] COMMAND [ARGS]...")


@pytest.mark.parametrize("case", BAD_SETTINGS)
@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_bad_settings_are_one_line_from_every_command(runner, case, args):
    env, line = BAD_SETTINGS[case]
    result = runner.invoke(args, env={"DATABASE_URL": "postgresql://nobody@127.0.0.1:9/x", **env})
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    assert result.stderr == line + "\n"
    assert result.stdout == ""


def test_bad_settings_in_a_real_process_give_no_traceback():
    env = {**os.environ, "SIGAP_PG_PORT": "nope"}
    env.pop("DATABASE_URL", None)
    proc = subprocess.run([SIGAP, "db", "url"], capture_output=True, text=True, env=env)
    assert proc.returncode == 1
    assert proc.stderr == (
        "Error: SIGAP_PG_PORT must be a port number from 1 to 65535, got 'nope'.\n"
    )


@pytest.mark.parametrize("args", [["db", "status"], ["network", "build"], ["db", "upgrade"]])
def test_an_unreachable_database_is_one_line(runner, args):
    result = runner.invoke(args, env={"DATABASE_URL": "postgresql://nobody@127.0.0.1:9/x"})
    assert result.exit_code == 1, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: The database cannot be reached: ")
    assert "127.0.0.1" in lines[0] and "Traceback" not in result.output


def test_the_database_url_is_resolved_once(monkeypatch):
    import gis.db

    calls = []

    def database_url(settings=None, *, start=False):
        calls.append(start)
        return "postgresql://u@h/db"

    monkeypatch.setattr(gis.db, "database_url", database_url)
    obj = CliContext(settings=from_env({}))
    assert obj.url == obj.url == "postgresql://u@h/db"
    assert calls == [True]
