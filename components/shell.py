"""The page shell around ``dash.page_container`` (placeholder until the app issue)."""

import dash
from dash import dcc, html


def layout():
    return html.Div([dcc.Location(id="url"), dash.page_container])
