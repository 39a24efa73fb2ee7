"""The /historical "Data quality" panel and the dashboard's hardware tile count."""

from __future__ import annotations

import time

from components import quality as ui
from energy_dash.domain.quality import QualityEvent
from energy_dash.services import quality


def test_panel_table_and_summary_in_local_time():
    events = [
        {"ts_ms": 1_767_225_600_000, "facility_id": 1, "device_id": "plug",
         "kind": "counter_glitch", "detail": "register 0 after 12.5"},
        {"ts_ms": 1_767_225_660_000, "facility_id": 1, "device_id": None,
         "kind": "gap", "detail": "no reading for 11 min (expected every 5 min)"},
        {"ts_ms": 1_767_225_720_000, "facility_id": 1, "device_id": None,
         "kind": "gap", "detail": "no reading for 15 min (expected every 5 min)"},
    ]
    assert ui.summary(events) == ("· 3 issues: 2 gap in the data, "
                                  "1 counter glitch (ignored)")
    assert ui.summary([]) == "· no issues"
    table = ui.table(events, "Europe/Berlin")
    text = str(table.to_plotly_json())
    assert "2026-01-01 01:00" in text  # 00:00 UTC in Berlin
    assert "Counter glitch (ignored)" in text and "register 0 after 12.5" in text


def test_dashboard_tile_counts_issues_of_the_last_24_hours(database_url, facility):
    now = int(time.time() * 1000)
    quality.record_now(database_url, facility, [
        QualityEvent(now - 3_600_000, "counter_reset", "m", "register fell"),
        QualityEvent(now - 3 * 86_400_000, "gap", "m", "old")])
    assert quality.open_count(database_url, facility, now) == 1
