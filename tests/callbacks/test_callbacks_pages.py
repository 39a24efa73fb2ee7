"""The page callbacks over real HTTP: signed-in test clients POST
``/_dash-update-component`` exactly as the Dash renderer does.

Readings are placed relative to the current time (the callbacks read the clock),
and expected values are computed from the same constructed readings.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest
from fixtures_web import callback_result, post_callback
from plotly.utils import PlotlyJSONEncoder

from components import wall as wall_ui
from energy_dash import data
from energy_dash.db import session_scope
from energy_dash.db.models import Alert, DisplayToken, Facility
from energy_dash.domain import units
from energy_dash.services import costs
from energy_dash.services import live as views
from energy_dash.storage.devices import create_display_token, revoke_display_token

MIN = 60_000
FACILITY = "facility-select.value"


def write(url: str, facility: int, rows: list[tuple[int, float, float]], **extra):
    """Store (ts_ms, produced kWh, consumed kWh) readings through the data API."""
    frame = pd.DataFrame(
        {
            "timestamp": pd.to_datetime([r[0] for r in rows], unit="ms", utc=True),
            "energy_produced": [r[1] for r in rows],
            "energy_consumed": [r[2] for r in rows],
            "current_load": 42.0,
            **extra,
        }
    )
    result = data.write_readings(frame, facility, database_url=url)
    assert result["accepted"] == len(rows), result


def find(tree: Any, ident: str) -> Any:
    """The component with ``id == ident`` in a serialised component tree."""
    if isinstance(tree, dict):
        props = tree.get("props", {})
        if props.get("id") == ident:
            return tree
        for value in props.values():
            found = find(value, ident)
            if found is not None:
                return found
    elif isinstance(tree, list):
        for item in tree:
            found = find(item, ident)
            if found is not None:
                return found
    return None


def text_of(tree: Any) -> str:
    """All the text inside a serialised component tree."""
    if tree is None:
        return ""
    if isinstance(tree, str | int | float):
        return str(tree)
    if isinstance(tree, list):
        return "".join(text_of(t) for t in tree)
    if isinstance(tree, dict):
        return text_of(tree.get("props", {}).get("children"))
    return ""


def local_midnight_ms(now: int, tz: str = "Europe/Berlin") -> int:
    return views.local_midnight_ms(views.local_today(now, tz), tz)


def other_facility(url: str, name: str = "Other plant") -> int:
    with session_scope(url) as session:
        row = Facility(name=name, timezone="UTC", expected_interval_s=60)
        session.add(row)
        session.flush()
        return row.id


@pytest.fixture
def live(database_url, facility):
    """Two readings, 60 s apart, the newest 30 s old: 60 kW produced, 15 kW consumed."""
    now = views.now_ms()
    rows = [(now - 90_000, 0.5, 0.5), (now - 30_000, 1.0, 0.25)]
    write(database_url, facility, rows, voltage=[231.0, 229.5],
          current1=[10.0, 10.0], current2=[10.0, 11.0], current3=[10.0, 12.0],
          frequency=[50.0, 49.98], power_factor=[0.95, 0.97])
    midnight = local_midnight_ms(now)
    today = [r for r in rows if r[0] >= midnight]
    return {
        "now": now,
        "rows": rows,
        "produced": sum(r[1] for r in today),
        "consumed": sum(r[2] for r in today),
        "self_used": sum(min(r[1], r[2]) for r in today),
    }


# ----------------------------------------------------------------- dashboard
def test_dashboard_kpis_then_204_when_nothing_changed(
    app, auth_client, database_url, facility, live
):
    client = auth_client("alice", facility_role="viewer")
    response = post_callback(client, app, "dashboard-production.children",
                             {FACILITY: facility})
    out = callback_result(response)
    assert out["dashboard-message.children"] is None
    assert out["dashboard-production.children"] == "60.0 kW"
    assert out["dashboard-consumption.children"] == "15.0 kW"
    assert out["dashboard-net-import.children"] == "-45.0 kW"
    assert out["dashboard-load.children"] == "42.0 %"
    # 1.5 and 0.75 kWh unless midnight fell between the readings
    assert out["dashboard-today-produced.children"] == units.energy_text(
        live["produced"])
    assert out["dashboard-today-consumed.children"] == units.energy_text(
        live["consumed"])
    ratio = live["self_used"] / live["consumed"] * 100
    assert out["dashboard-self-sufficiency.children"] == f"{ratio:.1f} %"
    assert text_of(out["dashboard-status.children"]) == "Connected"
    last = datetime.fromtimestamp(live["rows"][-1][0] / 1000, UTC)
    local = last.astimezone(pd.Timestamp(0, tz="Europe/Berlin").tzinfo)
    assert out["dashboard-last-seen.children"] == (
        f"last seen {local.strftime('%Y-%m-%d %H:%M:%S')} {local.tzname()}"
    )
    gauge = out["dashboard-voltage-gauge.figure"]["data"][0]
    assert gauge["value"] == 229.5
    assert gauge["gauge"]["steps"][2]["range"] == [207.0, 253.0]
    chart = out["dashboard-power-chart.figure"]
    assert [t["name"] for t in chart["data"]] == ["Production", "Consumption"]
    assert chart["layout"]["uirevision"] == f"dashboard-{facility}"
    assert len(out["dashboard-self-sufficiency-chart.figure"]["data"][0]["x"]) == 14
    assert text_of(out["dashboard-alerts.children"]) == "No active alerts"

    # Same data again: the server answers 204 and sends nothing.
    store = out["dashboard-store.data"]
    again = post_callback(client, app, "dashboard-production.children",
                          {FACILITY: facility, "dashboard-store.data": store},
                          changed=["dashboard-interval.n_intervals"])
    assert again.status_code == 204 and again.data == b""

    # A new reading changes the signature: everything is refreshed.
    write(database_url, facility, [(live["now"] + 1000, 0.25, 0.25)])
    fresh = callback_result(post_callback(
        client, app, "dashboard-production.children",
        {FACILITY: facility, "dashboard-store.data": store},
        changed=["dashboard-interval.n_intervals"],
    ))
    # 0.25 kWh over the 31 s since the previous reading
    assert fresh["dashboard-production.children"] == f"{0.25 / (31 / 3600):.1f} kW"


def test_dashboard_shows_an_open_alert_as_text(app, auth_client, database_url,
                                               facility):
    now = views.now_ms()
    write(database_url, facility, [(now - 10_000, 0, 1)], voltage=[0.0])
    client = auth_client("alice")
    out = callback_result(post_callback(client, app, "dashboard-alerts.children",
                                        {FACILITY: facility}))
    alerts = text_of(out["dashboard-alerts.children"])
    assert "Supply outage" in alerts and "Supply lost (0 V)" in alerts
    assert out["dashboard-voltage-text.children"].startswith("Outage ·")


def test_no_facility_data_through_a_changed_id(app, auth_client, database_url,
                                               facility, live):
    secret = other_facility(database_url, "Secret plant")
    write(database_url, secret, [(live["now"] - 5000, 7.77, 8.88)],
          voltage=[777.0])
    client = auth_client("mallory", facility_role="admin")  # member of facility 1
    checks = [
        ("dashboard-production.children", {}),
        ("historical-totals.children", {"historical-range.value": "7"}),
        ("voltage-now.children", {}),
        ("wall-production.children", {}),
    ]
    for output, values in checks:
        response = post_callback(client, app, output, {FACILITY: secret, **values})
        body = response.get_data(as_text=True)
        assert response.status_code == 200, output
        for leak in ("Secret plant", "777", "466", "532"):  # 7.77 kWh/min = 466.2 kW
            assert leak not in body, (output, leak)
        assert "access" in body  # the refusal is said, not silent
    quality = post_callback(client, app, "voltage-quality.children", {FACILITY: secret})
    assert callback_result(quality)["voltage-quality.children"] is None
    log = post_callback(client, app, "voltage-alert-log.children", {FACILITY: secret})
    assert callback_result(log)["voltage-alert-log.children"] is None
    download = post_callback(client, app, "historical-download.data",
                             {"historical-download-button.n_clicks": 1,
                              FACILITY: secret, "historical-range.value": "7"},
                             changed=["historical-download-button.n_clicks"])
    assert download.status_code == 204


def test_anonymous_callbacks_are_refused(app, client, facility, live):
    response = post_callback(client, app, "dashboard-production.children",
                             {FACILITY: facility})
    assert response.status_code == 401


# ---------------------------------------------------------------- historical
def test_historical_totals_change_with_the_range(app, auth_client, database_url,
                                                 facility):
    now = views.now_ms()
    tz = "Europe/Berlin"
    today = views.local_today(now, tz)
    noon = views.local_midnight_ms(today - timedelta(days=3), tz) + 12 * 3_600_000
    older = views.local_midnight_ms(today - timedelta(days=20), tz) + 12 * 3_600_000
    before = views.local_midnight_ms(today - timedelta(days=40), tz) + 3_600_000
    write(database_url, facility, [(before, 8.0, 2.0), (older, 4.0, 10.0),
                                   (noon, 6.0, 5.0)])
    costs.set_tariff(facility, {"currency": "EUR", "import_price": 0.30,
                                    "export_price": 0.10, "standing_charge": 0.50},
                         database_url=database_url)
    client = auth_client("alice", facility_role="viewer")

    week = callback_result(post_callback(
        client, app, "historical-totals.children",
        {FACILITY: facility, "historical-range.value": "7"},
    ))
    table = week["historical-totals.children"]
    assert text_of(find(table, "historical-total-produced_kwh")) == "6.00 kWh"
    assert text_of(find(table, "historical-total-consumed_kwh")) == "5.00 kWh"
    # the week before holds no reading: "no data", never "0.0 kWh" or a change
    assert text_of(find(table, "historical-previous-produced_kwh")) == "no data"
    assert text_of(find(table, "historical-change-produced_kwh")) == "—"
    assert text_of(find(table, "historical-total-self_sufficiency_pct")) == "100.0 %"
    # 1 kWh exported at 0.10 against 7 standing charges of 0.50
    assert text_of(find(table, "historical-total-cost")) == "3.40 EUR"
    assert text_of(find(table, "historical-previous-cost")) == "no data"
    assert text_of(find(table, "historical-change-cost")) == "—"
    assert text_of(find(table, "historical-coverage-current")) == "< 1 % · incomplete"
    assert text_of(find(table, "historical-coverage-previous")) == "no data"
    assert text_of(find(table, "historical-comparison-note")).startswith(
        f"The previous period ({(today - timedelta(days=13)).isoformat()} – "
        f"{(today - timedelta(days=7)).isoformat()}) has no data, so changes are "
        "not shown"
    )
    first = today - timedelta(days=6)
    assert week["historical-period.children"] == (
        f"{first.isoformat()} – {today.isoformat()} (7 local days, Europe/Berlin)"
    )
    assert week["historical-resolution.children"] == "Resolution: 15 min"
    bars = week["historical-daily-chart.figure"]["data"]
    assert len(bars[0]["x"]) == 7 and bars[0]["y"][3] == 6.0

    month = callback_result(post_callback(
        client, app, "historical-totals.children",
        {FACILITY: facility, "historical-range.value": "30"},
    ))
    table = month["historical-totals.children"]
    assert text_of(find(table, "historical-total-produced_kwh")) == "10.0 kWh"
    assert text_of(find(table, "historical-total-consumed_kwh")) == "15.0 kWh"
    # previous 30 days held the reading 40 days ago: 8 kWh, but in one quarter
    # hour of 2880 — an incomplete period, so no "+25.0 %" / "+650.0 %"
    assert text_of(find(table, "historical-previous-produced_kwh")) == "8.00 kWh"
    assert text_of(find(table, "historical-change-produced_kwh")) == "—"
    assert text_of(find(table, "historical-change-consumed_kwh")) == "—"
    assert text_of(find(table, "historical-change-self_sufficiency_pct")) == "—"
    assert text_of(find(table, "historical-coverage-previous")) == "< 1 % · incomplete"
    assert "is incomplete: readings cover < 1 % of it" in text_of(
        find(table, "historical-comparison-note"))
    heat = month["historical-heatmap.figure"]["data"][0]
    assert heat["y"] == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]

    custom = callback_result(post_callback(
        client, app, "historical-totals.children",
        {FACILITY: facility, "historical-range.value": "custom",
         "historical-start.date": (today - timedelta(days=3)).isoformat(),
         "historical-end.date": (today - timedelta(days=3)).isoformat()},
    ))
    assert "1 local days" in custom["historical-period.children"]
    assert custom["historical-resolution.children"] == "Resolution: every reading"
    assert text_of(find(custom["historical-totals.children"],
                        "historical-total-produced_kwh")) == "6.00 kWh"

    # A reversed or half-chosen range is said, never swapped or guessed.
    def custom_range(start, end):
        return callback_result(post_callback(
            client, app, "historical-totals.children",
            {FACILITY: facility, "historical-range.value": "custom",
             "historical-start.date": start,
             "historical-end.date": end},
        ))

    reversed_ = custom_range("2026-11-25", "2026-11-16")
    assert text_of(reversed_["historical-message.children"]) == (
        "The start date 2026-11-25 is after the end date 2026-11-16: choose an "
        "end on or after the start."
    )
    assert reversed_["historical-totals.children"] == ""
    assert reversed_["historical-period.children"] == ""
    half = custom_range("2026-11-16", None)
    assert text_of(half["historical-message.children"]) == (
        "Choose an end date for the custom range."
    )
    exact = custom_range("2026-11-10", "2026-11-16")
    assert exact["historical-period.children"].startswith(
        "2026-11-10 – 2026-11-16 (7 local days")


def test_historical_90_days_show_the_whole_range_and_where_data_begins(
    app, auth_client, database_url, facility
):
    now = views.now_ms()
    tz = "Europe/Berlin"
    today = views.local_today(now, tz)
    begins = today - timedelta(days=40)
    write(database_url, facility, [
        (views.local_midnight_ms(begins, tz) + 3_600_000, 8.0, 2.0),
        (views.local_midnight_ms(today - timedelta(days=3), tz) + 3_600_000, 6.0, 5.0),
    ])
    client = auth_client("alice", facility_role="viewer")
    out = callback_result(post_callback(
        client, app, "historical-totals.children",
        {FACILITY: facility, "historical-range.value": "90"},
    ))
    first = today - timedelta(days=89)
    assert out["historical-data-note.children"] == (
        f"Readings begin on {begins.isoformat()}: the 49 days before hold no data.")
    # the power chart spans the 90 days, like the daily charts, not only the data
    power = out["historical-power-chart.figure"]["layout"]["xaxis"]["range"]
    assert power == [f"{first.isoformat()} 00:00:00",
                     f"{(today + timedelta(days=1)).isoformat()} 00:00:00"]
    assert len(out["historical-daily-chart.figure"]["data"][0]["x"]) == 90


def test_historical_csv_download(app, auth_client, database_url, facility):
    now = views.now_ms()
    write(database_url, facility, [(now - 120_000, 1.25, 0.5)], voltage=[230.0])
    client = auth_client("alice", facility_role="viewer")
    response = post_callback(
        client, app, "historical-download.data",
        {"historical-download-button.n_clicks": 1, FACILITY: facility,
         "historical-range.value": "7"},
        changed=["historical-download-button.n_clicks"],
    )
    download = callback_result(response)["historical-download.data"]
    today = views.local_today(now, "Europe/Berlin")
    first = today - timedelta(days=6)
    assert download["filename"] == (
        f"energy-dash-facility-{facility}-{first.isoformat()}-{today.isoformat()}.csv"
    )
    assert download["type"] == "text/csv" and download["base64"] is False
    lines = download["content"].splitlines()
    assert lines[0] == (
        "timestamp,facility_id,device_id,energy_produced_kwh,energy_consumed_kwh,"
        "current_load_pct,voltage_v,current_a,current1_a,current2_a,current3_a,"
        "frequency_hz,power_factor"
    )
    stamp = pd.Timestamp(now - 120_000, unit="ms", tz="UTC").tz_convert("Europe/Berlin")
    assert lines[1:] == [
        f"{stamp.isoformat()},{facility},notebook,1.25,0.5,42.0,230.0,,,,,,"
    ]


# ------------------------------------------------------------------- voltage
def test_voltage_page_live_values_and_append(app, auth_client, database_url,
                                             facility, live):
    client = auth_client("alice", facility_role="viewer")
    out = callback_result(post_callback(client, app, "voltage-now.children",
                                        {FACILITY: facility}))
    assert out["voltage-now.children"] == "229.5 V"
    assert out["voltage-level.children"] == "Normal"
    assert out["voltage-imbalance.children"] == "9.1 %"  # 10, 11, 12 A
    assert out["voltage-frequency.children"] == "49.98 Hz"
    assert out["voltage-power-factor.children"] == "0.97"
    assert out["voltage-bands.children"] == (
        "(nominal 230.0 V; warning outside 207.0 V–253.0 V; critical outside "
        "195.5 V–264.5 V)"
    )
    chart = out["voltage-chart.figure"]
    assert chart["data"][0]["y"] == [231.0, 229.5]
    edges = sorted({s["y0"] for s in chart["layout"]["shapes"] if s["type"] == "line"})
    assert edges == [195.5, 207.0, 230.0, 253.0, 264.5]
    store = out["voltage-store.data"]
    assert store["resolution"] == "raw" and store["traces"] is True

    write(database_url, facility, [(live["now"] + 500, 0.1, 0.1)], voltage=[190.0],
          current1=[5.0], current2=[5.0], current3=[5.0], frequency=[50.1],
          power_factor=[0.9])
    response = post_callback(client, app, "voltage-now.children",
                             {FACILITY: facility, "voltage-store.data": store},
                             changed=["voltage-interval.n_intervals"])
    out = callback_result(response)
    assert out["voltage-now.children"] == "190.0 V"
    assert out["voltage-level.children"] == "Critical"
    patch = out["voltage-chart.figure"]
    assert patch["__dash_patch_update"] == "__dash_patch_update"
    extend = [op for op in patch["operations"] if op["operation"] == "Extend"]
    assert [op["location"] for op in extend] == [["data", 0, "x"], ["data", 0, "y"]]
    assert extend[1]["params"]["value"] == [190.0]
    assert len(response.data) < 5000


def test_voltage_quality_callback(app, auth_client, database_url, facility):
    now = views.now_ms()
    write(database_url, facility, [(now - 3 * MIN, 0, 1), (now - 2 * MIN, 0, 1),
                                   (now - MIN, 0, 1)], voltage=[230.0, 260.0, 230.0])
    client = auth_client("alice", facility_role="viewer")
    out = callback_result(post_callback(client, app, "voltage-quality.children",
                                        {FACILITY: facility}))
    tree = out["voltage-quality.children"]
    assert text_of(find(tree, "voltage-quality-within")) == "66.7 %"
    assert text_of(find(tree, "voltage-quality-swells")) == "1"
    assert text_of(find(tree, "voltage-quality-sags")) == "0"
    assert "2 of 3 readings inside the band" in text_of(tree)


def _open_alert(url: str, facility: int) -> int:
    now = views.now_ms()
    write(url, facility, [(now - 2 * MIN, 0, 1)], voltage=[270.0])
    with session_scope(url) as session:
        return session.query(Alert.id).filter_by(facility_id=facility).scalar()


def _ack(client, app, facility: int, alert_id: int):
    button = json.dumps({"index": alert_id, "type": "voltage-ack"}, sort_keys=True,
                        separators=(",", ":"))
    body = {
        "output": "..voltage-alert-log.children...voltage-ack-message.children..",
        "outputs": [{"id": "voltage-alert-log", "property": "children"},
                    {"id": "voltage-ack-message", "property": "children"}],
        "inputs": [
            {"id": "facility-select", "property": "value", "value": facility},
            {"id": "voltage-store", "property": "data", "value": None},
            [{"id": {"type": "voltage-ack", "index": alert_id},
              "property": "n_clicks", "value": 1}],
        ],
        "state": [],
        "changedPropIds": [f"{button}.n_clicks"],
    }
    return client.post("/_dash-update-component", json=body)


def test_viewer_cannot_acknowledge_an_alert(app, auth_client, database_url,
                                            facility):
    alert_id = _open_alert(database_url, facility)
    client = auth_client("victor", facility_role="viewer")
    shown = callback_result(post_callback(client, app, "voltage-alert-log.children",
                                          {FACILITY: facility}))
    table = shown["voltage-alert-log.children"]
    assert find(table, {"type": "voltage-ack", "index": alert_id}) is None
    assert text_of(find(table, f"voltage-alert-row-{alert_id}")).endswith("not yet")
    out = callback_result(_ack(client, app, facility, alert_id))
    assert "Only operators and admins" in text_of(out["voltage-ack-message.children"])
    with session_scope(database_url) as session:
        alert = session.get(Alert, alert_id)
        assert alert.acknowledged_at is None and alert.acknowledged_by is None


def test_operator_acknowledges_an_alert(app, auth_client, database_url, facility):
    alert_id = _open_alert(database_url, facility)
    client = auth_client("olga", facility_role="operator")
    shown = callback_result(post_callback(client, app, "voltage-alert-log.children",
                                          {FACILITY: facility}))
    button = find(shown["voltage-alert-log.children"],
                  {"type": "voltage-ack", "index": alert_id})
    assert text_of(button) == "Acknowledge"
    before = datetime.now(UTC)
    out = callback_result(_ack(client, app, facility, alert_id))
    assert text_of(out["voltage-ack-message.children"]) == "Alert acknowledged."
    row = find(out["voltage-alert-log.children"], f"voltage-alert-row-{alert_id}")
    assert "olga, " in text_of(row)
    with session_scope(database_url) as session:
        alert = session.get(Alert, alert_id)
        user_id = alert.acknowledged_by
        acked_at = alert.acknowledged_at
    assert user_id is not None
    acked_at = acked_at if acked_at.tzinfo else acked_at.replace(tzinfo=UTC)
    assert before - timedelta(seconds=1) <= acked_at <= datetime.now(UTC)
    # A second click changes nothing.
    again = callback_result(_ack(client, app, facility, alert_id))
    assert "already acknowledged" in text_of(again["voltage-ack-message.children"])


# ---------------------------------------------------------------------- wall
def _tick(client, app, facility=None, store=None, config=None):
    return post_callback(
        client, app, "wall-production.children",
        {FACILITY: facility, "wall-store.data": store,
         "wall-config.data": config or {"facility": None, "refresh_s": 10}},
        changed=["wall-interval.n_intervals"],
    )


def test_wall_tick_204_when_unchanged_small_patch_when_a_reading_arrives(
    app, auth_client, api_key, database_url, facility, live
):
    client = auth_client("alice", facility_role="viewer")
    first = callback_result(_tick(client, app, facility))
    assert first["wall-production.children"] == "60.0 kW"
    assert first["wall-consumption.children"] == "15.0 kW"
    assert first["wall-facility-name.children"] == "Test Facility"
    assert first["wall-voltage.children"] == "229.5 V"
    assert first["wall-voltage-tile.className"] == "wall-tile wall-level-ok"
    assert first["wall-connection.children"] == "connected"
    figure = first["wall-chart.figure"]
    assert figure["data"][0]["y"] == [30.0, 60.0]  # 0.5 kWh/min, then 1.0 kWh/min
    store = first["wall-store.data"]
    assert store["last_ms"] == live["rows"][-1][0]
    assert store["tz"] == "Europe/Berlin" and store["stale_ms"] == 120_000

    unchanged = _tick(client, app, facility, store)
    assert unchanged.status_code == 204 and unchanged.data == b""

    # A reading through the sensor API: 0.05 kWh produced in 15 s is 12 kW.
    stamp = (live["rows"][-1][0] + 15_000) / 1000
    posted = client.post(
        "/api/hardware/data", headers={"X-API-Key": api_key},
        json={"energy_produced": 0.05, "energy_consumed": 0.1, "current_load": 40,
              "voltage": 270.0, "timestamp": stamp, "device_id": "notebook"},
    )
    assert posted.status_code == 201, posted.get_data(as_text=True)
    started = time.perf_counter()
    response = _tick(client, app, facility, store)
    elapsed = time.perf_counter() - started
    assert response.status_code == 200
    assert len(response.data) < 5 * 1024, len(response.data)
    assert elapsed < 2.0  # generous: shared CI machine
    out = callback_result(response)
    assert out["wall-production.children"] == "12.0 kW"
    assert out["wall-consumption.children"] == "24.0 kW"
    assert out["wall-voltage.children"] == "270.0 V"
    assert out["wall-voltage-tile.className"] == "wall-tile wall-level-critical"
    assert "High voltage" in text_of(out["wall-ticker.children"])
    patch = out["wall-chart.figure"]
    ops = {(tuple(op["location"]), op["operation"]): op["params"]
           for op in patch["operations"]}
    assert ops[(("data", 0, "y"), "Extend")]["value"] == [12.0]
    assert ops[(("data", 1, "y"), "Extend")]["value"] == [24.0]
    assert len(ops[(("data", 0, "x"), "Extend")]["value"]) == 1
    new_store = out["wall-store.data"]
    assert new_store["last_ms"] == int(stamp * 1000)
    assert new_store["drawn_from"] == store["drawn_from"]

    # The same store again (e.g. after a server restart): nothing duplicated.
    replay = callback_result(_tick(client, app, facility, store))
    ops = {(tuple(op["location"]), op["operation"]): op["params"]
           for op in replay["wall-chart.figure"]["operations"]}
    assert ops[(("data", 0, "y"), "Extend")]["value"] == [12.0]
    assert _tick(client, app, facility, new_store).status_code == 204


def test_wall_with_a_display_token_shows_only_its_facility(
    app, client, database_url, facility, live
):
    secret = other_facility(database_url, "Secret plant")
    write(database_url, secret, [(live["now"] - 5000, 7.77, 8.88)])
    with session_scope(database_url) as session:
        token = create_display_token(session, facility, "lobby")
        token_id = session.query(DisplayToken.id).scalar()
    assert client.get(f"/wall?token={token}").status_code == 200
    out = callback_result(_tick(client, app, None))
    assert out["wall-facility-name.children"] == "Test Facility"
    assert out["wall-production.children"] == "60.0 kW"
    # Asking for another facility still shows the token's own.
    forced = callback_result(_tick(client, app, secret,
                                   config={"facility": secret, "refresh_s": 10}))
    assert forced["wall-facility-name.children"] == "Test Facility"
    assert "Secret" not in json.dumps(forced)
    # The display session runs wall callbacks only.
    dash_cb = post_callback(client, app, "dashboard-production.children",
                            {FACILITY: facility})
    assert dash_cb.status_code == 401
    with session_scope(database_url) as session:
        assert revoke_display_token(session, facility, token_id)
    assert _tick(client, app, None).status_code == 401


def test_wall_query_parameters_are_bounded():
    assert wall_ui.refresh_seconds(None) == 10
    assert wall_ui.refresh_seconds("1") == 2
    assert wall_ui.refresh_seconds("30") == 30
    assert wall_ui.refresh_seconds("99999") == 300
    assert wall_ui.refresh_seconds("abc") == 10
    assert wall_ui.facility_param("3") == 3
    assert wall_ui.facility_param("-1") is None
    assert wall_ui.facility_param("x") is None
    assert wall_ui.facility_param("١") is None  # int() read it as 1
    assert wall_ui.facility_param("9" * 5000) is None  # int() raised
    assert wall_ui.facility_param("0") is None
    layout = wall_ui.layout(facility=3, refresh_s=wall_ui.refresh_seconds("5"))
    tree = json.loads(json.dumps(layout, cls=PlotlyJSONEncoder))
    interval = find(tree, "wall-interval")
    assert interval["props"]["interval"] == 5000
    assert find(tree, "wall-root")["props"]["data-bs-theme"] == "dark"
    light = json.loads(json.dumps(wall_ui.layout(theme="light"), cls=PlotlyJSONEncoder))
    assert find(light, "wall-root")["props"]["data-bs-theme"] == "light"
    assert find(light, "wall-config")["props"]["data"]["theme"] == "light"
