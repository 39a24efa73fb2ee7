"""The WSGI application for production: ``gunicorn -w 4 energy_dash.wsgi:server``.

Settings come from the environment (README "Configuration"). The scheduler runs in every
worker (``ENERGY_DASH_SCHEDULER`` defaults to 1 here); each job takes a database
lease first, so across workers and hosts it still runs exactly once. Run
``energy-dash init-db`` once before starting the workers (migrations are not run
here, so several workers never race to migrate).
"""

from energy_dash.app import create_app
from energy_dash.config import Settings

app = create_app(Settings.from_env(scheduler_default=True))
server = app.server

__all__ = ["app", "server"]
