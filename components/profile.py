"""Layout builders of /profile: account, password, picture, theme, notifications."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from components import ids

LEVEL_OPTIONS = [
    {"label": "Warning", "value": "warning"},
    {"label": "Critical", "value": "critical"},
]
THEME_OPTIONS = [
    {"label": "Light", "value": "light"},
    {"label": "Dark", "value": "dark"},
]


def _card(title: str, body, cid: str | None = None) -> dbc.Card:
    kwargs = {"id": cid} if cid else {}
    return dbc.Card(
        [dbc.CardHeader(html.H2(title, className="h5 mb-0")), dbc.CardBody(body)],
        className="settings-section",
        **kwargs,
    )


def _input(cid: str, label: str, kind: str = "text", **extra) -> html.Div:
    return html.Div(
        [dbc.Label(label, html_for=cid), dbc.Input(id=cid, type=kind, **extra)],
        className="mb-3",
    )


def account_card() -> dbc.Card:
    return _card(
        "Account",
        [
            _input(
                ids.PROFILE_USERNAME, "Username", maxLength=64, autoComplete="username"
            ),
            _input(
                ids.PROFILE_EMAIL, "Email", "email", maxLength=254, autoComplete="email"
            ),
            html.Div(
                [
                    dbc.Button(
                        "Save", id=ids.PROFILE_SAVE, color="primary", n_clicks=0
                    ),
                    html.Div(id=ids.PROFILE_STATUS, className="ms-3 flex-grow-1"),
                ],
                className="d-flex align-items-center",
            ),
        ],
    )


def password_card() -> dbc.Card:
    return _card(
        "Password",
        [
            html.P(
                "Changing the password signs out every other session.",
                className="text-body-secondary small",
            ),
            _input(
                ids.PW_CURRENT,
                "Current password",
                "password",
                autoComplete="current-password",
            ),
            _input(ids.PW_NEW, "New password", "password", autoComplete="new-password"),
            _input(
                ids.PW_CONFIRM,
                "Repeat the new password",
                "password",
                autoComplete="new-password",
            ),
            html.Div(
                [
                    dbc.Button(
                        "Change password", id=ids.PW_SAVE, color="primary", n_clicks=0
                    ),
                    html.Div(id=ids.PW_STATUS, className="ms-3 flex-grow-1"),
                ],
                className="d-flex align-items-center",
            ),
        ],
    )


def avatar_card() -> dbc.Card:
    return _card(
        "Profile picture",
        dbc.Row(
            [
                dbc.Col(
                    html.Div(
                        [
                            html.Img(
                                id=ids.AVATAR_IMG,
                                className="avatar-large",
                                alt="Profile picture",
                                hidden=True,
                            ),
                            html.I(
                                className="bi bi-person-circle display-1 "
                                "text-body-secondary",
                                id="profile-avatar-none",
                            ),
                        ]
                    ),
                    width="auto",
                ),
                dbc.Col(
                    [
                        dcc.Upload(
                            id=ids.AVATAR_UPLOAD,
                            children=html.Div(
                                [
                                    html.I(className="bi bi-upload me-2"),
                                    "Drop a picture here or click to choose one",
                                ]
                            ),
                            accept="image/png,image/jpeg,image/webp",
                            multiple=False,
                            className="avatar-upload",
                        ),
                        html.Small(
                            "PNG, JPEG or WebP, at most 2 MB and 4096 × 4096 pixels.",
                            className="text-body-secondary",
                        ),
                        html.Div(id=ids.AVATAR_STATUS, className="mt-2"),
                    ]
                ),
            ],
            className="align-items-center",
        ),
    )


def theme_card() -> dbc.Card:
    return _card(
        "Appearance",
        [
            dbc.Label("Theme", html_for=ids.PROFILE_THEME),
            dbc.RadioItems(id=ids.PROFILE_THEME, options=THEME_OPTIONS, inline=True),
        ],
    )


def notifications_card() -> dbc.Card:
    return _card(
        "Notifications",
        [
            html.P(
                "Which alerts to send you, and where. Quiet hours are in each "
                "facility's local time.",
                className="text-body-secondary small",
            ),
            dbc.Label("Facilities"),
            dbc.Checklist(
                id=ids.NOTIFY_FACILITIES, options=[], value=[], className="mb-3"
            ),
            dbc.Label("Levels"),
            dbc.Checklist(
                id=ids.NOTIFY_LEVELS,
                options=LEVEL_OPTIONS,
                value=[],
                inline=True,
                className="mb-3",
            ),
            _input(
                ids.NOTIFY_EMAIL,
                "Email to notify (empty: none)",
                "email",
                maxLength=254,
            ),
            _input(
                ids.NOTIFY_WEBHOOK,
                "Webhook URL (empty: none)",
                "url",
                maxLength=500,
                placeholder="https://…",
            ),
            dbc.Row(
                [
                    dbc.Col(_input(ids.NOTIFY_QUIET_FROM, "Quiet from", "time"), md=3),
                    dbc.Col(_input(ids.NOTIFY_QUIET_TO, "Quiet until", "time"), md=3),
                ]
            ),
            html.Div(
                [
                    dbc.Button(
                        "Save notifications",
                        id=ids.NOTIFY_SAVE,
                        color="primary",
                        n_clicks=0,
                    ),
                    html.Div(id=ids.NOTIFY_STATUS, className="ms-3 flex-grow-1"),
                ],
                className="d-flex align-items-center",
            ),
        ],
    )


def layout() -> html.Div:
    return html.Div(
        [
            dcc.Store(id=ids.PROFILE_REFRESH, data=0),
            html.H1("Profile", className="h3 mb-3"),
            dbc.Row(
                [
                    dbc.Col([account_card(), avatar_card(), theme_card()], lg=6),
                    dbc.Col([password_card(), notifications_card()], lg=6),
                ]
            ),
        ],
        className="profile-page container-xl",
    )


def status(message: str, color: str = "success") -> dbc.Alert:
    return dbc.Alert(message, color=color, className="py-2 mb-0")
