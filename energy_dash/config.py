"""Settings from the environment, frozen so nothing changes them behind our back."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
INSTANCE_DIR = PROJECT_ROOT / "instance"
DEFAULT_DATABASE_URL = f"sqlite:///{INSTANCE_DIR / 'energy_dash.db'}"
WEAK_SECRETS = {"", "dev", "secret", "changeme", "change-me", "password", "development"}
MIN_SECRET_LENGTH = 32


class ConfigError(RuntimeError):
    """A setting is missing or unsafe; the message is meant for the operator."""


def _flag(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _dev_secret(instance_dir: Path) -> str:
    """Generate a development secret once and keep it, so sessions survive restarts."""
    instance_dir.mkdir(parents=True, exist_ok=True)
    path = instance_dir / "session_secret"
    if path.exists():
        return path.read_text().strip()
    value = secrets.token_urlsafe(48)
    path.write_text(value)
    path.chmod(0o600)
    return value


@dataclass(frozen=True)
class Settings:
    """Everything the app reads from its environment (README "Configuration")."""

    database_url: str = DEFAULT_DATABASE_URL
    env: str = "development"
    session_secret: str = field(default="", repr=False)
    hardware_api_key: str | None = field(default=None, repr=False)
    scheduler: bool = False
    smtp_url: str | None = field(default=None, repr=False)
    mail_outbox: str | None = None
    ingest_rate: str = "600/minute"
    login_rate_storage: str = "memory://"
    forecast_interval_minutes: int = 60
    base_url: str | None = None  # public URL for links in mail (not the Host header)
    instance_dir: Path = INSTANCE_DIR
    testing: bool = False

    @property
    def production(self) -> bool:
        return self.env == "production"

    @classmethod
    def from_env(cls, *, scheduler_default: bool = False, **overrides) -> Settings:
        """Read the README's "Configuration" variables; development fills in safe
        local defaults."""
        env = os.environ.get("ENERGY_DASH_ENV", "development").strip() or "development"
        if env not in {"development", "production"}:
            raise ConfigError(
                f"ENERGY_DASH_ENV must be 'development' or 'production', not {env!r}"
            )
        instance_dir = Path(os.environ.get("ENERGY_DASH_INSTANCE", INSTANCE_DIR))
        secret = os.environ.get("SESSION_SECRET", "")
        if env == "development" and not secret:
            secret = _dev_secret(instance_dir)
        outbox = os.environ.get("ENERGY_DASH_MAIL_OUTBOX") or (
            str(instance_dir / "outbox") if env == "development" else None
        )
        settings = cls(
            database_url=os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL,
            env=env,
            session_secret=secret,
            hardware_api_key=os.environ.get("HARDWARE_API_KEY") or None,
            scheduler=_flag(os.environ.get("ENERGY_DASH_SCHEDULER"), scheduler_default),
            smtp_url=os.environ.get("ENERGY_DASH_SMTP_URL") or None,
            mail_outbox=outbox,
            ingest_rate=os.environ.get("ENERGY_DASH_INGEST_RATE", "600/minute").strip(),
            login_rate_storage=os.environ.get("ENERGY_DASH_RATE_STORAGE", "memory://"),
            forecast_interval_minutes=_minutes(
                os.environ.get("ENERGY_DASH_FORECAST_INTERVAL_MINUTES", "60")
            ),
            instance_dir=instance_dir,
            base_url=(os.environ.get("ENERGY_DASH_BASE_URL") or "").strip() or None,
        )
        settings = replace(settings, **overrides) if overrides else settings
        settings.validate()
        return settings

    def validate(self) -> None:
        """Refuse configurations that are unsafe in production."""
        if self.production:
            secret = self.session_secret or ""
            weak = secret.strip().lower() in WEAK_SECRETS
            if weak or len(secret) < MIN_SECRET_LENGTH:
                raise ConfigError(
                    "SESSION_SECRET must be set to a random value of at least "
                    f"{MIN_SECRET_LENGTH} characters in production "
                    "(python -c 'import secrets; print(secrets.token_urlsafe(48))')"
                )
        if self.ingest_rate not in {"0", ""}:
            _parse_rate(self.ingest_rate)


def _minutes(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ConfigError(
            f"ENERGY_DASH_FORECAST_INTERVAL_MINUTES must be a whole number >= 1, "
            f"not {text!r}"
        )
    return value


def _parse_rate(text: str) -> tuple[int, int]:
    """Parse ``N/second|minute|hour`` into (count, window seconds)."""
    units = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
    try:
        count, unit = text.split("/")
        unit = unit.strip().lower().rstrip("s")
        return int(count), units[unit]
    except (ValueError, KeyError):
        raise ConfigError(
            f"ENERGY_DASH_INGEST_RATE must look like '600/minute', not {text!r}"
        ) from None


parse_rate = _parse_rate
