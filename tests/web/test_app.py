"""web/__init__.py: the application factory and its configuration."""

from __future__ import annotations

import pytest

from web import ConfigError, create_app


def test_production_refuses_to_start_without_a_secret_key(monkeypatch):
    from gis.settings import get_settings

    monkeypatch.setenv("SIGAP_ENV", "production")
    monkeypatch.delenv("SIGAP_SECRET_KEY", raising=False)
    get_settings.cache_clear()
    try:
        with pytest.raises(ConfigError, match="SIGAP_SECRET_KEY"):
            create_app()
        monkeypatch.setenv("SIGAP_SECRET_KEY", "k" * 40)
        get_settings.cache_clear()
        assert create_app().config["SECRET_KEY"] == "k" * 40
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


def test_development_key_is_random_per_app():
    a = create_app({"SECRET_KEY": None})
    b = create_app({"SECRET_KEY": None})
    assert len(a.config["SECRET_KEY"]) >= 32
    assert a.config["SECRET_KEY"] != b.config["SECRET_KEY"]
