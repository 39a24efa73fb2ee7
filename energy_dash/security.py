"""Security headers on every response and small cookie helpers.

The Content-Security-Policy allows scripts from this origin plus the exact hashes
of Dash's inline scripts (the renderer bootstrap and clientside callbacks, from
``Dash.csp_hashes``) — no ``'unsafe-inline'`` and no ``'unsafe-eval'`` for
scripts. Styles allow ``'unsafe-inline'`` because React and Plotly set inline
styles.
"""

from __future__ import annotations

from flask import Flask, Response, request

from energy_dash.auth import SENSOR_API

THEME_COOKIE = "energy_dash_theme"
THEMES = ("light", "dark")


def set_theme_cookie(response: Response, theme: str | None) -> None:
    """Remember the theme for server-rendered pages (not a secret, readable by JS)."""
    if theme in THEMES:
        response.set_cookie(
            THEME_COOKIE, theme, max_age=365 * 86400, samesite="Lax", httponly=False
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

AVATAR_MAX_BYTES = 2 * 1024 * 1024
AVATAR_MAX_SIDE = 4096
AVATAR_OUTPUT_SIDE = 512
AVATAR_FORMATS = ("PNG", "JPEG", "WEBP")


class ImageRejected(ValueError):
    """An upload that is not an acceptable picture; the message is for the user."""


def normalize_avatar(data: bytes) -> bytes:
    """Check an uploaded picture by its content and re-encode it as a fresh PNG.

    Only PNG, JPEG and WebP as decoded by Pillow are accepted (the file name and
    declared type are ignored), at most 2 MB and 4096 × 4096 pixels. The output is
    a new PNG of at most 512 × 512 pixels built from the decoded pixels alone, so
    anything hidden around the image data (trailing HTML, metadata) is dropped.
    """
    import io

    from PIL import Image, ImageOps, UnidentifiedImageError

    if not data:
        raise ImageRejected("The file is empty.")
    if len(data) > AVATAR_MAX_BYTES:
        raise ImageRejected("The picture must be at most 2 MB.")
    try:
        with Image.open(io.BytesIO(data), formats=list(AVATAR_FORMATS)) as image:
            if image.format not in AVATAR_FORMATS:
                raise ImageRejected("Upload a PNG, JPEG or WebP picture.")
            width, height = image.size
            if width < 1 or height < 1:
                raise ImageRejected("The picture has no pixels.")
            if width > AVATAR_MAX_SIDE or height > AVATAR_MAX_SIDE:
                raise ImageRejected(
                    f"The picture must be at most {AVATAR_MAX_SIDE} × "
                    f"{AVATAR_MAX_SIDE} pixels."
                )
            image.seek(0)
            image.load()
            picture = ImageOps.exif_transpose(image)
            has_alpha = picture.mode in ("RGBA", "LA", "PA") or (
                picture.mode == "P" and "transparency" in picture.info
            )
            picture = picture.convert("RGBA" if has_alpha else "RGB")
            picture.thumbnail((AVATAR_OUTPUT_SIDE, AVATAR_OUTPUT_SIDE))
            out = io.BytesIO()
            picture.save(out, format="PNG", optimize=True)
            return out.getvalue()
    except ImageRejected:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError):
        raise ImageRejected("Upload a PNG, JPEG or WebP picture.") from None
    except (OSError, ValueError, SyntaxError, EOFError):
        raise ImageRejected("The picture could not be read (damaged?).") from None


def save_avatar_file(directory, png: bytes) -> str:
    """Write a normalised picture under a random name; returns the name."""
    import secrets
    from pathlib import Path

    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    name = secrets.token_hex(16) + ".png"
    (folder / name).write_bytes(png)
    return name


def delete_avatar_file(directory, name: str | None) -> None:
    import re
    from pathlib import Path

    if name and re.fullmatch(r"[0-9a-f]{32}\.(png|webp)", name):
        (Path(directory) / name).unlink(missing_ok=True)
