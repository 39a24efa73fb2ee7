"""Open-Meteo answers turned into the forecast's weather frame."""

from __future__ import annotations

import math

from energy_dash.services.weather import parse_weather


def test_values_outside_their_physical_range_are_missing_and_negative_radiation_zero():
    """Open-Meteo derives some radiation from model means, which can dip below
    zero; a broken endpoint's 500 % cloud cover must not stop the forecast."""
    payload = {"hourly": {
        "time": ["2026-06-01T01:00", "2026-06-01T02:00", "2026-06-01T03:00"],
        "shortwave_radiation": [-0.4, 250.0, 2000.0],
        "cloud_cover": [20, 500, -3],
        "temperature_2m": [12.5, 99.0, -12.0],
    }}
    frame = parse_weather(payload)
    assert frame["ghi"].tolist()[:2] == [0.0, 250.0]
    assert math.isnan(frame["ghi"].iloc[2])
    cover = frame["cloud_cover"].dropna()
    assert cover.to_dict() == {frame.index[1]: 20.0}
    temperature = frame["temperature"].dropna()
    assert temperature.tolist() == [12.5, -12.0]
