"""Meter commands of ``energy-dash``: bind-topic, bind-influx, unbind, mqtt.

Registered on the main group by :func:`register`; errors follow the group's
rule (one line on stderr, exit 1; usage errors exit 2).
"""

from __future__ import annotations

import logging

import click

from energy_dash.domain.bindings import FORMATS, KINDS, ROLES

logger = logging.getLogger(__name__)

UNITS = ("W", "kW", "Wh", "kWh")


def _database_url() -> str:
    from energy_dash.config import Settings

    return Settings.from_env().database_url


def _fail(message: str) -> None:
    from energy_dash.cli import CliError

    raise CliError(message)


def _tags(values: tuple[str, ...]) -> dict[str, str]:
    tags: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise click.BadParameter(f"{item!r} is not K=V", param_hint="--tag")
        tags[key] = value
    return tags


@click.command("bind-topic")
@click.option("--facility", "facility_id", type=int, required=True)
@click.option("--topic", required=True, help="MQTT topic filter, + and # allowed.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), required=True)
@click.option("--role", type=click.Choice(ROLES), default="consumption",
              show_default=True)
@click.option("--device-id", default=None,
              help="Device name for the readings (default: from the topic).")
def bind_topic(facility_id: int, topic: str, fmt: str, role: str,
               device_id: str | None) -> None:
    """Feed a facility from an MQTT topic; prints the binding id."""
    from energy_dash.services.bindings import BindingError
    from energy_dash.services.bindings import bind_topic as bind

    try:
        new_id = bind(_database_url(), facility_id, topic, fmt, role=role,
                      device_id=device_id)
    except BindingError as exc:
        _fail(str(exc))
    click.echo(new_id)


@click.command("bind-influx")
@click.option("--facility", "facility_id", type=int, required=True)
@click.option("--measurement", required=True)
@click.option("--tag", "tags", multiple=True, help="K=V the points must carry.")
@click.option("--field", default=None, help="Field key (default: value, or the "
              "only numeric field).")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--kind", type=click.Choice(KINDS), required=True)
@click.option("--unit", type=click.Choice(UNITS), required=True)
@click.option("--device-id", default=None,
              help="Device name (default: the device or host tag).")
def bind_influx(facility_id: int, measurement: str, tags: tuple[str, ...],
                field: str | None, role: str, kind: str, unit: str,
                device_id: str | None) -> None:
    """Map line-protocol points to a facility's readings; prints the binding id."""
    from energy_dash.services.bindings import BindingError
    from energy_dash.services.bindings import bind_influx as bind

    try:
        new_id = bind(_database_url(), facility_id, measurement, tags=_tags(tags),
                      field=field, role=role, kind=kind, unit=unit,
                      device_id=device_id)
    except BindingError as exc:
        _fail(str(exc))
    click.echo(new_id)


@click.command("unbind")
@click.argument("binding")
def unbind(binding: str) -> None:
    """Remove a topic or line-protocol binding (ID, topic:ID or influx:ID)."""
    from energy_dash.services.bindings import BindingError
    from energy_dash.services.bindings import unbind as remove

    try:
        removed = remove(_database_url(), binding)
    except BindingError as exc:
        _fail(str(exc))
    click.echo(f"removed {removed}")


@click.command("mqtt")
def mqtt() -> None:
    """Run the MQTT subscriber alone (ENERGY_DASH_MQTT_URL)."""
    from energy_dash.config import Settings
    from ingest.mqtt_sink import build_subscriber

    settings = Settings.from_env()
    if not settings.mqtt_url:
        _fail("ENERGY_DASH_MQTT_URL is not set (mqtt://[user:pass@]host:port)")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    try:
        subscriber = build_subscriber(settings.database_url, settings.mqtt_url,
                                      share_group=settings.mqtt_share_group)
    except ValueError as exc:
        _fail(f"ENERGY_DASH_MQTT_URL: {exc}")
    click.echo(f"MQTT subscriber {subscriber.client_id} on "
               f"{subscriber.broker.host}:{subscriber.broker.port}")
    subscriber.run_forever()


def register(group: click.Group) -> None:
    """Add the meter commands to the ``energy-dash`` group."""
    for command in (bind_topic, bind_influx, unbind, mqtt):
        group.add_command(command)
