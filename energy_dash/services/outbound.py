"""Outbound HTTP to user-chosen URLs (alert webhooks) without server-side forgery.

Any signed-in user may enter a webhook URL, and the server then POSTs to it: left
unchecked, that reaches ``127.0.0.1``, the LAN and cloud metadata services from
inside. So at send time the host is resolved once, **every** resolved address is
checked, and the connection goes to the checked address itself (the name is
never resolved again: no DNS rebinding); TLS still verifies the certificate for
the name. Redirects are not followed (a 3xx is a failed delivery).

What is allowed is the operator's choice, ``ENERGY_DASH_WEBHOOK_TARGETS``
(``Settings.webhook_targets``):

- ``public`` (default): global unicast addresses only;
- ``lan``: also private networks (10/8, 172.16/12, 192.168/16, 100.64/10,
  fc00::/7), e.g. ntfy on the home network;
- ``local``: also loopback (a receiver on the same host).

Link-local (169.254/16, fe80::/10, which holds the metadata services),
multicast, unspecified and reserved addresses are refused in every mode.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import logging
import socket
import ssl
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

logger = logging.getLogger(__name__)

TIMEOUT_S = 5
MODES = ("public", "lan", "local")
MAX_RESPONSE = 1024
METADATA = {ipaddress.ip_address("169.254.169.254"),
            ipaddress.ip_address("fd00:ec2::254")}
CGNAT = ipaddress.ip_network("100.64.0.0/10")

Resolver = Callable[[str, int], list[str]]
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class OutboundRefused(ValueError):
    """The URL or one of its addresses is not an allowed target; nothing was sent."""


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for ``host``."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


def address_kind(address: Address) -> str:
    """``public``, ``lan``, ``local`` or ``never`` for one resolved address."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if address in METADATA or address.is_link_local or address.is_multicast:
        return "never"
    if address.is_loopback:
        return "local"
    if address.is_unspecified or address.is_reserved:
        return "never"
    if address.is_private or address in CGNAT:
        return "lan"
    return "public" if address.is_global else "never"


def check_addresses(addresses: list[str], mode: str) -> list[Address]:
    """The addresses as IP objects, or :class:`OutboundRefused` if any is refused."""
    if mode not in MODES:
        raise ValueError(f"webhook targets must be one of {', '.join(MODES)}")
    allowed = set(MODES[: MODES.index(mode) + 1])
    checked = []
    for text in addresses:
        address = ipaddress.ip_address(text.split("%", 1)[0])
        kind = address_kind(address)
        if kind not in allowed:
            raise OutboundRefused(
                f"webhook host resolves to a {kind} address ({address}); "
                f"not allowed (ENERGY_DASH_WEBHOOK_TARGETS={mode})"
            )
        checked.append(address)
    if not checked:
        raise OutboundRefused("webhook host does not resolve")
    return checked


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout,
                         context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        raw = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)


def post_json(
    url: str,
    body: dict[str, Any],
    *,
    mode: str = "public",
    resolve: Resolver | None = None,
    timeout_s: float = TIMEOUT_S,
) -> int:
    """POST ``body`` as JSON to ``url`` if every address of its host is allowed.

    Returns the HTTP status (2xx); raises :class:`OutboundRefused` for a refused
    target, ``OSError`` for a failed or non-2xx delivery (redirects included).
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise OutboundRefused("webhook URL must be http:// or https:// with a host")
    if parts.username or parts.password:
        raise OutboundRefused("webhook URL must not carry a user name or password")
    host = parts.hostname
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        resolved = (resolve or system_resolver)(host, port)
    except (OSError, UnicodeError) as exc:
        raise OSError(f"webhook host does not resolve ({type(exc).__name__})") from None
    address = check_addresses(resolved, mode)[0]
    kind = _PinnedHTTPS if parts.scheme == "https" else _PinnedHTTP
    connection = kind(host, port, str(address), timeout_s)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request(
            "POST", path, body=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "User-Agent": "energy-dash"},
        )
        response = connection.getresponse()
        response.read(MAX_RESPONSE)
    except http.client.HTTPException as exc:
        raise OSError(f"webhook answered badly ({type(exc).__name__})") from None
    finally:
        connection.close()
    if not 200 <= response.status < 300:
        raise OSError(f"webhook answered HTTP {response.status} (redirects are not "
                      "followed)")
    return response.status


__all__ = [
    "MODES",
    "OutboundRefused",
    "address_kind",
    "check_addresses",
    "post_json",
    "system_resolver",
]
