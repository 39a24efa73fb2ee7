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


def _utc_ms(text: str) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(text).timestamp() * 1000)


def test_panel_shows_the_events_of_the_chosen_range(app, auth_client, database_url,
                                                    facility):
    """A custom range of 10-12 January (Berlin) holds exactly the events from
    local midnight to local midnight, not those of the last 30 days."""
    from fixtures_web import callback_result, post_callback

    now = int(time.time() * 1000)
    quality.record_now(database_url, facility, [
        QualityEvent(_utc_ms("2026-01-09T22:59:59+00:00"), "gap", "m", "before"),
        QualityEvent(_utc_ms("2026-01-09T23:00:00+00:00"), "counter_reset", "m",
                     "first local minute"),
        QualityEvent(_utc_ms("2026-01-11T12:00:00+00:00"), "spike", "m", "middle"),
        QualityEvent(_utc_ms("2026-01-12T22:59:59+00:00"), "counter_glitch", "m",
                     "last local second"),
        QualityEvent(_utc_ms("2026-01-12T23:00:00+00:00"), "gap", "m", "after"),
        QualityEvent(now - 3_600_000, "stuck", "m", "an hour ago"),
    ])
    client = auth_client("alice", "viewer")

    def panel(range_value, start=None, end=None):
        result = callback_result(post_callback(
            client, app, "quality-body.children",
            {"facility-select.value": facility, "url.pathname": "/historical",
             "historical-range.value": range_value,
             "historical-start.date": start, "historical-end.date": end},
            trigger="historical-range.value"))
        return result["quality-summary.children"], str(result["quality-body.children"])

    summary, body = panel("custom", "2026-01-10", "2026-01-12")
    assert summary == ("· 3 issues: 1 counter glitch (ignored), 1 counter reset, "
                       "1 implausible spike (quarantined)")
    for shown in ("first local minute", "middle", "last local second",
                  "2026-01-10 00:00", "2026-01-12 23:59"):
        assert shown in body
    for hidden in ("before", "after", "an hour ago"):
        assert hidden not in body
    summary, body = panel("7")
    assert summary == "· 1 issue: 1 stuck value"
    assert "an hour ago" in body and "middle" not in body
    assert panel("custom", "2026-01-12", "2026-01-10") == ("", "")
