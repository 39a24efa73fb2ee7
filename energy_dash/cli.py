"""The ``energy-dash`` command (README "Command line").

Every command honours ``DATABASE_URL``. Exit status: 0 on success, 2 on a usage
error, 1 on any other error with one readable line on stderr
(``energy-dash: error: …``); set ``ENERGY_DASH_DEBUG=1`` to see the traceback too.
"""

from __future__ import annotations

import json
import logging
import math
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import click

from energy_dash.config import Settings

logger = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8050
IMPORT_CHUNK = 5_000
SHOW_REJECTED = 10


# --------------------------------------------------------------------- errors
class FiniteRange(click.FloatRange):
    """A float range that also refuses nan and inf (a FloatRange lets nan
    through, and inf crashed the simulator's integer conversions)."""

    name = "finite float range"

    def convert(self, value, param, ctx):
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


class CliError(click.ClickException):
    """A failure that is not a usage error: one line on stderr, exit status 1."""

    exit_code = 1

    def show(self, file=None) -> None:  # noqa: D102 - click's signature
        click.echo(f"energy-dash: error: {self.message}", err=True)


def _first_line(text: str) -> str:
    for line in text.strip().splitlines():
        if line.strip():
            return " ".join(line.split())
    return ""


def describe_error(exc: BaseException) -> str:
    """One readable line for any exception (no SQL, no traceback)."""
    from sqlalchemy.exc import DBAPIError, SQLAlchemyError

    if isinstance(exc, DBAPIError):
        detail = _first_line(str(exc.orig)) or type(exc.orig).__name__
        lowered = detail.lower()
        if "no such table" in lowered or (
            "relation" in lowered and "does not exist" in lowered
        ):
            return f"database: {detail} (run `energy-dash init-db` first)"
        return f"database: {detail}"
    if isinstance(exc, SQLAlchemyError):
        return f"database: {_first_line(str(exc)) or type(exc).__name__}"
    if isinstance(exc, KeyError) and exc.args:
        return str(exc.args[0])
    return _first_line(str(exc)) or type(exc).__name__


class EnergyDashGroup(click.Group):
    """Turns every unexpected exception into ``energy-dash: error: <message>``."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except (KeyboardInterrupt, EOFError):
            raise
        except Exception as exc:  # noqa: BLE001 - the one place errors become a line
            if os.environ.get("ENERGY_DASH_DEBUG") == "1":
                traceback.print_exc()
            raise CliError(describe_error(exc)) from None


def _settings(**kwargs: Any) -> Settings:
    return Settings.from_env(**kwargs)


def _session(url: str, *, write: bool = False):
    from energy_dash.db import session_scope

    return session_scope(url, write=write)


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


# ----------------------------------------------------------------------- group
@click.group(
    cls=EnergyDashGroup, context_settings={"help_option_names": ["-h", "--help"]}
)
@click.version_option(package_name="energy-dash", prog_name="energy-dash")
def main() -> None:
    """Energy Dash: sensor ingestion, live dashboards and forecasts.

    Every command uses the database at DATABASE_URL (default: the SQLite file
    under instance/).
    """


# ------------------------------------------------------------------ init-db
@main.command("init-db")
def init_db_command() -> None:
    """Create or migrate (Alembic) the database schema."""
    from energy_dash.db import init_db

    settings = _settings()
    init_db(settings.database_url)
    _maintain_partitions(settings)
    click.echo(f"Database ready (schema at head): {_safe_url(settings.database_url)}")


def _maintain_partitions(settings: Settings) -> None:
    """PostgreSQL: readings partitions for the coming months, raw retention."""
    from energy_dash.services.maintenance import maintain_partitions

    result = maintain_partitions(settings)
    if result["created"]:
        click.echo(f"Readings partitions created: {', '.join(result['created'])}")
    if result["dropped"]:
        click.echo(
            f"Raw readings past retention dropped: {', '.join(result['dropped'])}"
        )


# --------------------------------------------------------------------- demo
def _print_demo(result, *, production: bool) -> None:
    from energy_dash.demo.seed import DEMO_NAME, DEMO_PASSWORD, DEMO_USER

    if not result.seeded:
        click.echo(
            f"{DEMO_NAME} (id {result.facility_id}) already has readings; "
            "nothing changed."
        )
        return
    click.echo(
        f"Seeded {DEMO_NAME} (id {result.facility_id}): {result.readings} readings, "
        f"{result.alerts} voltage alerts."
    )
    if not production:
        click.echo(f"Sign in as {DEMO_USER} / {DEMO_PASSWORD}.")
    if result.api_key:
        click.echo(f"Demo sensor API key (shown once): {result.api_key}")


@main.command()
@click.option("--days", type=click.IntRange(1, 3660), default=30, show_default=True,
              help="Days of history ending now, at the demo facility's "
              "reporting interval (10 s).")
def demo(days: int) -> None:
    """Seed the demo facility, user, sensor key and history (idempotent)."""
    from energy_dash.db import init_db
    from energy_dash.demo.seed import seed_demo

    settings = _settings()
    init_db(settings.database_url)
    started = time.monotonic()
    result = seed_demo(settings.database_url, days=days, production=settings.production)
    _print_demo(result, production=settings.production)
    if result.seeded:
        _seed_forecasts(settings, result.facility_id)
        logger.info("demo seeded in %.1f s", time.monotonic() - started)


def _seed_forecasts(settings: Settings, facility_id: int) -> None:
    from energy_dash.demo.seed import FORECAST_HISTORY_DAYS, seed_forecast_history

    click.echo(f"Storing the last {FORECAST_HISTORY_DAYS} days of day-ahead forecasts, "
               "each from the data before its day …")
    seed_forecast_history(settings.database_url, facility_id,
                          weather_url=settings.weather_url)


# --------------------------------------------------------------- accounts
ROLE = click.Choice(["admin", "operator", "viewer"])


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        line = sys.stdin.readline()
        password = line.rstrip("\r\n")
        if not password:
            raise CliError("no password on standard input")
        return password
    import warnings

    try:
        with warnings.catch_warnings():  # getpass warns, in two lines, off a tty
            warnings.simplefilter("ignore")
            return click.prompt(
                "Password", hide_input=True, confirmation_prompt=True, err=True
            )
    except click.Abort:  # end of input: no password was typed
        raise CliError("no password given: type it at the prompt, or use "
                       "--password-stdin") from None


@main.command("create-user")
@click.argument("username")
@click.option("--email", default=None, help="Address for password resets and alerts.")
@click.option("--role", type=ROLE, default="viewer", show_default=True)
@click.option("--password-stdin", is_flag=True,
              help="Read the password from the first line of standard input.")
def create_user_command(
    username: str, email: str | None, role: str, password_stdin: bool
) -> None:
    """Create a user and print its id (the password is asked for, hidden)."""
    from energy_dash.storage import accounts

    settings = _settings()
    password = _read_password(password_stdin)
    with _session(settings.database_url) as session:
        user = accounts.create_user(session, username, password, email=email, role=role)
        user_id = user.id
    click.echo(user_id)


@main.command("set-password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True,
              help="Read the new password from the first line of standard input.")
def set_password_command(username: str, password_stdin: bool) -> None:
    """Set a user's password (asked for, hidden) and sign out their sessions.

    The fix production names when the demo user still has the demo's password.
    """
    from energy_dash.storage import accounts

    settings = _settings()
    password = _read_password(password_stdin)
    with _session(settings.database_url) as session:
        user = accounts.get_user(session, username)
        if user is None:
            raise CliError(f"There is no user named {username.strip()!r}.")
        name = user.username
        accounts.change_password(session, user.id, None, password,
                                 require_current=False)
    click.echo(f"Password of {name} changed; their sessions are signed out.")


@main.command()
@click.argument("username")
@click.option("--facility", "facility_id", type=int, required=True)
@click.option("--role", type=ROLE, default="viewer", show_default=True)
def grant(username: str, facility_id: int, role: str) -> None:
    """Make a user a member of a facility (or change their role there)."""
    from energy_dash.storage import accounts

    settings = _settings()
    with _session(settings.database_url) as session:
        accounts.grant(session, username, facility_id, role)
    click.echo(f"{username} is now {role} of facility {facility_id}.")


@main.command("create-facility")
@click.argument("name")
@click.option("--timezone", "timezone", default="UTC", show_default=True,
              help="IANA time zone, e.g. Europe/Berlin.")
@click.option("--nominal-voltage", type=float, default=230.0, show_default=True,
              help="Nominal phase voltage [V].")
@click.option("--capacity-kw", type=float, default=100.0, show_default=True,
              help="Capacity [kW]; current_load is a share of it.")
@click.option("--country", default=None, help="Two-letter country code (holidays).")
@click.option("--latitude", type=float, default=None,
              help="Site latitude [°N]: production forecasts follow the sun there.")
@click.option("--longitude", type=float, default=None,
              help="Site longitude [°E] (with --latitude).")
@click.option("--interval", "interval_s", type=int, default=300, show_default=True,
              help="Seconds between a sensor's readings: gaps, 'connected' and "
              "power follow it.")
def create_facility(
    name: str, timezone: str, nominal_voltage: float, capacity_kw: float,
    country: str | None, latitude: float | None, longitude: float | None,
    interval_s: int,
) -> None:
    """Create a facility and print its id."""
    from energy_dash.db.models import Facility
    from energy_dash.storage import accounts

    values: dict[str, Any] = {
        "name": name, "timezone": timezone, "nominal_voltage": nominal_voltage,
        "capacity_kw": capacity_kw, "expected_interval_s": interval_s,
    }
    if country is not None:
        values["country"] = country
    if latitude is not None or longitude is not None:
        values.update(latitude=latitude, longitude=longitude)
    try:
        clean = accounts.clean_facility_values(values)
    except accounts.FieldError as exc:  # the facility rules refused a value
        option = {"name": "NAME", "nominal_voltage": "--nominal-voltage",
                  "capacity_kw": "--capacity-kw",
                  "expected_interval_s": "--interval"}.get(exc.field, f"--{exc.field}")
        raise CliError(f"invalid value for {option}: {exc}") from None
    settings = _settings()
    with _session(settings.database_url) as session:
        facility = Facility(**clean)
        session.add(facility)
        session.flush()
        facility_id = facility.id
    click.echo(facility_id)


# ------------------------------------------------------------ keys, tokens
@main.command("create-api-key")
@click.option("--facility", "facility_id", type=int, required=True)
@click.option("--name", default="sensor", show_default=True,
              help="Device name; readings without device_id are stored under it.")
def create_api_key(facility_id: int, name: str) -> None:
    """Create a sensor API key and print it once (only a hash is stored)."""
    from energy_dash.storage import devices

    settings = _settings()
    with _session(settings.database_url) as session:
        key = devices.create_api_key(session, facility_id, name)
    click.echo(key)
    click.echo(
        f"API key {name!r} for facility {facility_id}: store it now, "
        "it is not shown again. Send it as the X-API-Key header.",
        err=True,
    )


@main.command("create-display-token")
@click.option("--facility", "facility_id", type=int, required=True)
@click.option("--name", default="wall", show_default=True)
def create_display_token(facility_id: int, name: str) -> None:
    """Create a read-only /wall display token and print it once."""
    from energy_dash.storage import devices

    settings = _settings()
    with _session(settings.database_url) as session:
        token = devices.create_display_token(session, facility_id, name)
    click.echo(token)
    click.echo(
        f"Display token {name!r} for facility {facility_id}: open /wall?token=<token> "
        "on the screen; it is not shown again.",
        err=True,
    )


# ----------------------------------------------------------------- CSV in/out
def _count_rows(path: Path) -> int:
    lines = 0
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            lines += block.count(b"\n")
        handle.seek(0, os.SEEK_END)
        if handle.tell():
            handle.seek(-1, os.SEEK_END)
            if handle.read(1) != b"\n":
                lines += 1
    return max(0, lines - 1)


def _format_details(details: list[dict[str, str]]) -> str:
    return "; ".join(
        f"{d['field']}: {d['message']}" if d.get("field") else d["message"]
        for d in details
    )


@main.command("import-csv")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--facility", "facility_id", type=int, default=None,
              help="Store every row in this facility (overrides the file's "
              "facility_id column).")
@click.option("--device-id", default="csv-import", show_default=True,
              help="Device of rows without a device_id column.")
def import_csv(file: Path, facility_id: int | None, device_id: str) -> None:
    """Import readings from a CSV file (same validation as the sensor API).

    Reads what `export-csv` and the /historical download write: a `timestamp`
    column (ISO 8601 with offset, or Unix seconds), `facility_id`, `device_id`
    and one column per field (energy_produced_kwh or energy_produced, …). Rows
    should be in time order for the voltage alerts. Exit status 1 when any row
    was rejected (the others are stored).
    """
    from energy_dash.services.csv_format import import_csv_file

    settings = _settings()
    if sys.stderr.isatty():  # a bar for a person; a script's stderr keeps one line
        with click.progressbar(length=_count_rows(file),
                               label=f"Importing {file.name}", file=sys.stderr) as bar:
            totals = import_csv_file(file, facility_id, settings.database_url,
                                     device_id=device_id, progress=bar)
    else:
        totals = import_csv_file(file, facility_id, settings.database_url,
                                 device_id=device_id)
    rejected = totals["rejected"]
    click.echo(
        f"accepted {totals['accepted']}, duplicates {totals['duplicates']}, "
        f"rejected {len(rejected)}"
    )
    for item in rejected[:SHOW_REJECTED]:
        click.echo(f"line {item['line']}: {_format_details(item['details'])}")
    if len(rejected) > SHOW_REJECTED:
        click.echo(f"… and {len(rejected) - SHOW_REJECTED} more rejected rows")
    if rejected:
        rows = len(rejected) + totals["accepted"] + totals["duplicates"]
        raise CliError(
            f"{len(rejected)} of {rows} rows rejected ({totals['accepted']} stored)"
        )


def _timestamp(_ctx, param, value):
    if value is None:
        return None
    from energy_dash.domain.times import to_utc
    from energy_dash.domain.validation import FIRST_DAY, LAST_DAY, day_bounds_message

    try:
        moment = to_utc(value)
    except (ValueError, TypeError, OverflowError):
        raise click.BadParameter(
            f"{value!r} is not a date or ISO 8601 timestamp", param=param
        ) from None
    if not FIRST_DAY.year <= moment.year <= LAST_DAY.year:
        raise click.BadParameter(day_bounds_message(param.name), param=param)
    return moment


@main.command("export-csv")
@click.option("--facility", "facility_id", type=int, required=True)
@click.option("--start", callback=_timestamp, help="Inclusive; naive means UTC.")
@click.option("--end", callback=_timestamp, help="Exclusive; naive means UTC.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="File to write (default: standard output).")
def export_csv(facility_id: int, start, end, output: Path | None) -> None:
    """Export readings as CSV (the format import-csv reads; local time with offset)."""
    from energy_dash.domain.times import to_ms
    from energy_dash.services.csv_format import export_csv as export_text
    from energy_dash.services.facilities import facility_info

    settings = _settings()
    facility = facility_info(facility_id, database_url=settings.database_url)
    if facility is None:
        raise LookupError(f"facility {facility_id} does not exist")
    text = export_text(
        facility_id, to_ms(start), to_ms(end), database_url=settings.database_url,
        facility=facility,
    )
    if output is None:
        click.echo(text, nl=False)
        return
    output.write_text(text, encoding="utf-8", newline="")
    rows = max(0, text.count("\n") - 1)
    click.echo(f"Wrote {rows} readings to {output}", err=True)


# ------------------------------------------------------------------ forecast
def _print_summary(summary: Any) -> int:
    """Print the refresh summary, one line per facility and target; count failures."""
    if summary is None:
        click.echo("Forecasts refreshed.")
        return 0
    items = summary if isinstance(summary, list | tuple) else [summary]
    failed = 0
    for item in items:
        if isinstance(item, dict) and {"facility_id", "target", "status"} <= set(item):
            line = f"facility {item['facility_id']} {item['target']}: {item['status']}"
            if item.get("model"):
                line += f" ({item['model']})"
            if item.get("message"):
                line += f" — {item['message']}"
            failed += item["status"] == "failed"
            click.echo(line)
        else:
            click.echo(json.dumps(item, default=str) if isinstance(item, dict)
                       else str(item))
    return failed


def _print_slot_status(status: dict[str, Any] | None) -> None:
    if status is None:
        click.echo("No scheduled forecast refresh has run yet.")
        return
    state = "complete" if status["complete"] else "in progress"
    click.echo(
        f"Last slot {status['slot'].isoformat()} ({state}): {status['total']} fits — "
        f"{status['queued']} queued, {status['running']} running, "
        f"{status['done']} done, {status['skipped']} skipped, "
        f"{status['failed']} failed"
    )
    if status["duration_s"] is not None:
        line = f"Took {status['duration_s']:.1f} s"
        if status["fit_mean_s"] is not None:
            line += f", {status['fit_mean_s']:.2f} s per fit on average"
        click.echo(line)
    if status.get("broker_fallback"):
        click.echo(
            f"{status['broker_error'][0].upper()}{status['broker_error'][1:]}: "
            f"{status['broker_fallback']} fits ran in the scheduler's process"
        )
    for item in status["failures"]:
        click.echo(
            f"failed: facility {item['facility_id']} {item['target']} — "
            f"{item['message']}"
        )


@main.command()
@click.option("--facility", "facility_id", type=int, default=None,
              help="Only this facility (default: all).")
@click.option("--status", "show_status", is_flag=True,
              help="Show the last scheduled refresh slot (queued, done, failed, "
              "how long it took) instead of refreshing.")
def forecast(facility_id: int | None, show_status: bool) -> None:
    """Refresh the stored forecasts now."""
    _quiet_fits()
    if show_status:
        from energy_dash.services.forecast_slots import slot_status

        _print_slot_status(slot_status(_settings().database_url))
        return
    try:
        from energy_dash.services.forecast_refresh import refresh_forecasts
    except ImportError:
        raise CliError(
            "forecasting is not available in this build "
            "(energy_dash.jobs.refresh_forecasts is missing)"
        ) from None
    settings = _settings()
    failed = _print_summary(refresh_forecasts(settings, facility_id=facility_id))
    if failed:
        raise CliError(f"{failed} forecast{'s' if failed != 1 else ''} failed")


# ------------------------------------------------------------------ simulate
@main.command()
@click.option("--url", required=True, envvar="ENERGY_DASH_URL",
              help="Base URL of the server, e.g. http://127.0.0.1:8050.")
@click.option("--api-key", required=True, envvar="ENERGY_DASH_API_KEY",
              help="Sensor API key of the facility.")
@click.option("--interval", type=FiniteRange(min=0.05, max=86_400), default=10.0,
              show_default=True, help="Seconds between readings.")
@click.option("--count", type=click.IntRange(min=0), default=None,
              help="Readings to send (default: until interrupted).")
@click.option("--backfill-days", type=FiniteRange(min=0, max=3_660), default=0,
              show_default=True,
              help="First send this many days of one-minute history in bulk.")
@click.option("--device-id", default=None, help="Default: the API key's name.")
@click.option("--retries", type=click.IntRange(min=1), default=5, show_default=True,
              help="Attempts per request on network errors, 429 and 5xx.")
@click.option("--backoff", type=FiniteRange(min=0, max=3_600), default=1.0,
              show_default=True, help="First retry delay [s]; doubles each time.")
def simulate(
    url: str, api_key: str, interval: float, count: int | None, backfill_days: float,
    device_id: str | None, retries: int, backoff: float,
) -> None:
    """Post realistic simulated readings to a server's sensor API."""
    from energy_dash.demo.simulator import Sender, SimulatorError, run_simulation

    sender = Sender(url, api_key, echo=click.echo, attempts=retries, backoff=backoff)
    try:
        summary = run_simulation(
            url, api_key, interval_s=interval, count=count,
            backfill_days=backfill_days, device_id=device_id, echo=click.echo,
            sender=sender,
        )
    except SimulatorError as exc:
        raise CliError(str(exc)) from None
    except KeyboardInterrupt:
        click.echo("Stopped.", err=True)
        return
    click.echo(
        f"stored {summary['stored']}, duplicates {summary['duplicates']}, "
        f"failed {summary['failed']}"
    )
    failed = summary["failed"]
    if failed:
        raise CliError(f"{failed} reading{'s' if failed != 1 else ''} not stored")


# --------------------------------------------------------------------- serve
def _client_host(host: str) -> str:
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host in ("::", "[::]"):
        return "[::1]"
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def _configure_logging() -> None:
    debug = os.environ.get("ENERGY_DASH_DEBUG") == "1"
    level = logging.DEBUG if debug else logging.INFO
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for noisy in ("cmdstanpy", "prophet", "werkzeug", "alembic", "dash"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    if not debug:
        _quiet_fits()


def _quiet_fits() -> None:
    """No fit's optimiser chatter on the console of every refresh."""
    import warnings

    for message in NUMERIC_NOISE:
        warnings.filterwarnings("ignore", message=message, category=RuntimeWarning)


NUMERIC_NOISE = (
    "Rounding errors prevent the line search",  # scipy, in ARIMA's BFGS
    "The line search algorithm did not converge",
    "Mean of empty slice",  # numpy, on a window without data
)


def _start_demo(settings: Settings, port: int, host: str) -> bool:
    """Seed when empty and start the simulated sensor; True when the user exists."""
    from energy_dash.demo import seed as demo_module
    from energy_dash.demo.simulator import start_background

    url = settings.database_url
    if demo_module.is_empty(url):
        click.echo("Seeding the demo (30 days of history) …")
        result = demo_module.seed_demo(url, days=30, production=settings.production)
        _print_demo(result, production=settings.production)
        if result.seeded:  # in the background: the app serves meanwhile
            import threading

            threading.Thread(
                target=_seed_forecasts, args=(settings, result.facility_id),
                name="demo-forecast-history", daemon=True,
            ).start()
    facility_id = demo_module.demo_facility_id(url)
    if facility_id is not None:
        from energy_dash.storage import accounts

        filled = demo_module.fill_gap(url, facility_id)
        if filled:
            click.echo(f"Continued the demo history: {filled} readings since last run.")

        with _session(url) as session:
            facility = accounts.get_facility(session, facility_id)
        # the facility's interval, as the history: the gap check then sees none
        interval_s = facility["expected_interval_s"]
        key = demo_module.create_simulator_key(url, facility_id)
        start_background(
            f"http://{_client_host(host)}:{port}", key,
            interval_s=interval_s, model=demo_module.site_model(facility),
            device_id=demo_module.DEMO_DEVICE,
            catch_up=lambda: demo_module.fill_gap(url, facility_id),
        )
        click.echo(
            f"Simulated sensor: one reading every {interval_s:g} s to "
            f"facility {facility_id} through the sensor API."
        )
    else:
        click.echo("Facility 1 is not the demo facility: the simulated sensor is off.")
    return not settings.production and demo_module.demo_user_exists(url)


def _start_mqtt(settings: Settings, *, probe_local: bool) -> None:
    """The MQTT subscriber in this process (once per host), and a line saying so.

    ``make run`` (``--demo`` in development) uses 127.0.0.1:1883 when a broker
    answers there and ``ENERGY_DASH_MQTT_URL`` is not set.
    """
    import socket

    url = settings.mqtt_url
    if url is None and probe_local:
        try:
            socket.create_connection(("127.0.0.1", 1883), timeout=0.3).close()
        except OSError:
            click.echo("MQTT: no broker on 127.0.0.1:1883; running without MQTT "
                       "(set ENERGY_DASH_MQTT_URL to use one)")
            return
        url = "mqtt://127.0.0.1:1883"
    if url is None:
        return
    from ingest.mqtt import parse_broker_url
    from ingest.mqtt_sink import start_for_host

    try:
        broker = parse_broker_url(url)
    except ValueError as exc:
        raise CliError(f"ENERGY_DASH_MQTT_URL: {exc}") from None
    start_for_host(settings.database_url, url, share_group=settings.mqtt_share_group)
    click.echo(f"MQTT: subscribing to bound topics on {broker.host}:{broker.port}")


def _serve_gunicorn(settings: Settings, host: str, port: int) -> None:
    """Production: gunicorn in this process, the app built in each worker."""
    from gunicorn.app.base import BaseApplication

    from energy_dash.db import dispose_engines

    bind = f"[{host}]:{port}" if ":" in host and "[" not in host else f"{host}:{port}"

    class _Server(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", bind)
            self.cfg.set("workers", int(os.environ.get("WEB_CONCURRENCY", "2")))
            # Bodies are read whole by waitress's reactor before a thread runs the
            # request: slow clients cannot hold the threads (energy_dash.serving).
            self.cfg.set("worker_class", "energy_dash.serving.WaitressWorker")
            self.cfg.set("threads", int(os.environ.get("GUNICORN_THREADS", "8")))
            self.cfg.set("accesslog", None)

        def load(self):
            from energy_dash.app import create_app

            return create_app(settings).server

    workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
    if workers > 1 and (settings.login_rate_storage or "").startswith("memory://"):
        raise CliError(
            "ENERGY_DASH_RATE_STORAGE=memory:// counts per process; with "
            f"{workers} workers use 'database' (the default) or redis://"
        )
    dispose_engines()  # the workers fork: no pooled connection may cross
    _Server().run()


def _check_free(host: str, port: int) -> None:
    """One line when the address is taken; gunicorn retries it five times and
    logs a dozen lines before giving up."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise CliError(f"cannot listen on {host}:{port}: {exc}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            raise CliError(f"cannot listen on {host}:{port}: {exc}") from None


@main.command()
@click.option("--host", envvar="HOST", default=DEFAULT_HOST, show_default=True,
              help="Interface to listen on (env HOST).")
@click.option("--port", envvar="PORT", type=click.IntRange(1, 65535),
              default=DEFAULT_PORT, show_default=True, help="Port (env PORT).")
@click.option("--demo", "with_demo", is_flag=True,
              help="Seed the demo when the database is empty and run a simulated "
              "sensor that posts a reading every reporting interval of the demo "
              "facility (10 s) through the sensor API "
              "(with a fresh key named 'simulator' per start; older ones are "
              "revoked, no clear key is stored).")
def serve(host: str, port: int, with_demo: bool) -> None:
    """Migrate the database and serve the app (the scheduler runs unless
    ENERGY_DASH_SCHEDULER=0)."""
    from energy_dash.app import refuse_demo_login
    from energy_dash.db import init_db

    _configure_logging()
    settings = _settings(scheduler_default=True)
    init_db(settings.database_url)
    _maintain_partitions(settings)
    refuse_demo_login(settings)  # here, before gunicorn's workers build the app
    demo_login = _start_demo(settings, port, host) if with_demo else False
    _start_mqtt(settings, probe_local=with_demo and not settings.production)
    shown = f"http://{_client_host(host)}:{port}"
    line = f"Energy Dash on {shown}"
    if demo_login:
        line += " — sign in as demo / password"
    if settings.production:
        _check_free(host, port)
        click.echo(line)
        _serve_gunicorn(settings, host, port)
        return
    from energy_dash.app import create_app
    from energy_dash.serving import serve_single

    app = create_app(settings)
    click.echo(line)
    serve_single(app.server, host, port, int(os.environ.get("GUNICORN_THREADS", "8")))


def _register_meter_commands() -> None:
    from energy_dash import cli_devices

    cli_devices.register(main)


_register_meter_commands()

# -------------------------------------------------------------------- worker
@main.command()
@click.option("--concurrency", "-c", type=click.IntRange(1, 256), default=None,
              help="Fits in parallel (default: the number of CPUs).")
@click.option("--loglevel", default="INFO", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"],
                                case_sensitive=False))
@click.option("--name", default=None,
              help="Worker name (default celery@<host>); unique per host when "
              "several run there.")
def worker(concurrency: int | None, loglevel: str, name: str | None) -> None:
    """Run a Celery worker for forecast fits (ENERGY_DASH_BROKER_URL)."""
    from energy_dash.services.tasks import run_worker

    _configure_logging()
    settings = _settings()
    if not settings.broker_url:
        raise CliError("ENERGY_DASH_BROKER_URL is not set: a worker needs a broker "
                       "(redis://… or amqp://…)")
    run_worker(settings, concurrency=concurrency, loglevel=loglevel.upper(),
               name=name)


if __name__ == "__main__":  # pragma: no cover
    main()
