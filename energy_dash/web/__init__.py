"""The browser-facing server side: sign-in pages (signin.py), the login gate
(gate.py, with the session state in auth.py), security headers (security.py),
the session API (session_api.py, predictions.py), avatars (avatars.py) and the
development-only debug endpoints (debug.py)."""

from __future__ import annotations

VENDOR_STYLESHEETS = (
    "/assets/vendor/bootstrap.min.css",
    "/assets/vendor/bootstrap-icons.min.css",
)
# A partial plotly.js (assets/vendor/plotly-bundle.md): dcc.Graph takes
# window.Plotly when it exists instead of loading the full 4.8 MB bundle.
VENDOR_SCRIPTS = ("/assets/vendor/plotly-energy-dash.min.js",)


def init_app(app, settings) -> None:
    """Wire Flask-Login, the gate, the sign-in pages, the session API and headers."""
    from energy_dash.web import (
        avatars,
        debug,
        gate,
        predictions,
        security,
        session_api,
        signin,
    )

    server = app.server
    # Bootstrap first, then our own assets (Dash would load assets/ top level first).
    app.config.external_stylesheets = list(VENDOR_STYLESHEETS)
    app.config.external_scripts = list(VENDOR_SCRIPTS)
    app.config.assets_path_ignore = ["vendor"]
    gate.init_auth(app, settings)
    modules = [signin, avatars, session_api]
    if not settings.production:
        # Not registered at all in production: the debug routes answer exactly as
        # an unknown path does, so nobody can tell they exist.
        modules.append(debug)
    for module in modules:
        server.register_blueprint(module.bp)
    predictions.init_app(server)
    security.init_security(app, settings)
