"""A refused message's data-quality event is stored whatever its device id."""

from __future__ import annotations

import pytest

from energy_dash import data
from energy_dash.services.meters import ingest_readings


@pytest.mark.parametrize("device", ["a\x00b", "x" * 70])
def test_the_event_of_a_body_with_a_bad_device_id_is_recorded(
    database_url, facility, device
):
    good = {"energy_produced": 0.1, "energy_consumed": 0.2,
            "timestamp": 1_767_225_600, "device_id": "meter"}
    bad = {**good, "device_id": device, "timestamp": 1_767_225_660}
    results = ingest_readings(database_url, {facility: [good, bad]})
    assert results[facility].accepted == 1
    events = data.read_quality_events(facility, database_url=database_url)
    assert events["kind"].tolist() == ["malformed"]
    assert events["device_id"].isna().tolist() == [True]
    assert "device_id" in events["detail"].iloc[0]
    assert data.read_readings(facility, database_url=database_url)[
        "device_id"].tolist() == ["meter"]
