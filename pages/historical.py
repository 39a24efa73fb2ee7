"""/historical: 7, 30, 90 days or a custom range; totals, charts, heatmap, CSV."""

import dash

from components import historical

dash.register_page(
    __name__, path="/historical", title="Historical", name="Historical",
    nav_order=2, icon="bi-calendar3",
)


def layout(**query):
    value = query.get("range")
    return historical.layout(
        value if value in {"7", "30", "90", "custom"} else "7",
        start=historical.day_param(query.get("start")),
        end=historical.day_param(query.get("end")),
    )
