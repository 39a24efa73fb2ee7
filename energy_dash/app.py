"""The application factory: ``create_app(settings)``, the only place an app is built."""

from __future__ import annotations

import logging

import dash
from dash import Dash

from energy_dash.config import PROJECT_ROOT, ConfigError, Settings

logger = logging.getLogger(__name__)

PAGES_FOLDER = PROJECT_ROOT / "pages"
ASSETS_FOLDER = PROJECT_ROOT / "assets"


def _reset_page_registry() -> None:
    """The pages registry is global to the process; each new app starts clean.

    (Dash rebinds its pages CONFIG to each new app's config, so an earlier app in
    the same process keeps its own.)
    """
    dash.page_registry.clear()


def create_app(settings: Settings | None = None) -> Dash:
    """Build the Dash app, its server, the sensor API and (optionally) the scheduler."""
    settings = settings or Settings.from_env()
    settings.validate()
    refuse_demo_login(settings)
    _reset_page_registry()

    app = Dash(
        __name__,
        use_pages=True,
        pages_folder=str(PAGES_FOLDER),
        assets_folder=str(ASSETS_FOLDER),
        title="Energy Dash",
        suppress_callback_exceptions=True,
        serve_locally=True,
        external_stylesheets=[],
        meta_tags=[
            {"name": "viewport", "content": "width=device-width, initial-scale=1"}
        ],
    )
    server = app.server
    server.config.update(
        SECRET_KEY=settings.session_secret,
        ENERGY_DASH=settings,
        DATABASE_URL=settings.database_url,
        MAX_CONTENT_LENGTH=1024 * 1024 + 1024,
        TESTING=settings.testing,
    )

    from components import shell
    from energy_dash import web
    from ingest import api as ingest_api
    from ingest import influx

    app.layout = shell.layout

    ingest_api.init_app(server, settings)
    influx.init_app(server, settings.database_url)
    web.init_app(app, settings)

    import callbacks

    callbacks.register_all(app)

    if settings.scheduler:
        from energy_dash import jobs

        jobs.start(app, settings)
    logger.debug("app created (env=%s, db=%s)", settings.env, _safe_url(settings))
    return app


def refuse_demo_login(settings: Settings) -> None:
    """Production has no demo user: refuse to start while ``demo`` / ``password``
    signs in, as when a database seeded in development goes live. Beside
    :meth:`Settings.validate`, which cannot ask the database."""
    if not settings.production:
        return
    from energy_dash.demo.seed import DEMO_USER, demo_login_works

    if demo_login_works(settings.database_url):
        raise ConfigError(
            f"The demo user {DEMO_USER!r} must not keep the demo's well-known "
            f"password in production (energy-dash set-password {DEMO_USER})"
        )


def _safe_url(settings: Settings) -> str:
    from sqlalchemy.engine import make_url

    return make_url(settings.database_url).render_as_string(hide_password=True)


__all__ = ["create_app", "refuse_demo_login"]
