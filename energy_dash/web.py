"""Browser-facing server side: sign-in, the login gate, the session API (placeholder)."""


def init_app(app, settings) -> None:
    """Wire Flask-Login, the gate, the session API and security headers."""
