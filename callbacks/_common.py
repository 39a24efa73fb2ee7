"""What every page's callbacks share: the app's database, the facility gate, the
sentences a refused or empty page shows, and the live tick's preamble.

The preamble is one rule for every live page: one pooled connection for the
whole tick, a cheap signature first, and nothing sent (HTTP 204) when it has not
changed since the page's store saw it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dash_bootstrap_components as dbc
from dash.exceptions import PreventUpdate
from flask import current_app

from energy_dash.services import live as views
from energy_dash.web import auth, request_db

DAY_MS = 86_400_000
FUTURE_MS = 300_000  # devices may be up to 5 minutes ahead (README "Sensor API")

NO_FACILITY = "Select a facility (or ask a facility admin to add you to one)."
FORBIDDEN = "You do not have access to this facility."


def database_url() -> str:
    """The app's database (set by ``create_app``)."""
    return current_app.config["ENERGY_DASH"].database_url


def allowed_facility(value: Any) -> int | None:
    """The facility id when this session may read it, else None (never raises).

    A wall display session may read only its own facility.
    """
    if value is None:
        return None
    try:
        return auth.check_facility(value)
    except PermissionError:
        return None


def notice(text: str, color: str = "secondary") -> dbc.Alert:
    return dbc.Alert(text, color=color, className="py-2 small")


def live_tick(fid: int, seen: Any, render: Callable[..., tuple],
              refused: Callable[[], tuple]) -> tuple:
    """One live tick of facility ``fid``: ``render(fid, now, url, signature,
    conn=, seen=, facility=)`` on one connection, with the facility read once
    for the signature and every figure; ``refused()`` when the facility is gone,
    and :class:`PreventUpdate` when the store ``seen`` already holds this
    signature."""
    url = database_url()
    now = views.now_ms()
    with request_db.reading(url) as conn:
        facility = views.facility_view(fid, conn=conn)
        signature = None if facility is None else views.live_signature(
            fid, now=now, conn=conn, facility=facility)
        if signature is None:
            return refused()
        if isinstance(seen, dict) and seen.get("signature") == signature:
            raise PreventUpdate  # nothing new: HTTP 204, nothing redrawn
        return render(fid, now, url, signature, conn=conn, seen=seen,
                      facility=facility)
