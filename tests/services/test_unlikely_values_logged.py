"""MQTT and the CSV import log unlikely values as the sensor API does: once, for
the new reading, in the transaction that stores it.

The test facility has 100 kW and reports every 60 s: more than 5 kWh in a
reading is unlikely (stored, and logged).
"""

from __future__ import annotations

import json
import time

from energy_dash import data
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



def test_csv_import_logs_an_unlikely_value_once(import_csv, database_url, facility):
    text = CSV.format(t0=T0, t1=T0 + 60, t2=T0 + 120)
    first = import_csv(text, facility)
    assert first.exit_code == 0, first.output
    assert "accepted 3, duplicates 1, rejected 0" in first.output
    again = import_csv(text, facility)  # the same file twice: nothing new
    assert "accepted 0, duplicates 4, rejected 0" in again.output
    frame = data.read_readings(facility, database_url=database_url)
    assert frame["energy_consumed"].tolist() == [1.0, 12.5, 5.0]
    assert events_of(database_url, facility) == [
        (T0 + 60, "meter", "spike", spike("energy_consumed", "12.5")),
    ]
