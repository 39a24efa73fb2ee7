"""Security headers on every response and small cookie helpers.

The Content-Security-Policy allows scripts from this origin plus the exact hashes
of Dash's inline scripts (the renderer bootstrap and clientside callbacks, from
``Dash.csp_hashes``) — no ``'unsafe-inline'`` and no ``'unsafe-eval'`` for
scripts. Styles allow ``'unsafe-inline'`` because React and Plotly set inline
styles.
"""

from __future__ import annotations

from flask import Flask, Response, current_app, request

from energy_dash.domain.accounts import THEMES
from energy_dash.web.auth import SENSOR_API

THEME_COOKIE = "energy_dash_theme"


def set_theme_cookie(response: Response, theme: str | None,
                     secure: bool | None = None) -> None:
    """Remember the theme for server-rendered pages (not a secret, readable by JS).

    Secure in production like every other cookie (``secure=None`` reads it from
    the app's settings); ``assets/shell.js`` adds ``Secure`` on HTTPS pages too.
    """
    if theme in THEMES:
        if secure is None:
            settings = current_app.config.get("ENERGY_DASH")
            secure = bool(getattr(settings, "production", False))
        response.set_cookie(
            THEME_COOKIE, theme, max_age=365 * 86400, samesite="Lax", httponly=False,
            secure=secure,
        )


# Runs in <head> before anything renders: the stored theme (or the wall's dark
# default) is applied at once, so a dark page never flashes white.
THEME_BOOT_SCRIPT = (
    "(function(){try{var d=document.documentElement,t=null;"
    "try{t=JSON.parse(localStorage.getItem('theme-store'));}catch(e){}"
    "var p=location.pathname.replace(/\\/+$/,'')||'/';"
    "if(p==='/wall'){t=/(^|[?&])theme=light(&|$)/.test(location.search)"
    "?'light':'dark';}"
    "if(t==='dark'||t==='light'){d.setAttribute('data-bs-theme',t);}"
    "}catch(e){}})();"
)
INDEX_STRING = (
    """<!DOCTYPE html>
<html lang="en">
    <head>
        {%metas%}
        <title>{%title%}</title>
        {%favicon%}
        <script>"""
    + THEME_BOOT_SCRIPT
    + """</script>
        {%css%}
    </head>
    <body>
        {%app_entry%}
        <footer>
            {%config%}
            {%scripts%}
            {%renderer%}
        </footer>
    </body>
</html>"""
)


def script_hash(script: str) -> str:
    import base64
    import hashlib

    digest = hashlib.sha256(script.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode() + "'"


def content_security_policy(script_hashes: list[str]) -> str:
    scripts = " ".join(["'self'", *script_hashes])
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src {scripts}",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data: blob:",
            "font-src 'self' data:",
            "connect-src 'self'",
            "worker-src 'self' blob:",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


SENSOR_API_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}


def init_security(app, settings) -> None:
    """Add the security headers to every response of ``app.server``."""
    server: Flask = app.server
    app.index_string = INDEX_STRING
    boot_hash = script_hash(THEME_BOOT_SCRIPT)
    cache: dict[str, object] = {"count": -1, "policy": ""}

    def policy() -> str:
        # Dash adds clientside-callback scripts until its first request is served.
        count = len(app._inline_scripts) + _global_inline_count()
        if count != cache["count"]:
            cache["policy"] = content_security_policy([boot_hash, *app.csp_hashes()])
            cache["count"] = count
        return str(cache["policy"])

    @server.after_request
    def _headers(response: Response) -> Response:
        headers = response.headers
        if request.path.startswith(SENSOR_API):
            # JSON for devices: nothing renders it, so only the cheap essentials
            # on the hottest path (CSP and framing rules are for documents).
            headers.update(SENSOR_API_HEADERS)
            return response
        headers.setdefault("Content-Security-Policy", policy())
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        headers.setdefault(
            "Permissions-Policy", "camera=(), microphone=(), geolocation=()"
        )
        if settings.production:
            headers.setdefault(
                "Strict-Transport-Security", "max-age=31536000; includeSubDomains"
            )
        if response.mimetype == "text/html" or response.mimetype == "application/json":
            headers.setdefault("Cache-Control", "no-store")
        return response


def _global_inline_count() -> int:
    from dash import _callback

    return len(_callback.GLOBAL_INLINE_SCRIPTS)


# --------------------------------------------------------------------------- uploads
