"""/wall: a full-screen live display (session or read-only display token)."""

import dash

from components import wall

dash.register_page(
    __name__, path="/wall", title="Wall display", name="Wall", nav_order=5,
    icon="bi-display",
)


def layout(facility=None, refresh=None, theme=None, **_query):
    return wall.layout(
        facility=wall.facility_param(facility),
        refresh_s=wall.refresh_seconds(refresh),
        theme="light" if theme == "light" else "dark",
    )
