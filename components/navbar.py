"""The top navigation bar, built from ``dash.page_registry``.

A page appears in the navbar when it registers a ``nav_order`` (ascending) and
optionally an ``icon`` (a Bootstrap Icons class such as ``"bi-speedometer2"``):

    dash.register_page(__name__, path="/dashboard", title="Dashboard",
                       name="Dashboard", nav_order=1, icon="bi-speedometer2")
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import dash_bootstrap_components as dbc
from dash import dcc, html

from components import ids

# Pages where the navbar is hidden (public pages and the wall screen).
HIDDEN_ON = ("/", "/wall")


def nav_pages(registry: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Pages with a ``nav_order``, in that order: ``{name, path, icon, order}``."""
    items = []
    for page in registry:
        order = page.get("nav_order")
        if order is None:
            continue
        items.append(
            {
                "name": page.get("name") or page.get("title") or page["path"],
                "path": page.get("relative_path") or page["path"],
                "icon": page.get("icon") or "bi-circle",
                "order": order,
            }
        )
    return sorted(items, key=lambda item: (item["order"], item["name"]))


def nav_links(pages: list[dict[str, Any]]) -> dbc.Nav:
    return dbc.Nav(
        [
            dbc.NavItem(
                dbc.NavLink(
                    [
                        html.I(
                            className=f"bi {p['icon']} me-1", **{"aria-hidden": "true"}
                        ),
                        p["name"],
                    ],
                    href=p["path"],
                    active="exact",
                    id=f"nav-{p['path'].strip('/') or 'home'}",
                )
            )
            for p in pages
        ],
        id=ids.NAV_LINKS,
        navbar=True,
        class_name="me-auto",
    )


def facility_select() -> html.Div:
    return html.Div(
        dcc.Dropdown(
            id=ids.FACILITY,
            options=[],
            value=None,
            clearable=False,
            searchable=True,
            placeholder="No facility",
            className="facility-select",
        ),
        id=ids.FACILITY_WRAPPER,
        className="facility-select-wrapper me-lg-3 my-2 my-lg-0",
        title="Facility",
    )


def user_menu() -> dbc.DropdownMenu:
    return dbc.DropdownMenu(
        [
            dbc.DropdownMenuItem(
                [html.I(className="bi bi-person me-2"), "Profile"],
                href="/profile",
                id="menu-profile",
            ),
            dbc.DropdownMenuItem(
                [html.I(className="bi bi-gear me-2"), "Settings"],
                href="/settings",
                id="menu-settings",
            ),
            dbc.DropdownMenuItem(divider=True),
            dbc.DropdownMenuItem(
                [html.I(className="bi bi-box-arrow-right me-2"), "Sign out"],
                href="/logout",
                external_link=True,
                id="menu-logout",
            ),
        ],
        id=ids.USER_MENU,
        label="Account",
        nav=True,
        in_navbar=True,
        align_end=True,
    )


def navbar(registry: Iterable[Mapping[str, Any]]) -> dbc.Navbar:
    pages = nav_pages(registry)
    return dbc.Navbar(
        dbc.Container(
            [
                dcc.Link(
                    [
                        html.I(
                            className="bi bi-lightning-charge-fill text-warning me-2"
                        ),
                        "Energy Dash",
                    ],
                    href="/dashboard",
                    className="navbar-brand d-flex align-items-center",
                ),
                dbc.NavbarToggler(id=ids.NAVBAR_TOGGLER, n_clicks=0),
                dbc.Collapse(
                    [
                        nav_links(pages),
                        facility_select(),
                        html.Button(
                            html.I(className="bi bi-moon-stars", id=ids.THEME_ICON),
                            id=ids.THEME_TOGGLE,
                            n_clicks=0,
                            className="btn btn-outline-light btn-sm me-lg-2 my-2 "
                            "my-lg-0 theme-toggle",
                            title="Switch light/dark theme",
                            **{"aria-label": "Switch light/dark theme"},
                        ),
                        dbc.Nav([user_menu()], navbar=True),
                    ],
                    id=ids.NAVBAR_COLLAPSE,
                    is_open=False,
                    navbar=True,
                ),
            ],
            fluid=True,
        ),
        id=ids.NAVBAR,
        expand="lg",
        class_name="app-navbar border-bottom d-none",
    )
