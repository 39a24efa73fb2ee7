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
BROKER_SCHEMES = {"redis", "rediss", "amqp", "amqps"}


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


def _share_group(value: str | None) -> str | None:
    """``ENERGY_DASH_MQTT_SHARE``: the shared-subscription group; ``0``/empty for
    plain subscriptions (one subscriber; survives a broker restart losslessly)."""
    if value is None:
        return "energy-dash"
    value = value.strip()
    return None if value.lower() in ("", "0", "none", "off") else value


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
    login_rate_storage: str = "database"  # see energy_dash.storage.limits
    forecast_interval_minutes: int = 60
    webhook_targets: str = "public"  # public | lan | local (services.outbound)
    base_url: str | None = None  # public URL for links in mail (not the Host header)
    weather_url: str | None = None  # Open-Meteo-compatible forecast endpoint
    broker_url: str | None = field(default=None, repr=False)  # Celery; None: in-process
    raw_retention_days: int | None = None  # PostgreSQL raw partitions; None: forever
    fit_time_limit_s: int = 300  # hard limit of one forecast fit on a worker
    instance_dir: Path = INSTANCE_DIR
    testing: bool = False
    mqtt_url: str | None = field(default=None, repr=False)
    mqtt_share_group: str | None = "energy-dash"  # None: plain subscriptions

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
            # set but empty is unset: only "0" switches the limit off
            ingest_rate=(os.environ.get("ENERGY_DASH_INGEST_RATE") or "").strip()
            or "600/minute",
            login_rate_storage=os.environ.get("ENERGY_DASH_RATE_STORAGE", "database"),
            forecast_interval_minutes=_minutes(
                os.environ.get("ENERGY_DASH_FORECAST_INTERVAL_MINUTES", "60")
            ),
            instance_dir=instance_dir,
            webhook_targets=(
                os.environ.get("ENERGY_DASH_WEBHOOK_TARGETS") or "public"
            ).strip().lower(),
            base_url=(os.environ.get("ENERGY_DASH_BASE_URL") or "").strip() or None,
            weather_url=(os.environ.get("ENERGY_DASH_WEATHER_URL") or "").strip()
            or None,
            mqtt_url=(os.environ.get("ENERGY_DASH_MQTT_URL") or "").strip() or None,
            mqtt_share_group=_share_group(os.environ.get("ENERGY_DASH_MQTT_SHARE")),
            broker_url=(os.environ.get("ENERGY_DASH_BROKER_URL") or "").strip() or None,
            raw_retention_days=_optional_days(
                os.environ.get("ENERGY_DASH_RAW_RETENTION_DAYS", "")
            ),
            fit_time_limit_s=_whole_seconds(
                "ENERGY_DASH_FIT_TIME_LIMIT", os.environ.get(
                    "ENERGY_DASH_FIT_TIME_LIMIT", "300"
                ),
            ),
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
        if self.webhook_targets not in {"public", "lan", "local"}:
            raise ConfigError(
                "ENERGY_DASH_WEBHOOK_TARGETS must be public, lan or local, not "
                f"{self.webhook_targets!r}"
            )
        if self.ingest_rate != "0":
            _parse_rate(self.ingest_rate)
        if _in_memory(self.database_url):
            raise ConfigError(
                "DATABASE_URL names an in-memory SQLite database, which is a new, "
                "empty one for every connection: use a file, e.g. "
                "sqlite:///instance/energy_dash.db"
            )
        if self.broker_url and self.broker_url.split("://")[0] not in BROKER_SCHEMES:
            raise ConfigError(
                "ENERGY_DASH_BROKER_URL must start with redis://, rediss://, amqp:// "
                "or amqps://"
            )


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


def _optional_days(text: str) -> int | None:
    """ENERGY_DASH_RAW_RETENTION_DAYS: empty keeps raw readings forever."""
    text = text.strip()
    if not text:
        return None
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ConfigError(
            "ENERGY_DASH_RAW_RETENTION_DAYS must be a whole number of days >= 1 "
            f"(or unset to keep raw readings forever), not {text!r}"
        )
    return value


def _whole_seconds(name: str, text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ConfigError(
            f"{name} must be a whole number of seconds >= 1, not {text!r}"
        )
    return value


def _in_memory(url: str | None) -> bool:
    """``sqlite://``, ``sqlite:///:memory:`` or a ``mode=memory`` URI."""
    if not url or not url.lower().startswith("sqlite"):
        return False
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except Exception:  # a malformed URL is the engine's to report
        return False
    database = parsed.database or ""
    return database in ("", ":memory:") or "mode=memory" in url.lower()


def _parse_rate(text: str) -> tuple[int, int]:
    """Parse ``N/second|minute|hour|day`` (N >= 1) into (count, window seconds).

    ``0/minute`` or ``-5/minute`` would switch the limit off without saying so;
    only a plain ``0`` does that, on purpose.
    """
    units = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
    try:
        count, unit = text.split("/")
        unit = unit.strip().lower().rstrip("s")
        parsed = int(count), units[unit]
    except (ValueError, KeyError):
        raise ConfigError(
            f"ENERGY_DASH_INGEST_RATE must look like '600/minute', not {text!r}"
        ) from None
    if parsed[0] < 1:
        raise ConfigError(
            f"ENERGY_DASH_INGEST_RATE must allow at least 1 request, not {text!r} "
            "(0 alone switches the limit off)"
        )
    return parsed


parse_rate = _parse_rate
