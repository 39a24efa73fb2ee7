"""/settings: facility details, device keys, wall tokens and members."""

from zoneinfo import available_timezones

import dash

from components import settings

dash.register_page(
    __name__,
    path="/settings",
    title="Settings",
    name="Settings",
    nav_order=8,
    icon="bi-gear",
)

ZONES = sorted(available_timezones() | {"UTC"})


def layout(**_query):
    return settings.layout(ZONES)
