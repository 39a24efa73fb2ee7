"""/dashboard: live KPIs, the last 24 hours, self-sufficiency trend, voltage, alerts."""

import dash

from components import dashboard

dash.register_page(
    __name__, path="/dashboard", title="Dashboard", name="Dashboard", nav_order=1,
    icon="bi-speedometer2",
)


def layout(**_query):
    return dashboard.layout()
