"""Energy derived from a register or a power meets the bounds of a posted interval
energy: beyond what one reading may carry (1 GW over twice the reporting interval)
it is quarantined with a data-quality event, never booked.

The test facility: 100 kW, a reading every 60 s, so one reading may carry at most
1 GW x 120 s = 33,333.3 kWh.
"""

from __future__ import annotations

from energy_dash import data

DAY_S = 86_400
T0 = 1_767_225_600  # 2026-01-01 00:00 UTC


def _post(client, key, **fields):
    return client.post("/api/hardware/data", headers={"X-API-Key": key},
                       json={"device_id": "meter", **fields})


def test_register_jump_beyond_one_reading_is_quarantined(client, api_key,
                                                         database_url, facility):
    """200 MWh after a 30-day silence passes the capacity rule (3 x 100 kW x 720 h
    = 216 MWh) but no reading may carry it: a spike, and the meter's steady new
    level books from there."""
    assert _post(client, api_key, timestamp=T0, energy_consumed_total=1000.0,
                 energy_produced=0).status_code == 201
    jump = T0 + 30 * DAY_S
    assert _post(client, api_key, timestamp=jump, energy_consumed_total=201_000.0,
                 energy_produced=0).status_code == 201
    for i in range(1, 5):
        assert _post(client, api_key, timestamp=jump + 60 * i,
                     energy_consumed_total=201_000.0 + 0.5 * i,
                     energy_produced=0).status_code == 201
    frame = data.read_readings(facility, database_url=database_url)
    assert frame["energy_consumed"].round(9).tolist() == [0.0, 0.0, 0.5, 0.5, 0.5,
                                                          0.5]
    events = data.read_quality_events(facility, database_url=database_url)
    assert events["kind"].tolist() == ["spike"]
    assert events.index[0].isoformat() == "2026-01-31T00:00:00+00:00"
    assert events["detail"].iloc[0] == (
        "rise of 200000 kWh over 2.592e+06 s, more than one reading may carry "
        "(33333.3 kWh, 1 GW)")


def test_reset_cycle_beyond_one_reading_books_nothing(client, api_key,
                                                      database_url, facility):
    """A register that falls and restarts at 50 MWh 30 days later: the new
    cycle's first value would be energy since the reset (within 3 x 100 kW x
    720 h), but no reading may carry it."""
    _post(client, api_key, timestamp=T0, energy_consumed_total=90_000.0,
          energy_produced=0)
    start = T0 + 30 * DAY_S
    for i, total in enumerate([50_000.0, 50_000.5, 50_001.0, 50_001.5, 50_002.0]):
        assert _post(client, api_key, timestamp=start + 60 * i,
                     energy_consumed_total=total,
                     energy_produced=0).status_code == 201
    frame = data.read_readings(facility, database_url=database_url)
    assert frame["energy_consumed"].round(9).tolist() == [0.0, 0.0, 0.5, 0.5, 0.5,
                                                          0.5]
    events = data.read_quality_events(facility, database_url=database_url)
    assert events["kind"].tolist() == ["counter_reset"]


def test_power_beyond_one_gigawatt_is_refused_and_a_large_one_is_logged(
    client, api_key, database_url, facility
):
    refused = _post(client, api_key, timestamp=T0, power_consumed=2_000_000,
                    energy_produced=0)
    assert refused.status_code == 422
    assert [d["field"] for d in refused.get_json()["details"]] == ["power_consumed"]
    # 900 MW for the first reading's 60 s: 15 MWh, possible, unlikely, logged
    # exactly as a posted 15,000 kWh would be.
    stored = _post(client, api_key, timestamp=T0 + 60, power_consumed=900_000,
                   energy_produced=0)
    assert stored.status_code == 201
    frame = data.read_readings(facility, database_url=database_url)
    assert frame["energy_consumed"].tolist() == [15_000.0]
    events = data.read_quality_events(facility, database_url=database_url)
    assert events["kind"].tolist() == ["spike"]
    assert events["detail"].iloc[0] == (
        "energy_consumed 15000 kWh is more than 3x the capacity (100 kW) over 60 s "
        "(stored)")
