"""Public landing page."""

import dash
import dash_bootstrap_components as dbc
from dash import html

from components import ids

dash.register_page(__name__, path="/", title="Energy Dash", name="Home")

FEATURES = (
    (
        "bi-speedometer2",
        "Live dashboard",
        "Production, consumption, net import and power, updated as readings arrive.",
    ),
    (
        "bi-activity",
        "Voltage monitoring",
        "Warning and critical bands with hysteresis, and a history of every excursion.",
    ),
    (
        "bi-graph-up-arrow",
        "Forecasts",
        "Tomorrow's consumption and production, with honest backtest figures.",
    ),
    (
        "bi-display",
        "Wall display",
        "A read-only screen for the plant room, opened with a revocable token.",
    ),
)


def layout(**_query):
    return html.Div(
        [
            html.Section(
                [
                    html.Div(
                        [
                            html.I(
                                className="bi bi-lightning-charge-fill "
                                "text-warning display-4"
                            ),
                            html.H1("Energy Dash", className="display-5 fw-semibold"),
                        ],
                        className="d-flex align-items-center gap-3 mb-3",
                    ),
                    html.P(
                        "Open-source energy intelligence for homes and businesses: "
                        "sensor ingestion, live charts, voltage alerts and forecasts.",
                        className="lead mb-4",
                    ),
                    html.Div(
                        [
                            html.A(
                                "Sign in",
                                href="/login",
                                className="btn btn-primary btn-lg me-2",
                                id=ids.HOME_CTA,
                            ),
                            html.A(
                                "Create an account",
                                href="/register",
                                className="btn btn-outline-secondary btn-lg",
                            ),
                        ]
                    ),
                ],
                className="home-hero py-5",
            ),
            dbc.Row(
                [
                    dbc.Col(
                        html.Div(
                            [
                                html.I(className=f"bi {icon} fs-2 text-primary"),
                                html.H2(title, className="h5 mt-2"),
                                html.P(text, className="text-body-secondary mb-0"),
                            ],
                            className="p-3 h-100 border rounded-3",
                        ),
                        md=6,
                        lg=3,
                        className="mb-3",
                    )
                    for icon, title, text in FEATURES
                ]
            ),
        ],
        className="container home-page",
    )
