"""Layout of /wall: a dark, full-screen display readable across a room.

Every id starts with ``wall`` — the login gate lets a display-token session run
exactly those callbacks (see ``energy_dash.web.auth``).
"""

from __future__ import annotations

from typing import Any

from dash import dcc, html

from components import figures
from components import formatting as fmt
from components.dashboard import KIND_LABEL
from energy_dash.domain.validation import integer_id

DEFAULT_REFRESH_S = 10
MIN_REFRESH_S = 2
MAX_REFRESH_S = 300

INTERVAL = "wall-interval"
CONFIG = "wall-config"
STORE = "wall-store"
ROOT = "wall-root"
NAME = "wall-facility-name"
CLOCK = "wall-clock"
STALE = "wall-stale"
MESSAGE = "wall-message"
PRODUCTION = "wall-production"
CONSUMPTION = "wall-consumption"
TODAY = "wall-today"
TODAY_NOTE = "wall-today-note"
SELF_SUFFICIENCY = "wall-self-sufficiency"
VOLTAGE = "wall-voltage"
VOLTAGE_TILE = "wall-voltage-tile"
VOLTAGE_NOTE = "wall-voltage-note"
CONNECTION = "wall-connection"
CONNECTION_TILE = "wall-connection-tile"
CONNECTION_NOTE = "wall-connection-note"
CHART = "wall-chart"
TICKER = "wall-ticker"


def refresh_seconds(value: Any) -> int:
    """``?refresh=`` in seconds, bounded to 2–300; 10 when missing or malformed."""
    try:
        seconds = int(float(str(value).strip()))
    except (TypeError, ValueError, OverflowError):
        return DEFAULT_REFRESH_S
    return max(MIN_REFRESH_S, min(MAX_REFRESH_S, seconds))


def facility_param(value: Any) -> int | None:
    """``?facility=`` as a positive integer, else None (``int()`` also read
    "١" as 1, and raised on 5 000 digits)."""
    number = integer_id(value if isinstance(value, str) else None)
    return number if number is not None and number > 0 else None


def _tile(label: str, value_id: str, *, tile_id: str | None = None,
          note_id: str | None = None, note: str | None = None,
          extra: str = "") -> html.Div:
    parts = [
        html.Div(label, className="wall-tile-label"),
        html.Div(fmt.MISSING, id=value_id, className="wall-tile-value"),
    ]
    if note_id:
        parts.append(html.Div(id=note_id, className="wall-tile-note"))
    elif note:
        parts.append(html.Div(note, className="wall-tile-note"))
    props: dict[str, Any] = {"className": f"wall-tile {extra}".strip()}
    if tile_id:
        props["id"] = tile_id
    return html.Div(parts, **props)


def layout(*, facility: int | None = None, refresh_s: int = DEFAULT_REFRESH_S,
           theme: str = "dark") -> html.Div:
    """The wall; no I/O. ``facility``, ``refresh_s`` and ``theme`` (``dark`` unless
    ``?theme=light``) come from the query string."""
    light = theme == "light"
    return html.Div(
        [
            dcc.Interval(id=INTERVAL, interval=refresh_s * 1000, n_intervals=0),
            dcc.Store(id=CONFIG, data={"facility": facility, "refresh_s": refresh_s,
                                       "theme": "light" if light else "dark"}),
            dcc.Store(id=STORE, storage_type="memory"),
            html.Header(
                [
                    html.Div(id=NAME, className="wall-name"),
                    html.Div(
                        "data stale", id=STALE, className="wall-stale",
                        style={"display": "none"}, role="status",
                    ),
                    html.Div(id=CLOCK, className="wall-clock"),
                ],
                className="wall-header",
            ),
            html.Div(id=MESSAGE, className="wall-message"),
            html.Div(
                [
                    _tile("Producing now", PRODUCTION, extra="wall-tile-production"),
                    _tile("Consuming now", CONSUMPTION, extra="wall-tile-consumption"),
                    _tile("Produced today", TODAY, note_id=TODAY_NOTE),
                    _tile("Self-sufficiency", SELF_SUFFICIENCY, note="today"),
                    _tile("Voltage", VOLTAGE, tile_id=VOLTAGE_TILE,
                          note_id=VOLTAGE_NOTE, extra="wall-level-unknown"),
                    _tile("Sensor", CONNECTION, tile_id=CONNECTION_TILE,
                          note_id=CONNECTION_NOTE, extra="wall-level-unknown"),
                ],
                className="wall-tiles",
            ),
            html.Div(
                dcc.Graph(
                    id=CHART,
                    figure=figures.wall_figure(None, dark=not light),
                    config={"displayModeBar": False, "responsive": True},
                    className="wall-chart",
                    style={"height": "100%", "minHeight": "160px"},
                ),
                className="wall-chart-box",
            ),
            html.Div(html.Div(id=TICKER, className="wall-ticker-track"),
                     className="wall-ticker"),
        ],
        id=ROOT,
        className="wall wall-light" if light else "wall",
        **{"data-bs-theme": "light" if light else "dark"},
    )


def ticker_items(alerts: list[dict[str, Any]], tz: str) -> Any:
    """The ticker: open alerts first, then the last day's closed ones, as text."""
    if not alerts:
        return html.Span("No alerts in the last 24 hours", className="wall-ticker-ok")
    items = []
    for alert in alerts:
        level = alert.get("level") or "warning"
        ongoing = alert.get("ended_ms") is None
        when = ("since " + fmt.local_clock(alert.get("started_ms"), tz) if ongoing
                else "ended " + fmt.local_clock(alert.get("ended_ms"), tz))
        items.append(html.Span(
            [
                html.Strong(KIND_LABEL.get(alert.get("kind"), alert.get("kind"))),
                f" · {level} · {alert.get('message') or ''} · {when}",
            ],
            className=f"wall-ticker-item wall-level-{level}"
            + ("" if ongoing else " wall-ticker-closed"),
        ))
    return items
