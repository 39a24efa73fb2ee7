"""Public landing page."""

import dash
from dash import html

dash.register_page(__name__, path="/", title="Energy Dash")


def layout(**_query):
    return html.Div([html.H1("Energy Dash")])
