"""Registers and power through the sensor API (single and bulk) on both engines:
exact interval energies, re-booking on late backfill, and the quality log."""

from __future__ import annotations

import time

import pytest

from energy_dash import data

DATA = "/api/hardware/data"
BULK = "/api/hardware/data/bulk"


@pytest.fixture
def base() -> int:
    """A minute-aligned start one hour ago (the facility reports every 60 s)."""
    return int(time.time()) // 60 * 60 - 3600


def post(client, key, body):
    return client.post(DATA, json=body, headers={"X-API-Key": key})


def bulk(client, key, rows):
    return client.post(BULK, json=rows, headers={"X-API-Key": key})


def consumed(database_url, facility) -> list[float]:
    frame = data.read_readings(facility, database_url=database_url)
    return [round(v, 6) for v in frame["energy_consumed"].tolist()]


def kinds(database_url, facility) -> list[str]:
    return data.read_quality_events(facility, database_url=database_url)[
        "kind"].tolist()


def test_register_readings_book_differences_and_ignore_a_glitch(
    client, api_key, facility, database_url, base
):
    for i, total in enumerate([100.0, 100.5, 0.0, 101.0]):
        response = post(client, api_key, {"energy_consumed_total": total,
                                          "timestamp": base + 60 * i,
                                          "device_id": "plug"})
        assert response.status_code == 201, response.get_json()
    assert consumed(database_url, facility) == [0.0, 0.5, 0.0, 0.5]
    frame = data.read_readings(facility, database_url=database_url)
    assert frame["energy_produced"].tolist() == [0.0] * 4
    # 0.5 kWh in one minute is 30 kW: 30 % of the 100 kW facility
    assert frame["current_load"].round(6).tolist() == [0.0, 30.0, 0.0, 30.0]
    assert kinds(database_url, facility) == ["counter_glitch"]


def test_late_backfill_rebooks_the_reading_after_it(
    client, api_key, facility, database_url, base
):
    response = bulk(client, api_key, [
        {"energy_consumed_total": 101.0, "timestamp": base + 120, "device_id": "m"},
        {"energy_consumed_total": 100.0, "timestamp": base, "device_id": "m"},
    ])
    assert response.get_json()["accepted"] == 2
    assert consumed(database_url, facility) == [0.0, 1.0]
    response = post(client, api_key, {"energy_consumed_total": 100.4,
                                      "timestamp": base + 60, "device_id": "m"})
    assert response.status_code == 201
    assert consumed(database_url, facility) == [0.0, 0.4, 0.6]
    daily = data.read_readings(facility, database_url=database_url, resample="1D")
    assert round(daily["energy_consumed"].sum(), 6) == 1.0


def test_reset_and_spike_are_logged_not_booked(
    client, api_key, facility, database_url, base
):
    totals = [100.0, 100.5, 35100.5, 101.0, 0.2, 0.4, 0.6, 0.8]
    rows = [{"energy_consumed_total": t, "timestamp": base + 60 * i,
             "device_id": "m"} for i, t in enumerate(totals)]
    assert bulk(client, api_key, rows).get_json()["accepted"] == 8
    assert consumed(database_url, facility) == [0.0, 0.5, 0.0, 0.5, 0.2, 0.2, 0.2,
                                                0.2]
    assert kinds(database_url, facility) == ["spike", "counter_reset"]


def test_register_arriving_one_by_one_resolves_a_reset(
    client, api_key, facility, database_url, base
):
    for i, total in enumerate([100.0, 100.5, 0.2, 0.4, 0.6, 0.8]):
        post(client, api_key, {"energy_consumed_total": total,
                               "timestamp": base + 60 * i, "device_id": "m"})
    # 0.2 books only once the drop has stayed down for three more readings
    assert consumed(database_url, facility) == [0.0, 0.5, 0.2, 0.2, 0.2, 0.2]
    assert kinds(database_url, facility) == ["counter_reset"]


def test_power_is_integrated_over_the_real_interval(
    client, api_key, facility, database_url, base
):
    post(client, api_key, {"power_consumed": 3.9, "power_produced": 1.2,
                           "timestamp": base, "device_id": "p"})
    post(client, api_key, {"power_consumed": 3.9, "power_produced": 1.2,
                           "timestamp": base + 30, "device_id": "p"})
    frame = data.read_readings(facility, database_url=database_url)
    # first: the expected 60 s; then the real 30 s
    assert frame["energy_consumed"].round(6).tolist() == [0.065, 0.0325]
    assert frame["energy_produced"].round(6).tolist() == [0.02, 0.01]
    assert frame["current_load"].round(6).tolist() == [3.9, 3.9]


def test_register_fields_are_validated(client, api_key, facility):
    response = post(client, api_key, {"energy_consumed_total": -1,
                                      "power_produced": "x"})
    assert response.status_code == 422
    fields = {d["field"] for d in response.get_json()["details"]}
    assert fields == {"energy_consumed_total", "power_produced"}
    response = post(client, api_key, {"power_consumed": 2e6})  # over 1 GW
    assert response.status_code == 422


def test_seed_payload_is_unchanged(client, api_key, facility, database_url):
    body = {"energy_produced": 75.5, "energy_consumed": 62.3, "current_load": 35.8,
            "voltage": 220.5, "current": 15.2, "current1": 5.1, "current2": 5.0,
            "current3": 5.1, "frequency": 50.0, "power_factor": 0.95,
            "facility_id": facility}
    assert post(client, api_key, body).status_code == 201
    assert consumed(database_url, facility) == [62.3]
