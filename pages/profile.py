"""/profile: the signed-in user's account, password, picture and preferences."""

import dash

from components import profile

dash.register_page(
    __name__,
    path="/profile",
    title="Profile",
    name="Profile",
    nav_order=9,
    icon="bi-person",
)


def layout(**_query):
    return profile.layout()
