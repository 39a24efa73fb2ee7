"""MQTT and the CSV import log unlikely values as the sensor API does: once, for
the new reading, in the transaction that stores it.

The test facility has 100 kW and reports every 60 s: more than 5 kWh in a
reading is unlikely (stored, and logged).
"""

from __future__ import annotations

import json
import time

from energy_dash import data
from energy_dash.services.bindings import bind_influx
from energy_dash.services.meters import ingest_readings
from ingest.mqtt import Message, TopicBinding
from ingest.mqtt_sink import DecodingSink

T0 = int(time.time()) - 3600


def spike(field: str, kwh: str) -> str:
    return (f"{field} {kwh} kWh is more than 3x the capacity (100 kW) over 60 s "
            "(stored)")


def events_of(database_url, facility) -> list[tuple]:
    frame = data.read_quality_events(facility, database_url=database_url)
    return [(int(t.timestamp()), row.device_id, row.kind, row.detail)
            for t, row in frame.iterrows()]


def native(seq: int, consumed: float, produced: float = 0.0) -> bytes:
    return json.dumps({"timestamp": T0 + 60 * seq, "energy_consumed": consumed,
                       "energy_produced": produced, "current_load": 5.0,
                       "device_id": "plug"}).encode()


def test_mqtt_logs_an_unlikely_value_once(database_url, facility):
    def store(batches, events, deliveries):
        ingest_readings(database_url, batches, events, deliveries=deliveries)

    binding = TopicBinding(1, facility, "meters/+/reading", "native")
    sink = DecodingSink(store)

    def message(seq: int, payload: bytes) -> Message:  # a live device's clock
        return Message("meters/plug/reading", payload, False, False,
                       (T0 + 60 * seq) * 1000, (binding,), 1, seq + 1, "t-unlikely")

    batch = [message(0, native(0, 1.0)), message(1, native(1, 6.0, 7.25)),
             message(2, native(2, 5.0))]
    sink(batch)
    sink(batch)  # a broker restart sends them again: duplicates, no new event
    frame = data.read_readings(facility, database_url=database_url)
    assert frame["energy_consumed"].tolist() == [1.0, 6.0, 5.0]
    assert events_of(database_url, facility) == [
        (T0 + 60, "plug", "spike", spike("energy_produced", "7.25")),
        (T0 + 60, "plug", "spike", spike("energy_consumed", "6")),
    ]


CSV = """\
timestamp,device_id,energy_consumed_kwh,energy_produced_kwh,current_load_pct
{t0},meter,1.0,0,5
{t1},meter,12.5,0,5
{t1},meter,13.5,0,5
{t2},meter,5.0,0,5
"""


def import_twice(import_csv, template: str, facility: int) -> list[str]:
    """The summary lines of importing the file, then the same file again."""
    text = template.format(t0=T0, t1=T0 + 60, t2=T0 + 120)
    outputs = []
    for _ in range(2):
        result = import_csv(text, facility)
        assert result.exit_code == 0, result.output
        outputs.append(result.stdout.splitlines()[0])
    return outputs


def test_csv_import_logs_an_unlikely_value_once(import_csv, database_url, facility):
    assert import_twice(import_csv, CSV, facility) == [  # the second: nothing new
        "accepted 3, duplicates 1, rejected 0", "accepted 0, duplicates 4, rejected 0"]
    frame = data.read_readings(facility, database_url=database_url)
    assert frame["energy_consumed"].tolist() == [1.0, 12.5, 5.0]
    assert events_of(database_url, facility) == [
        (T0 + 60, "meter", "spike", spike("energy_consumed", "12.5")),
    ]


# Energies the ingest path derives itself are held to the same rule: 600 kW over
# the 60 s since the previous reading is 10 kWh, unlikely; a register that rose
# 8 kWh over 120 s books 8 kWh in one reading, unlikely too (the sensor API logs
# both from the row it fills).
POWERED = [(0, 60.0), (1, 600.0), (2, 120.0)]
"""(minute, power_consumed [kW]): 1, 10 and 2 kWh."""


def test_mqtt_logs_an_unlikely_energy_from_power_once(database_url, facility):
    def store(batches, events, deliveries):
        ingest_readings(database_url, batches, events, deliveries=deliveries)

    binding = TopicBinding(1, facility, "meters/+/reading", "native")
    sink = DecodingSink(store)

    def message(seq: int, kw: float) -> Message:
        payload = json.dumps({"timestamp": T0 + 60 * seq, "power_consumed": kw,
                              "energy_produced": 0.0, "device_id": "plug"})
        return Message("meters/plug/reading", payload.encode(), False, False,
                       (T0 + 60 * seq) * 1000, (binding,), 1, seq + 1, "t-power")

    batch = [message(seq, kw) for seq, kw in POWERED]
    sink(batch)
    sink(batch)  # again after a broker restart: duplicates, no new event
    frame = data.read_readings(facility, database_url=database_url)
    assert frame["energy_consumed"].tolist() == [1.0, 10.0, 2.0]
    assert events_of(database_url, facility) == [
        (T0 + 60, "plug", "spike", spike("energy_consumed", "10")),
    ]


POWER_AND_REGISTER_CSV = """\
timestamp,device_id,power_consumed_kw,energy_consumed_total_kwh,energy_produced_kwh
{t0},meter,60,,0
{t1},meter,600,,0
{t2},meter,120,,0
{t0},register,,100,0
{t2},register,,108,0
"""


def test_csv_import_logs_unlikely_energies_from_power_and_registers_once(
    import_csv, database_url, facility
):
    assert import_twice(import_csv, POWER_AND_REGISTER_CSV, facility) == [
        "accepted 5, duplicates 0, rejected 0", "accepted 0, duplicates 5, rejected 0"]
    frame = data.read_readings(facility, database_url=database_url)
    assert sorted(zip(frame["device_id"], frame["energy_consumed"],
                      strict=True)) == [("meter", 1.0), ("meter", 2.0),
                                        ("meter", 10.0), ("register", 0.0),
                                        ("register", 8.0)]
    assert sorted(events_of(database_url, facility)) == [
        (T0 + 60, "meter", "spike", spike("energy_consumed", "10")),
        (T0 + 120, "register", "spike", spike("energy_consumed", "8")),
    ]


def test_line_protocol_logs_an_unlikely_energy_from_power_once(
    client, api_key, database_url, facility
):
    bind_influx(database_url, facility, "Mains", tags={"device": "IotaWatt"},
                role="consumption", kind="power", unit="W")
    body = "".join(f"Mains,device=IotaWatt value={kw * 1000:g} {T0 + 60 * seq}\n"
                   for seq, kw in POWERED)
    for _ in range(2):  # an uploader that sends the same points again
        response = client.post("/api/v2/write?precision=s", data=body,
                               headers={"Authorization": f"Token {api_key}"})
        assert response.status_code == 204, response.get_data(as_text=True)
    frame = data.read_readings(facility, database_url=database_url)
    assert frame["energy_consumed"].tolist() == [1.0, 10.0, 2.0]
    assert events_of(database_url, facility) == [
        (T0 + 60, "IotaWatt", "spike", spike("energy_consumed", "10")),
    ]


def test_bulk_api_logs_an_unlikely_energy_from_power_once(client, api_key,
                                                          database_url, facility):
    rows = [{"timestamp": T0 + 60 * seq, "power_consumed": kw,
             "energy_produced": 0.0, "device_id": "meter"} for seq, kw in POWERED]
    rows.append({"timestamp": T0 + 180, "energy_consumed": 6.0,
                 "energy_produced": 0.0, "current_load": 5.0, "device_id": "meter"})
    for accepted in (4, 0):  # a client that posts the same batch again
        response = client.post("/api/hardware/data/bulk", json=rows,
                               headers={"X-API-Key": api_key})
        assert response.status_code == 200
        assert response.get_json()["accepted"] == accepted
    frame = data.read_readings(facility, database_url=database_url)
    assert frame["energy_consumed"].tolist() == [1.0, 10.0, 2.0, 6.0]
    assert events_of(database_url, facility) == [
        (T0 + 60, "meter", "spike", spike("energy_consumed", "10")),
        (T0 + 180, "meter", "spike", spike("energy_consumed", "6")),
    ]
