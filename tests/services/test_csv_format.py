"""One CSV format: what the /historical download writes, import-csv reads back."""

from pathlib import Path

import pandas as pd

from energy_dash import data
from energy_dash.services import csv_format

T = 1_748_779_200_000  # 2025-06-01T12:00:00Z (14:00 in Berlin)


def _frame(index: list[int], device: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "energy_produced": [0.125, 1 / 3][: len(index)],
            "energy_consumed": [0.2, 0.25][: len(index)],
            "current_load": [24.0, 30.0][: len(index)],
            "voltage": [230.4, None][: len(index)],
            "device_id": [device] * len(index),
        },
        index=pd.to_datetime(index, unit="ms", utc=True),
    )


def test_download_imports_back_into_another_facility(
    database_url, facility, tmp_path: Path
):
    from energy_dash.db import session_scope
    from energy_dash.db.models import Facility

    data.write_readings(_frame([T, T + 60_250], "=cmd"), facility,
                        database_url=database_url)
    text = csv_format.export_csv(facility, T, T + 3_600_000, database_url=database_url)
    assert text.splitlines()[1].startswith(
        f"2025-06-01T14:00:00+02:00,{facility},'=cmd,0.125,0.2,24.0,230.4,"
    )
    path = tmp_path / "download.csv"
    path.write_text(text)
    with session_scope(database_url) as session:
        other = Facility(name="Copy", timezone="Asia/Tokyo")
        session.add(other)
        session.flush()
        other_id = other.id
    totals = csv_format.import_csv_file(path, other_id, database_url)
    assert (totals["accepted"], totals["duplicates"], totals["rejected"]) == (2, 0, [])
    original = data.read_readings(facility, database_url=database_url)
    copied = data.read_readings(other_id, database_url=database_url)
    assert copied.index.equals(original.index)
    assert copied["device_id"].tolist() == ["=cmd", "=cmd"]
    columns = ["energy_produced", "energy_consumed", "current_load", "voltage"]
    pd.testing.assert_frame_equal(copied[columns], original[columns])
    # without --facility the file's own column decides: all duplicates now
    again = csv_format.import_csv_file(path, None, database_url)
    assert (again["accepted"], again["duplicates"]) == (0, 2)


def test_a_row_that_is_not_utf8_is_rejected_alone(database_url, facility, tmp_path):
    """A Latin-1 byte in one row ended the whole import: every row after the
    last flushed batch was lost and no row was reported."""
    lines = [b"timestamp,energy_produced_kwh,energy_consumed_kwh,device_id"]
    start = T // 1000
    for i in range(7):
        device = b"caf\xe9" if i == 4 else b"meter"  # Latin-1 "café"
        lines.append(b"%d,0.1,0.2,%s" % (start + 60 * i, device))
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"\n".join(lines) + b"\n")
    totals = csv_format.import_csv_file(path, facility, database_url, chunk_size=3)
    assert totals["accepted"] == 6
    assert totals["rejected"] == [{"line": 6, "details": [
        {"field": "device_id", "message": csv_format.UNDECODABLE}]}]
    stored = data.read_readings(facility, database_url=database_url)
    assert len(stored) == 6 and set(stored["device_id"]) == {"meter"}
