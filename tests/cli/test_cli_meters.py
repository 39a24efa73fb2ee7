"""bind-topic, bind-influx, unbind and mqtt on the command line."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from energy_dash.cli import main
from energy_dash.services.bindings import influx_bindings, topic_bindings


@pytest.fixture
def run(database_url, tmp_path):
    env = {"DATABASE_URL": database_url, "ENERGY_DASH_INSTANCE": str(tmp_path),
           "ENERGY_DASH_ENV": "development", "ENERGY_DASH_SCHEDULER": "0",
           "ENERGY_DASH_MQTT_URL": None, "SESSION_SECRET": None}

    def invoke(*args: str):
        return CliRunner().invoke(main, list(args), env=env)

    return invoke


def test_bind_list_and_unbind(run, database_url, facility):
    result = run("bind-topic", "--facility", str(facility), "--topic",
                 "tele/+/SENSOR", "--format", "tasmota")
    assert result.exit_code == 0, result.output
    topic_id = int(result.output)
    assert [b["topic"] for b in topic_bindings(database_url)] == ["tele/+/SENSOR"]
    result = run("bind-influx", "--facility", str(facility), "--measurement", "Mains",
                 "--tag", "device=IotaWatt", "--role", "consumption", "--kind",
                 "power", "--unit", "W")
    assert result.exit_code == 0, result.output
    [row] = influx_bindings(database_url, facility)
    assert row["tags"] == {"device": "IotaWatt"} and row["unit"] == "W"
    removed = run("unbind", f"topic:{topic_id}")
    assert removed.output.strip() == f"removed topic:{topic_id}"
    assert topic_bindings(database_url) == []
    missing = run("unbind", "topic:999")
    assert missing.exit_code == 1 and "no binding topic:999" in missing.output


def test_unbind_takes_the_ids_that_bind_printed(run, facility):
    """Topic and line-protocol bindings draw their ids from one source."""
    topic = run("bind-topic", "--facility", str(facility), "--topic", "tele/+/SENSOR",
                "--format", "tasmota")
    influx = run("bind-influx", "--facility", str(facility), "--measurement", "Mains",
                 "--role", "consumption", "--kind", "power", "--unit", "W")
    assert (topic.output, influx.output) == ("1\n", "2\n")
    removed = run("unbind", "2")
    assert (removed.exit_code, removed.output) == (0, "removed influx:2\n")
    removed = run("unbind", "1")
    assert (removed.exit_code, removed.output) == (0, "removed topic:1\n")


def test_errors_are_one_line(run, facility):
    result = run("bind-topic", "--facility", str(facility), "--topic", "a/#/b",
                 "--format", "tasmota")
    assert result.exit_code == 1
    assert result.output.strip() == (
        "energy-dash: error: topic: # is only allowed as the whole last level")
    result = run("bind-topic", "--facility", "99", "--topic", "x", "--format",
                 "native")
    assert result.exit_code == 1 and "facility 99 does not exist" in result.output
    result = run("bind-influx", "--facility", str(facility), "--measurement", "m",
                 "--role", "consumption", "--kind", "power", "--unit", "kWh")
    assert result.exit_code == 1 and "power takes W or kW" in result.output
    assert run("bind-topic", "--facility", "1", "--topic", "x", "--format",
               "zigbee").exit_code == 2
    result = run("mqtt")
    assert result.exit_code == 1 and "ENERGY_DASH_MQTT_URL is not set" in result.output
