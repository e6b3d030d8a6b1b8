"""Settings: read once from the environment; a bad value is a ConfigError naming it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from gis.errors import ConfigError
from gis.settings import (
    DEFAULT_OVERPASS_URL,
    DEFAULT_PG_PORT,
    PROJECT_ROOT,
    from_env,
    get_settings,
)


def test_defaults():
    s = from_env({})
    assert s.database_url is None
    assert s.data_dir == (PROJECT_ROOT / "data").resolve()
    assert s.cache_dir == s.data_dir / "cache"
    assert s.env == "development" and not s.is_production
    assert s.secret_key is None
    assert s.pg_port == DEFAULT_PG_PORT == 54329
    assert s.tile_url is None and s.tile_attribution == ""
    assert s.overpass_url == DEFAULT_OVERPASS_URL


def test_empty_variables_count_as_unset():
    """``.env.example`` lists every variable with an empty value."""
    names = [
        "DATABASE_URL",
        "SIGAP_DATA_DIR",
        "SIGAP_ENV",
        "SIGAP_SECRET_KEY",
        "SIGAP_PG_PORT",
        "SIGAP_TILE_URL",
        "SIGAP_TILE_ATTRIBUTION",
        "SIGAP_OVERPASS_URL",
    ]
    assert from_env(dict.fromkeys(names, "")) == from_env({})


def test_every_variable_is_read(tmp_path):
    s = from_env(
        {
            "DATABASE_URL": "postgresql://u@db.example:5433/sigap",
            "SIGAP_DATA_DIR": str(tmp_path / "x" / ".." / "data"),
            "SIGAP_ENV": "production",
            "SIGAP_SECRET_KEY": "s3cret",
            "SIGAP_PG_PORT": "6000",
            "SIGAP_TILE_URL": "https://tiles.example/{z}/{x}/{y}.png",
            "SIGAP_TILE_ATTRIBUTION": "© OSM",
            "SIGAP_OVERPASS_URL": "http://127.0.0.1:9/api",
        }
    )
    assert s.database_url == "postgresql://u@db.example:5433/sigap"
    assert s.data_dir == tmp_path / "data" and s.data_dir.is_absolute()
    assert s.is_production and s.secret_key == "s3cret" and s.pg_port == 6000
    assert s.tile_url.startswith("https://tiles.example") and s.tile_attribution == "© OSM"
    assert s.overpass_url == "http://127.0.0.1:9/api"


def test_a_relative_data_dir_is_made_absolute(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    assert from_env({"SIGAP_DATA_DIR": "d"}).data_dir == tmp_path / "d"


@pytest.mark.parametrize("raw", ["abc", "0", "65536", "-1", "54 329", "5432.0", "0x10"])
def test_a_bad_port_is_a_config_error_naming_the_variable(raw):
    with pytest.raises(ConfigError) as info:
        from_env({"SIGAP_PG_PORT": raw})
    assert info.value.param == "SIGAP_PG_PORT"
    assert info.value.message == (
        f"SIGAP_PG_PORT must be a port number from 1 to 65535, got {raw!r}."
    )


@pytest.mark.parametrize("raw", ["1", "65535", " 6000 "])
def test_good_ports(raw):
    assert from_env({"SIGAP_PG_PORT": raw}).pg_port == int(raw)


@pytest.mark.parametrize("raw", ["prod", "Production", "test", "dev"])
def test_an_unknown_environment_is_a_config_error(raw):
    with pytest.raises(ConfigError) as info:
        from_env({"SIGAP_ENV": raw})
    assert info.value.param == "SIGAP_ENV"
    assert info.value.message == (f"SIGAP_ENV must be one of development, production, got {raw!r}.")


def test_settings_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        from_env({}).pg_port = 1  # type: ignore[misc]


def test_get_settings_reads_the_environment_once(monkeypatch):
    get_settings.cache_clear()
    try:
        monkeypatch.setenv("SIGAP_PG_PORT", "6001")
        first = get_settings()
        monkeypatch.setenv("SIGAP_PG_PORT", "6002")
        assert get_settings() is first and first.pg_port == 6001
        get_settings.cache_clear()
        assert get_settings().pg_port == 6002
        monkeypatch.setenv("SIGAP_PG_PORT", "nope")
        get_settings.cache_clear()
        with pytest.raises(ConfigError):
            get_settings()
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


def test_the_project_root_holds_the_packages():
    assert all((PROJECT_ROOT / pkg / "__init__.py").is_file() for pkg in ("gis", "cli"))
    assert isinstance(PROJECT_ROOT, Path)
