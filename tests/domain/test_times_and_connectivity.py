"""The one time module and the one "connected" rule."""

from datetime import date

import numpy as np
import pandas as pd

from energy_dash.domain.connectivity import is_connected, stale_after_ms
from energy_dash.domain.facility import facility_info
from energy_dash.domain.times import (
    day_bounds,
    iso_local,
    iso_utc,
    iso_utc_many,
    local_days_touched,
    local_hour_start,
    to_utc,
)

T = 1_748_779_200_000  # 2025-06-01T12:00:00Z


def test_iso_utc_one_format_for_ms_timestamps_and_indexes():
    assert iso_utc(T) == "2025-06-01T12:00:00Z"
    assert iso_utc(T + 250) == "2025-06-01T12:00:00.250Z"
    assert iso_utc(T + 250, seconds=True) == "2025-06-01T12:00:00Z"
    assert iso_utc(-1) == "1969-12-31T23:59:59.999Z"  # before the epoch: floor
    assert iso_utc(np.int64(T + 999)) == iso_utc(T + 999) == "2025-06-01T12:00:00.999Z"
    assert iso_utc(pd.Timestamp("2025-06-01 14:00", tz="Europe/Berlin")) == (
        "2025-06-01T12:00:00Z"
    )
    index = pd.DatetimeIndex([pd.Timestamp(T, unit="ms"), pd.Timestamp(T + 250,
                                                                       unit="ms")])
    assert iso_utc_many(index) == [iso_utc(T), iso_utc(T + 250)]
    assert iso_local(T, "Europe/Berlin") == "2025-06-01T14:00:00+02:00"


def test_local_calendar_helpers_are_dst_correct():
    start, end = day_bounds(date(2025, 3, 30), "Europe/Berlin")  # 23-hour day
    assert (end - start) / 3_600_000 == 23
    assert local_hour_start(pd.Timestamp("2025-06-01T12:34Z"), "Asia/Kolkata") == (
        pd.Timestamp("2025-06-01T12:30Z")
    )
    lo, hi = to_utc("2025-05-31T22:00Z"), to_utc("2025-06-02T22:00Z")
    assert local_days_touched(lo, hi, "Europe/Berlin") == 2  # ends at midnight
    assert local_days_touched(lo, hi + pd.Timedelta("1ms"), "Europe/Berlin") == 3


def test_connected_until_twice_the_expected_interval():
    assert stale_after_ms(60) == 120_000
    assert is_connected(T, T + 119_999, 60)
    assert not is_connected(T, T + 120_000, 60)
    assert not is_connected(None, T, 60)
    assert stale_after_ms(0) == 2_000  # a zero interval still means 1 s


def test_one_facility_dto_from_a_row_or_an_object():
    row = (7, "Roof", "Mars/Olympus", 300, 12.5, 230.0, 10.0, 15.0, 1.0, "DE",
           52.52, 13.40)
    info = facility_info(row)
    assert (info.id, info.timezone, info.country) == (7, "UTC", "DE")
    assert info.location == (52.52, 13.40)
    assert info.bands()["warning_high"] == 253.0
    assert info.connected(T, T + 599_999) and not info.connected(T, T + 600_000)
    assert facility_info(info) == info


def test_iso_local_many_writes_what_isoformat_writes():
    from energy_dash.domain.times import iso_local_many

    stamps = [1711846800000, 1711846800250, 1711850400000, 1729990800000,
              1729994400000, 1748779200123]  # around both Berlin DST switches
    for zone in ("Europe/Berlin", "America/St_Johns", "Asia/Kolkata", "UTC"):
        index = pd.to_datetime(stamps, unit="ms", utc=True).tz_convert(zone)
        assert list(iso_local_many(index)) == [t.isoformat() for t in index], zone
    empty = pd.DatetimeIndex([], tz="Europe/Berlin")
    assert list(iso_local_many(empty)) == []
