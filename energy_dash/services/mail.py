"""Outgoing mail: ``.eml`` files in ``settings.mail_outbox`` or SMTP.

``ENERGY_DASH_MAIL_OUTBOX`` (development default ``instance/outbox``) makes every
message a file there instead of sending it; otherwise ``ENERGY_DASH_SMTP_URL``
(``smtp://user:pass@host:port`` with STARTTLS when offered, ``smtps://…`` for TLS
from the start) sends it. With neither, the message is dropped with a warning.
"""

from __future__ import annotations

import logging
import secrets
import smtplib
import ssl
import threading
import time
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from urllib.parse import unquote, urlsplit

logger = logging.getLogger(__name__)

DEFAULT_SENDER = "Energy Dash <no-reply@energy-dash.local>"


def build_message(
    to: str, subject: str, body: str, sender: str | None = None
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender or DEFAULT_SENDER
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="energy-dash.local")
    message.set_content(body)
    return message


def write_outbox(folder: str | Path, message: EmailMessage) -> Path:
    """Write ``message`` as an ``.eml`` file (unique, time-ordered name)."""
    directory = Path(folder)
    directory.mkdir(parents=True, exist_ok=True)
    name = f"{time.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(6)}.eml"
    path = directory / name
    path.write_bytes(bytes(message))
    return path


def send_smtp(url: str, message: EmailMessage, timeout: float = 20) -> None:
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    if parts.scheme == "smtps":
        client = smtplib.SMTP_SSL(
            host,
            parts.port or 465,
            timeout=timeout,
            context=ssl.create_default_context(),
        )
    elif parts.scheme == "smtp":
        client = smtplib.SMTP(host, parts.port or 25, timeout=timeout)
    else:
        raise ValueError("ENERGY_DASH_SMTP_URL must start with smtp:// or smtps://")
    with client:
        if parts.scheme == "smtp":
            client.ehlo()
            if client.has_extn("starttls"):
                client.starttls(context=ssl.create_default_context())
                client.ehlo()
        if parts.username:
            client.login(unquote(parts.username), unquote(parts.password or ""))
        client.send_message(message)


def send_mail(
    settings, to: str, subject: str, body: str, *, background: bool = True
) -> Path | None:
    """Deliver one plain-text message; returns the outbox file when one is written.

    SMTP delivery runs in a background thread by default so that a request's answer
    time does not depend on whether a message was sent (no account probing).
    """
    message = build_message(to, subject, body)
    if settings.mail_outbox:
        return write_outbox(settings.mail_outbox, message)
    if settings.smtp_url:

        def deliver():
            try:
                send_smtp(settings.smtp_url, message)
            except (OSError, smtplib.SMTPException, ValueError) as exc:
                logger.warning("mail to %s not sent: %s", _mask(to), exc)

        if background:
            threading.Thread(target=deliver, daemon=True).start()
        else:
            deliver()
        return None
    logger.warning(
        "no mail outbox or SMTP configured: message to %s dropped", _mask(to)
    )
    return None


def _mask(address: str) -> str:
    name, _, domain = (address or "").partition("@")
    return (name[:1] + "…@" + domain) if domain else "…"
