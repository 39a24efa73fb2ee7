"""/forecast: the next 24 hours with intervals, yesterday's accuracy, profiles."""

import dash

from components import forecast

dash.register_page(
    __name__, path="/forecast", title="Forecast", name="Forecast", nav_order=4,
    icon="bi-graph-up-arrow",
)


def layout(**_query):
    return forecast.layout()
