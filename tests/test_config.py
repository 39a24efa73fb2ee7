"""Settings from the environment; production refuses unsafe configuration."""

import pytest

from energy_dash.config import ConfigError, Settings


def test_development_generates_and_keeps_a_secret(monkeypatch, tmp_path):
    monkeypatch.delenv("SESSION_SECRET", raising=False)
    monkeypatch.setenv("ENERGY_DASH_INSTANCE", str(tmp_path))
    monkeypatch.delenv("ENERGY_DASH_ENV", raising=False)
    first = Settings.from_env()
    second = Settings.from_env()
    assert len(first.session_secret) >= 32
    assert first.session_secret == second.session_secret
    assert (tmp_path / "session_secret").stat().st_mode & 0o777 == 0o600
    assert first.mail_outbox == str(tmp_path / "outbox")
    assert first.scheduler is False


@pytest.mark.parametrize("secret", ["", "changeme", "short-secret"])
def test_production_refuses_a_weak_secret(monkeypatch, secret):
    monkeypatch.setenv("ENERGY_DASH_ENV", "production")
    monkeypatch.setenv("SESSION_SECRET", secret)
    with pytest.raises(ConfigError, match="SESSION_SECRET"):
        Settings.from_env()


def test_production_with_a_strong_secret(monkeypatch):
    monkeypatch.setenv("ENERGY_DASH_ENV", "production")
    monkeypatch.setenv("SESSION_SECRET", "s" * 48)
    monkeypatch.setenv("ENERGY_DASH_SCHEDULER", "0")
    settings = Settings.from_env(scheduler_default=True)
    assert settings.production and settings.mail_outbox is None
    assert settings.scheduler is False


def test_bad_values_are_named(monkeypatch):
    monkeypatch.setenv("ENERGY_DASH_ENV", "staging")
    with pytest.raises(ConfigError, match="ENERGY_DASH_ENV"):
        Settings.from_env()
    monkeypatch.setenv("ENERGY_DASH_ENV", "development")
    monkeypatch.setenv("ENERGY_DASH_INGEST_RATE", "lots")
    with pytest.raises(ConfigError, match="ENERGY_DASH_INGEST_RATE"):
        Settings.from_env()


@pytest.mark.parametrize("text", ["0/minute", "-5/minute", "0/second"])
def test_an_ingest_rate_that_allows_nothing_is_refused(monkeypatch, tmp_path, text):
    """These switched the limit off without saying so; only a plain 0 does."""
    monkeypatch.setenv("ENERGY_DASH_INSTANCE", str(tmp_path))
    monkeypatch.setenv("ENERGY_DASH_INGEST_RATE", text)
    with pytest.raises(ConfigError, match="at least 1 request.*0 alone switches"):
        Settings.from_env()


@pytest.mark.parametrize(("text", "kept"), [
    ("", "600/minute"), ("  ", "600/minute"), ("0", "0"), ("30/second", "30/second"),
])
def test_an_empty_ingest_rate_is_the_default(monkeypatch, tmp_path, text, kept):
    monkeypatch.setenv("ENERGY_DASH_INSTANCE", str(tmp_path))
    monkeypatch.setenv("ENERGY_DASH_INGEST_RATE", text)
    assert Settings.from_env().ingest_rate == kept


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:",
                                 "sqlite:///file:x?mode=memory&uri=true"])
def test_an_in_memory_database_is_refused(monkeypatch, tmp_path, url):
    """Every connection would get its own empty database: the scheduler died
    on 'no such table' tracebacks and the process crashed."""
    monkeypatch.setenv("ENERGY_DASH_INSTANCE", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", url)
    with pytest.raises(ConfigError, match="in-memory SQLite database.*use a file"):
        Settings.from_env()
