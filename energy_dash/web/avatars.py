"""Profile pictures: checked and re-encoded on upload, served to signed-in users
only (``/avatars/<name>``)."""

from __future__ import annotations

import io
import re
import secrets
from pathlib import Path

from flask import Blueprint, abort, send_file
from flask_login import current_user

from energy_dash.web.replies import settings as _settings

bp = Blueprint("avatars", __name__)


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


AVATAR_NAME = re.compile(r"^[0-9a-f]{32}\.(png|webp)$")


def avatar_dir() -> Path:
    return Path(_settings().instance_dir) / "avatars"


@bp.get("/avatars/<name>")
def avatar(name: str):
    """A profile picture, to signed-in users only (the gate enforces sign-in)."""
    if not current_user.is_authenticated or not AVATAR_NAME.match(name):
        abort(404)
    path = avatar_dir() / name
    if not path.is_file():
        abort(404)
    mimetype = "image/png" if name.endswith(".png") else "image/webp"
    response = send_file(path, mimetype=mimetype, max_age=3600, conditional=True)
    response.headers["Cache-Control"] = "private, max-age=3600"
    response.headers["Content-Disposition"] = "inline"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
