"""Plotly figures as plain dicts: data in, figure out, no I/O.

Plain dicts (not ``go.Figure``) keep serialisation cheap and make ``Patch``
appends straightforward. X values are the facility's local wall-clock time
(``YYYY-MM-DD HH:MM:SS``) because Plotly has no notion of time zones. Every
figure sets ``uirevision`` so a user's zoom survives refreshes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from energy_dash.domain import units

PRODUCTION = "#2ca02c"
CONSUMPTION = "#ff7f0e"
NET = "#1f77b4"
VOLTAGE = "#1f77b4"
WARNING = "#f0ad4e"
CRITICAL = "#d9534f"
OK = "#5cb85c"
PHASES = ("#1f77b4", "#9467bd", "#8c564b")
MUTED = "#8a8f98"
GRID = "rgba(128,128,128,0.2)"
LOCAL_FORMAT = "%Y-%m-%d %H:%M:%S"
# Above the plot, left; the toolbar stands vertically at the right edge, so on a
# phone it can no longer cover the legend (Plotly's default puts it on top).
LEGEND = {"orientation": "h", "x": 0, "xanchor": "left", "y": 1.02,
          "yanchor": "bottom"}
MODEBAR = {"orientation": "v"}
LEGEND_MARGIN = 40  # bottom margin: tick labels


def scaled_values(frame: pd.DataFrame, columns: Sequence[str],
                  scale: tuple[tuple[str, float], ...]
                  ) -> tuple[str, list[list[float | None]]]:
    """(unit, values per column) in the unit the largest value asks for, so a
    facility of megawatts is drawn in MW and a house in kW or W."""
    every = np.concatenate([frame[c].to_numpy(dtype="float64") for c in columns])
    unit, size = units.axis_unit(every.tolist(), scale)
    return unit, [json_values(frame[c].to_numpy(dtype="float64") / size, 4)
                  for c in columns]


def nice_axis(values: Iterable[Any], *, include: Sequence[float] = (),
              max_ticks: int = 6) -> dict[str, Any]:
    """A y axis whose range and ticks are round numbers around ``values``."""
    finite = [float(v) for v in values if v is not None and not pd.isna(v)]
    finite += list(include)
    if not finite:
        return {}
    ticks = units.nice_ticks(min(finite), max(finite), max_ticks)
    return {"range": [ticks[0], ticks[-1]], "tickmode": "array", "tickvals": ticks}


def _base_layout(uirevision: str, *, ytitle: str = "", dark: bool = False,
                 height: int | None = None) -> dict[str, Any]:
    font = "#e9ecef" if dark else MUTED
    layout: dict[str, Any] = {
        "uirevision": uirevision,
        "margin": {"l": 56, "r": 36, "t": 32, "b": LEGEND_MARGIN},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "font": {"color": font},
        "hovermode": "x unified",
        "legend": dict(LEGEND),
        "modebar": dict(MODEBAR),
        # automargin: labels grow with the type on big screens, never clipped
        "xaxis": {"gridcolor": GRID, "zeroline": False, "automargin": True},
        "yaxis": {"gridcolor": GRID, "zeroline": False, "title": {"text": ytitle},
                  "automargin": True},
    }
    if height:
        layout["height"] = height
    return layout


def graph(graph_id: str, height: int, message: str = "Loading…") -> Any:
    """A chart of a page: ``height`` [px] on laptops, taller on big screens,
    the toolbar without Plotly's logo."""
    from dash import dcc

    return dcc.Graph(
        id=graph_id,
        figure=empty_figure(message, uirevision=graph_id),
        config={"displaylogo": False, "responsive": True},
        className="chart",
        # rem, so big screens (larger root type, pages.css) get taller charts;
        # the height must be in ``style``, or Dash's responsive graph uses 100 %.
        style={"height": f"{height / 16:g}rem"},
    )


def local_x(index: Any, tz: str | None = None) -> list[str]:
    """Local wall-clock strings for a tz-aware index (or epoch-ms values + ``tz``)."""
    if isinstance(index, pd.DatetimeIndex):
        stamps = index if tz is None else index.tz_convert(tz)
    else:
        values = np.asarray(list(index), dtype="int64")
        stamps = pd.DatetimeIndex(pd.to_datetime(values, unit="ms", utc=True))
        stamps = stamps.tz_convert(tz or "UTC")
    return list(stamps.strftime(LOCAL_FORMAT))


def json_values(series: Iterable[Any], digits: int = 3) -> list[float | None]:
    """JSON-safe floats (NaN → None), rounded to keep responses small."""
    out: list[float | None] = []
    for value in series:
        if value is None:
            out.append(None)
            continue
        number = float(value)
        out.append(None if math.isnan(number) else round(number, digits))
    return out


def empty_figure(message: str = "No readings yet", *, uirevision: str = "empty",
                 dark: bool = False) -> dict[str, Any]:
    """A blank chart that says why it is blank."""
    layout = _base_layout(uirevision, dark=dark)
    layout["xaxis"].update(visible=False)
    layout["yaxis"].update(visible=False)
    layout["annotations"] = [{
        "text": message, "showarrow": False, "xref": "paper", "yref": "paper",
        "x": 0.5, "y": 0.5, "font": {"size": 16},
    }]
    return {"data": [], "layout": layout}


def power_figure(frame: pd.DataFrame, *, uirevision: str, title: str = "",
                 dark: bool = False, height: int | None = None,
                 mode: str = "lines") -> dict[str, Any]:
    """Production vs consumption [kW] over time (frame from ``views.power_series``)."""
    if frame is None or frame.empty:
        return empty_figure(uirevision=uirevision, dark=dark)
    x = local_x(frame.index)
    unit, (production, consumption) = scaled_values(
        frame, ["production_kw", "consumption_kw"], units.POWER_UNITS
    )
    layout = _base_layout(uirevision, ytitle=unit, dark=dark, height=height)
    if title:
        layout["title"] = {"text": title, "x": 0, "font": {"size": 14}}
        layout["margin"]["t"] = 48
    hover = "%{y:.3~g} " + unit
    data = [
        {"type": "scatter", "mode": mode, "name": "Production", "x": x,
         "y": production, "line": {"color": PRODUCTION},
         "hovertemplate": hover},
        {"type": "scatter", "mode": mode, "name": "Consumption", "x": x,
         "y": consumption, "line": {"color": CONSUMPTION},
         "hovertemplate": hover},
    ]
    return {"data": data, "layout": layout}


def append_points(
    points: Sequence[tuple[int, float | None, float | None]], tz: str,
    unit_size: float = 1.0,
) -> tuple[list[str], list[float | None], list[float | None]]:
    """(x, production, consumption) lists for appending readings to a power chart
    drawn in units of ``unit_size`` kW."""
    x = local_x([p[0] for p in points], tz)

    def values(k: int) -> list[float | None]:
        return json_values((None if p[k] is None else p[k] / unit_size)
                           for p in points)

    return x, values(1), values(2)


def self_sufficiency_figure(daily: pd.DataFrame, *, uirevision: str,
                            dark: bool = False) -> dict[str, Any]:
    """Daily self-sufficiency [%] as bars, 0–100 (frame from ``views.daily_energy``)."""
    if daily is None or daily["self_sufficiency_pct"].isna().all():
        return empty_figure("No consumption in this period", uirevision=uirevision,
                            dark=dark)
    layout = _base_layout(uirevision, ytitle="%", dark=dark)
    layout["yaxis"]["range"] = [0, 100]
    layout["hovermode"] = "closest"
    data = [{
        "type": "bar", "name": "Self-sufficiency",
        "x": list(daily.index.strftime("%Y-%m-%d")),
        "y": json_values(daily["self_sufficiency_pct"], 1),
        "marker": {"color": PRODUCTION},
        "hovertemplate": "%{x}: %{y:.1f} %<extra></extra>",
    }]
    return {"data": data, "layout": layout}


def daily_energy_figure(daily: pd.DataFrame, *, uirevision: str,
                        dark: bool = False) -> dict[str, Any]:
    """kWh produced and consumed per local day, as grouped bars."""
    if daily is None or daily[["produced_kwh", "consumed_kwh"]].isna().all().all():
        return empty_figure(uirevision=uirevision, dark=dark)
    unit, (produced, consumed) = scaled_values(
        daily, ["produced_kwh", "consumed_kwh"], units.ENERGY_UNITS
    )
    layout = _base_layout(uirevision, ytitle=unit, dark=dark)
    layout["barmode"] = "group"
    x = list(daily.index.strftime("%Y-%m-%d"))
    hover = "%{y:.3~g} " + unit
    data = [
        {"type": "bar", "name": "Produced", "x": x,
         "y": produced, "marker": {"color": PRODUCTION},
         "hovertemplate": hover},
        {"type": "bar", "name": "Consumed", "x": x,
         "y": consumed, "marker": {"color": CONSUMPTION},
         "hovertemplate": hover},
    ]
    return {"data": data, "layout": layout}


def heatmap_figure(grid: pd.DataFrame, *, uirevision: str,
                   dark: bool = False) -> dict[str, Any]:
    """Average consumption [kW] by weekday × hour of day (local time)."""
    if grid is None or grid.isna().all().all():
        return empty_figure(uirevision=uirevision, dark=dark)
    layout = _base_layout(uirevision, dark=dark)
    layout["hovermode"] = "closest"
    layout["xaxis"].update(title={"text": "Hour of day (local)"}, dtick=2)
    layout["yaxis"].update(autorange="reversed", title={"text": ""})
    layout["margin"]["b"] = 48
    unit, size = units.axis_unit(grid.to_numpy().ravel().tolist(), units.POWER_UNITS)
    z = [[None if pd.isna(v) else round(float(v) / size, 4) for v in row]
         for row in grid.to_numpy()]
    data = [{
        "type": "heatmap", "z": z, "x": [int(h) for h in grid.columns],
        "y": list(grid.index), "colorscale": "YlOrRd", "reversescale": True,
        "colorbar": {"title": {"text": unit}},
        "hovertemplate": "%{y} %{x}:00 — %{z:.3~g} " + unit + "<extra></extra>",
    }]
    return {"data": data, "layout": layout}


def _band_shapes(bands: dict[str, float]) -> list[dict[str, Any]]:
    """Shaded critical/warning regions and dashed band edges (y in volts)."""
    def rect(y0, y1, color, opacity):
        return {"type": "rect", "xref": "paper", "x0": 0, "x1": 1, "yref": "y",
                "y0": y0, "y1": y1, "fillcolor": color, "opacity": opacity,
                "line": {"width": 0}, "layer": "below"}

    def line(y, color, dash):
        return {"type": "line", "xref": "paper", "x0": 0, "x1": 1, "yref": "y",
                "y0": y, "y1": y, "line": {"color": color, "width": 1, "dash": dash}}

    lo, hi = bands["critical_low"], bands["critical_high"]
    wlo, whi = bands["warning_low"], bands["warning_high"]
    span = hi - lo
    return [
        rect(lo - span, lo, CRITICAL, 0.12),
        rect(lo, wlo, WARNING, 0.12),
        rect(whi, hi, WARNING, 0.12),
        rect(hi, hi + span, CRITICAL, 0.12),
        line(bands["nominal"], MUTED, "dot"),
        line(wlo, WARNING, "dash"),
        line(whi, WARNING, "dash"),
        line(lo, CRITICAL, "dash"),
        line(hi, CRITICAL, "dash"),
    ]


def voltage_range(bands: dict[str, float], values: Iterable[Any] = ()) -> list[float]:
    """A y range showing all bands and every value."""
    finite = [float(v) for v in values if v is not None and not pd.isna(v)]
    span = bands["critical_high"] - bands["critical_low"]
    low = min([bands["critical_low"] - span * 0.15, *finite])
    high = max([bands["critical_high"] + span * 0.15, *finite])
    return [round(low, 1), round(high, 1)]


def voltage_figure(frame: pd.DataFrame, bands: dict[str, float], *, uirevision: str,
                   dark: bool = False, height: int | None = None) -> dict[str, Any]:
    """Voltage [V] over time against the facility's warning and critical bands."""
    layout = _base_layout(uirevision, ytitle="V", dark=dark, height=height)
    layout["shapes"] = _band_shapes(bands)
    if frame is None or frame.empty or frame["voltage"].isna().all():
        fig = empty_figure("No voltage readings in this period",
                           uirevision=uirevision, dark=dark)
        fig["layout"]["shapes"] = layout["shapes"]
        fig["layout"]["yaxis"] = {"visible": True, "title": {"text": "V"},
                                  "range": voltage_range(bands), "gridcolor": GRID}
        return fig
    layout["yaxis"]["range"] = voltage_range(bands, frame["voltage"])
    data = [{
        "type": "scatter", "mode": "lines", "name": "Voltage",
        "x": local_x(frame.index), "y": json_values(frame["voltage"], 2),
        "line": {"color": VOLTAGE}, "hovertemplate": "%{y:.1f} V",
    }]
    return {"data": data, "layout": layout}


def currents_figure(frame: pd.DataFrame, *, uirevision: str,
                    dark: bool = False) -> dict[str, Any]:
    """Phase currents [A] and their imbalance [%] (right axis)."""
    if frame is None or frame.empty or frame[
        ["current1", "current2", "current3"]
    ].isna().all().all():
        return empty_figure("No phase currents in this period",
                            uirevision=uirevision, dark=dark)
    x = local_x(frame.index)
    layout = _base_layout(uirevision, ytitle="A", dark=dark)
    layout["yaxis"].update(nice_axis(
        frame[["current1", "current2", "current3"]].to_numpy().ravel(), include=[0]
    ))
    layout["yaxis2"] = {"title": {"text": "imbalance %"}, "overlaying": "y",
                        "side": "right", "showgrid": False,
                        **nice_axis(frame["imbalance_pct"], include=[0])}
    layout["margin"]["r"] = 56
    data = [
        {"type": "scatter", "mode": "lines", "name": f"L{i + 1}", "x": x,
         "y": json_values(frame[f"current{i + 1}"], 2), "line": {"color": PHASES[i]},
         "hovertemplate": "%{y:.1f} A"}
        for i in range(3)
    ]
    data.append({
        "type": "scatter", "mode": "lines", "name": "Imbalance", "x": x,
        "y": json_values(frame["imbalance_pct"], 2), "yaxis": "y2",
        "line": {"color": MUTED, "dash": "dot"}, "hovertemplate": "%{y:.1f} %",
    })
    return {"data": data, "layout": layout}


def frequency_pf_figure(frame: pd.DataFrame, *, uirevision: str,
                        dark: bool = False) -> dict[str, Any]:
    """Frequency [Hz] (left axis) and power factor (right axis)."""
    if frame is None or frame.empty or frame[
        ["frequency", "power_factor"]
    ].isna().all().all():
        return empty_figure("No frequency or power factor in this period",
                            uirevision=uirevision, dark=dark)
    x = local_x(frame.index)
    layout = _base_layout(uirevision, ytitle="Hz", dark=dark)
    layout["yaxis"].update(nice_axis(frame["frequency"]))
    pf = frame["power_factor"].dropna()
    pf_axis = nice_axis(pf, include=[1.0] if len(pf) and pf.min() >= 0 else [])
    layout["yaxis2"] = {"title": {"text": "power factor"}, "overlaying": "y",
                        "side": "right", "showgrid": False, **pf_axis}
    layout["margin"]["r"] = 56
    data = [
        {"type": "scatter", "mode": "lines", "name": "Frequency", "x": x,
         "y": json_values(frame["frequency"], 3), "line": {"color": NET},
         "hovertemplate": "%{y:.2f} Hz"},
        {"type": "scatter", "mode": "lines", "name": "Power factor", "x": x,
         "y": json_values(frame["power_factor"], 3), "yaxis": "y2",
         "line": {"color": PRODUCTION}, "hovertemplate": "%{y:.2f}"},
    ]
    return {"data": data, "layout": layout}


def voltage_level(voltage: float | None, bands: dict[str, float]) -> str:
    """``ok``, ``warning``, ``critical``, ``outage`` or ``unknown`` for a voltage."""
    if voltage is None or pd.isna(voltage):
        return "unknown"
    v = float(voltage)
    if v < bands["outage_below"]:
        return "outage"
    if v < bands["critical_low"] or v > bands["critical_high"]:
        return "critical"
    if v < bands["warning_low"] or v > bands["warning_high"]:
        return "warning"
    return "ok"


LEVEL_COLORS = {"ok": OK, "warning": WARNING, "critical": CRITICAL,
                "outage": CRITICAL, "unknown": MUTED}


def voltage_gauge(voltage: float | None, bands: dict[str, float], *,
                  uirevision: str = "gauge", dark: bool = False) -> dict[str, Any]:
    """The latest voltage on a gauge whose steps are the facility's bands."""
    lo, hi = voltage_range(bands, [] if voltage is None else [voltage])
    level = voltage_level(voltage, bands)
    steps = [
        {"range": [lo, bands["critical_low"]], "color": "rgba(217,83,79,0.35)"},
        {"range": [bands["critical_low"], bands["warning_low"]],
         "color": "rgba(240,173,78,0.35)"},
        {"range": [bands["warning_low"], bands["warning_high"]],
         "color": "rgba(92,184,92,0.25)"},
        {"range": [bands["warning_high"], bands["critical_high"]],
         "color": "rgba(240,173,78,0.35)"},
        {"range": [bands["critical_high"], hi], "color": "rgba(217,83,79,0.35)"},
    ]
    indicator: dict[str, Any] = {
        "type": "indicator",
        "mode": "gauge+number",
        "number": {"suffix": " V", "valueformat": ".1f"},
        "gauge": {
            "axis": {"range": [lo, hi]},
            "bar": {"color": LEVEL_COLORS[level], "thickness": 0.3},
            "steps": steps,
            "threshold": {"line": {"color": MUTED, "width": 2}, "thickness": 0.8,
                          "value": bands["nominal"]},
        },
    }
    if voltage is not None and not pd.isna(voltage):
        indicator["value"] = round(float(voltage), 2)
    layout = _base_layout(uirevision, dark=dark)
    layout["margin"] = {"l": 24, "r": 24, "t": 24, "b": 8}
    layout.pop("xaxis")
    layout.pop("yaxis")
    return {"data": [indicator], "layout": layout}


def wall_figure(frame: pd.DataFrame, *, uirevision: str = "wall",
                start: str | None = None, end: str | None = None,
                dark: bool = True) -> dict[str, Any]:
    """The wall's 24-hour production vs consumption chart: large type, dark unless
    asked otherwise. Always has two traces (possibly empty) so readings can be
    appended; ``layout.meta.unit_size`` is the kW in one axis unit, for appends.
    ``assets/wall.js`` scales the type to the screen.
    """
    empty = frame is None or frame.empty
    if empty:
        unit, production, consumption = "kW", [], []
    else:
        unit, (production, consumption) = scaled_values(
            frame, ["production_kw", "consumption_kw"], units.POWER_UNITS
        )
    layout = _base_layout(uirevision, ytitle=unit, dark=dark)
    layout["font"]["size"] = 18
    layout["margin"] = {"l": 72, "r": 24, "t": 56, "b": 48}
    layout["legend"] = {"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0,
                        "font": {"size": 20}}
    layout["meta"] = {"unit_size": dict(units.POWER_UNITS)[unit]}
    layout["yaxis"]["rangemode"] = "tozero"
    if start and end:
        layout["xaxis"]["range"] = [start, end]
    x = [] if empty else local_x(frame.index)
    hover = "%{y:.3~g} " + unit
    data = [
        {"type": "scatter", "mode": "lines", "name": "Production", "x": x,
         "y": production, "line": {"color": PRODUCTION, "width": 3},
         "hovertemplate": hover},
        {"type": "scatter", "mode": "lines", "name": "Consumption", "x": list(x),
         "y": consumption, "line": {"color": CONSUMPTION, "width": 3},
         "hovertemplate": hover},
    ]
    return {"data": data, "layout": layout}
