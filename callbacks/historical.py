"""Callbacks of /historical: the chosen range, its totals against the previous period
of equal length, charts at an automatic resolution, and the CSV download.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from dash import Dash, Input, Output, State, dcc
from dash.exceptions import PreventUpdate

from callbacks._common import (
    FORBIDDEN,
    NO_FACILITY,
    allowed_facility,
    database_url,
    notice,
)
from components import figures, ids
from components import historical as ui
from energy_dash.domain.validation import parse_day
from energy_dash.services import csv_format, history
from energy_dash.services import live as views
from energy_dash.services.costs import cost_of_range

PRESETS = {"7": 7, "30": 30, "90": 90}


class RangeError(ValueError):
    """A custom range that cannot be computed, with the sentence to show."""


def chosen_days(range_value: Any, start: Any, end: Any, today: date
                ) -> tuple[date, int]:
    """(first local day, number of days) of the chosen range, ending today for presets.

    A custom range covers whole local days from ``start`` to ``end`` inclusive,
    exactly as the two boxes show them. A missing, reversed or too long range
    raises :class:`RangeError` with the reason: it is said, never swapped or cut.
    """
    if range_value in PRESETS:
        days = PRESETS[range_value]
        return today - timedelta(days=days - 1), days
    first, last = parse_day(start), parse_day(end)
    if first is None or last is None:
        missing = "a start date" if first is None else "an end date"
        if first is None and last is None:
            missing = "a start and an end date"
        raise RangeError(f"Choose {missing} for the custom range.")
    if last < first:
        raise RangeError(
            f"The start date {first.isoformat()} is after the end date "
            f"{last.isoformat()}: choose an end on or after the start."
        )
    days = (last - first).days + 1
    if days > ui.MAX_CUSTOM_DAYS:
        raise RangeError(
            f"A custom range covers at most {ui.MAX_CUSTOM_DAYS} days "
            f"({days} chosen)."
        )
    return first, days


def data_note(daily, first: date, days: int) -> str | None:
    """Where readings begin (or end) inside the range, so empty days are explained."""
    if daily is None or daily.empty or "samples" not in daily:
        return None
    held = daily.index[daily["samples"].to_numpy() > 0]
    if len(held) == 0:
        return "No readings in this period."
    begins = held[0].date()
    if begins > first:
        return (f"Readings begin on {begins.isoformat()}: the "
                f"{(begins - first).days} days before hold no data.")
    return None


def period_label(first: date, days: int) -> str:
    last = first + timedelta(days=days - 1)
    if days == 1:
        return first.isoformat()
    return f"{first.isoformat()} – {last.isoformat()}"


OUTPUTS = [
    Output(ui.MESSAGE, "children"),
    Output(ui.DATA_NOTE, "children"),
    Output(ui.PERIOD, "children"),
    Output(ui.RESOLUTION, "children"),
    Output(ui.TOTALS, "children"),
    Output(ui.POWER_CHART, "figure"),
    Output(ui.DAILY_CHART, "figure"),
    Output(ui.TREND_CHART, "figure"),
    Output(ui.HEATMAP, "figure"),
]


def blank(message: Any) -> tuple:
    empty = figures.empty_figure("No data", uirevision="blank")
    return (message, None, "", "", "", empty, empty, empty, empty)


def historical_outputs(fid: int, range_value, start, end, url: str,
                       now: int | None = None) -> tuple:
    now = views.now_ms() if now is None else now
    facility = views.facility_view(fid, database_url=url)
    tz = facility.timezone
    try:
        first, days = chosen_days(range_value, start, end, views.local_today(now, tz))
    except RangeError as exc:
        return blank(notice(str(exc), "warning"))
    start_ms, end_ms = views.day_bounds(first, tz, days)
    previous_first = first - timedelta(days=days)
    previous_start = views.local_midnight_ms(previous_first, tz)
    rule = views.resolution_for(facility, start_ms, end_ms, database_url=url)
    daily = history.daily_energy(fid, first, days, database_url=url, facility=facility)
    if rule == "1D":  # long ranges: the daily frame already holds the sums
        power = history.daily_power(daily, facility, end_ms, now=now)
    else:
        power = views.power_series(fid, start_ms, end_ms, rule, now=now,
                                   database_url=url, facility=facility)
    comparison = history.period_comparison(fid, start_ms, end_ms, previous_start,
                                           database_url=url, now=now)
    heat = history.usage_heatmap(fid, start_ms, end_ms, database_url=url,
                               facility=facility)
    revision = f"historical-{fid}-{first.isoformat()}-{days}"
    costs = (
        cost_of_range(fid, start_ms, end_ms, database_url=url),
        cost_of_range(fid, previous_start, start_ms, database_url=url),
    )
    totals = ui.totals_table(
        comparison,
        current_label=period_label(first, days),
        previous_label=period_label(previous_first, days),
        costs=costs,
    )
    power_fig = figures.power_figure(power, uirevision=revision)
    if power_fig.get("data"):
        # The whole range, like the daily charts, even where data begins later.
        power_fig["layout"]["xaxis"]["range"] = figures.local_x([start_ms, end_ms], tz)
    return (
        None,
        data_note(daily, first, days),
        f"{period_label(first, days)} ({days} local days, {tz})",
        f"Resolution: {views.RESOLUTION_LABELS.get(rule, rule)}",
        totals,
        power_fig,
        figures.daily_energy_figure(daily, uirevision=revision),
        figures.self_sufficiency_figure(daily, uirevision=revision),
        figures.heatmap_figure(heat, uirevision=revision),
    )


def register(app: Dash) -> None:
    @app.callback(
        *OUTPUTS,
        Input(ids.FACILITY, "value"),
        Input(ui.RANGE, "value"),
        Input(ui.START, "date"),
        Input(ui.END, "date"),
    )
    def refresh_historical(facility_id, range_value, start, end):
        if facility_id is None:
            return blank(notice(NO_FACILITY))
        fid = allowed_facility(facility_id)
        if fid is None:
            return blank(notice(FORBIDDEN, "danger"))
        return historical_outputs(fid, range_value, start, end, database_url())

    @app.callback(
        Output(ui.DOWNLOAD, "data"),
        Input(ui.DOWNLOAD_BUTTON, "n_clicks"),
        State(ids.FACILITY, "value"),
        State(ui.RANGE, "value"),
        State(ui.START, "date"),
        State(ui.END, "date"),
        prevent_initial_call=True,
    )
    def download_csv(clicks, facility_id, range_value, start, end):
        if not clicks:
            raise PreventUpdate
        fid = allowed_facility(facility_id)
        if fid is None:
            raise PreventUpdate  # never another facility's data
        url = database_url()
        facility = views.facility_view(fid, database_url=url)
        try:
            first, days = chosen_days(
                range_value, start, end, views.local_today(None, facility.timezone)
            )
        except RangeError:
            raise PreventUpdate from None  # the page already says why
        start_ms, end_ms = views.day_bounds(first, facility.timezone, days)
        text = csv_format.export_csv(fid, start_ms, end_ms, database_url=url,
                                facility=facility)
        last = first + timedelta(days=days - 1)
        name = f"energy-dash-facility-{fid}-{first.isoformat()}-{last.isoformat()}.csv"
        return dcc.send_string(text, name, type="text/csv")

    # The date picker shows only for a custom range; it starts on the last 7 days.
    app.clientside_callback(
        """
        function(range, start, end) {
            var custom = range === "custom";
            var style = {"display": custom ? "flex" : "none"};
            if (!custom || (start && end)) {
                return [style, window.dash_clientside.no_update,
                        window.dash_clientside.no_update];
            }
            var day = 86400000, now = new Date();
            var iso = function(d) {
                var p = function(n) { return (n < 10 ? "0" : "") + n; };
                return d.getFullYear() + "-" + p(d.getMonth() + 1) + "-" +
                    p(d.getDate());
            };
            return [style, iso(new Date(now.getTime() - 6 * day)), iso(now)];
        }
        """,
        Output(ui.CUSTOM, "style"),
        Output(ui.START, "date"),
        Output(ui.END, "date"),
        Input(ui.RANGE, "value"),
        State(ui.START, "date"),
        State(ui.END, "date"),
    )

    # The URL carries the range (?range=30, ?range=custom&start=…&end=…) so a view
    # can be shared and reloaded. replaceState changes the address bar only: the
    # page is not rebuilt, so a half-typed range keeps its focus.
    app.clientside_callback(
        r"""
        function(range, start, end) {
            var q = new URLSearchParams(window.location.search);
            q.set("range", range || "7");
            if (range === "custom" && start) { q.set("start", start.slice(0, 10)); }
            else { q.delete("start"); }
            if (range === "custom" && end) { q.set("end", end.slice(0, 10)); }
            else { q.delete("end"); }
            var search = "?" + q.toString();
            if (window.location.pathname.replace(/\/+$/, "") === "/historical" &&
                    search !== window.location.search) {
                window.history.replaceState(window.history.state, "",
                    window.location.pathname + search + window.location.hash);
            }
            return search;
        }
        """,
        Output(ui.URL_SYNC, "children"),
        Input(ui.RANGE, "value"),
        Input(ui.START, "date"),
        Input(ui.END, "date"),
    )

