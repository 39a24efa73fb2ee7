"""/voltage: live voltage against the bands, phases, frequency, quality, alert log."""

import dash

from components import voltage

dash.register_page(
    __name__, path="/voltage", title="Voltage", name="Voltage", nav_order=3,
    icon="bi-lightning-charge",
)


def layout(**_query):
    return voltage.layout()
