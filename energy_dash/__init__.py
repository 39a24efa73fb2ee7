"""Energy Dash: energy intelligence for homes and businesses.

Importing the package has no side effects: no server, no Dash app and no
scheduler start until ``energy_dash.app.create_app`` is called.
"""

__version__ = "0.1.0"
