"""The page shell around ``dash.page_container``: navbar, stores, theme.

``layout()`` runs on every ``/_dash-layout`` request and builds structure only;
the user's facilities, name and theme arrive through ``callbacks/shell.py``.
"""

from __future__ import annotations

import dash
from dash import dcc, html

from components import ids
from components.navbar import navbar


def layout() -> html.Div:
    return html.Div(
        [
            dcc.Location(id=ids.URL, refresh="callback-nav"),
            dcc.Store(id=ids.FACILITY_STORE, storage_type="local"),
            dcc.Store(id=ids.THEME_STORE, storage_type="local"),
            dcc.Store(id=ids.THEME_CHOICE, storage_type="memory"),
            dcc.Store(id=ids.THEME_SAVED, storage_type="memory"),
            dcc.Store(id=ids.PROFILE_STORE, storage_type="memory"),
            dcc.Store(id=ids.FACILITY_REFRESH, storage_type="memory", data=0),
            html.Div(id=ids.SHELL_DUMMY, hidden=True),
            navbar(dash.page_registry.values()),
            html.Main(dash.page_container, id=ids.MAIN, className="app-main"),
        ],
        className="app-shell",
    )
