"""Alert webhooks cannot reach the server's own network (blind SSRF).

Before, any self-registered user could point their webhook at
``http://127.0.0.1:…/internal-admin/…`` and the delivery job POSTed there.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from hostile_server import load_test_module

from energy_dash.jobs import deliver_alerts_now
from energy_dash.services.outbound import (
    OutboundRefused,
    address_kind,
    check_addresses,
    post_json,
)

notify_tests = load_test_module("services/test_notify.py")


class Internal(BaseHTTPRequestHandler):
    """An internal endpoint that must never be reached from a webhook."""

    hits: list[tuple[str, str | None]] = []
    status = 204

    def do_POST(self):  # noqa: N802 - http.server's naming
        self.rfile.read(int(self.headers["Content-Length"]))
        Internal.hits.append((self.path, self.headers.get("Host")))
        self.send_response(Internal.status)
        if Internal.status == 302:
            self.send_header("Location", "http://127.0.0.1:9/elsewhere")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def internal():
    Internal.hits = []
    Internal.status = 204
    server = HTTPServer(("127.0.0.1", 0), Internal)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_port
    server.shutdown()
    server.server_close()


def open_alert(settings, facility, webhook: str) -> None:
    url = settings.database_url
    notify_tests.add_member(url, facility, "mallory", None, {
        "facilities": [facility], "webhook": webhook,
        "levels": ["warning", "critical"],
    })
    notify_tests.volts(url, facility, "2025-06-01 10:00", [230.0, 255.0, 256.0])


T0 = datetime(2025, 6, 1, 10, 3, tzinfo=UTC)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_delivery_refuses_loopback_webhooks(
    settings, facility, internal, host, caplog
):
    open_alert(settings, facility, f"http://{host}:{internal}/internal-admin/reset")
    caplog.set_level(logging.WARNING, logger="energy_dash.services.notify")
    assert deliver_alerts_now(settings, T0) == []
    assert Internal.hits == []
    [warning] = [r.getMessage() for r in caplog.records
                 if r.name == "energy_dash.services.notify"]
    assert "loopback" in warning or "local address" in warning


def test_the_operator_may_allow_local_targets(settings, facility, internal):
    allowed = replace(settings, webhook_targets="local")
    open_alert(allowed, facility, f"http://localhost:{internal}/hook")
    sent = deliver_alerts_now(allowed, T0)
    assert [(s["channel"], s["event"]) for s in sent] == [("webhook", "opened")]
    assert Internal.hits == [("/hook", f"localhost:{internal}")]


def test_a_name_that_resolves_to_loopback_is_refused(internal):
    def resolver(host, port):
        assert host == "hooks.example.test"
        return ["127.0.0.1"]

    with pytest.raises(OutboundRefused, match="local address"):
        post_json(f"http://hooks.example.test:{internal}/x", {"a": 1},
                  resolve=resolver)
    assert Internal.hits == []


def test_every_resolved_address_is_checked(internal):
    with pytest.raises(OutboundRefused, match="local address"):
        post_json(f"http://mixed.example.test:{internal}/x", {},
                  resolve=lambda h, p: ["93.184.216.34", "127.0.0.1"])
    assert Internal.hits == []


def test_the_connection_is_pinned_to_the_checked_address(internal):
    """The name is resolved once; no second lookup can rebind it."""
    lookups = []

    def resolver(host, port):
        lookups.append(host)
        return ["127.0.0.1"]

    status = post_json(f"http://rebind.example.test:{internal}/pinned", {},
                       mode="local", resolve=resolver)
    assert status == 204
    assert lookups == ["rebind.example.test"]
    assert Internal.hits == [("/pinned", f"rebind.example.test:{internal}")]


def test_redirects_are_not_followed(internal):
    Internal.status = 302
    with pytest.raises(OSError, match="HTTP 302"):
        post_json(f"http://127.0.0.1:{internal}/r", {}, mode="local")
    assert Internal.hits == [("/r", f"127.0.0.1:{internal}")]


@pytest.mark.parametrize("address, kind", [
    ("127.0.0.1", "local"), ("::1", "local"), ("::ffff:127.0.0.1", "local"),
    ("10.1.2.3", "lan"), ("192.168.1.20", "lan"), ("172.16.0.1", "lan"),
    ("100.64.0.1", "lan"), ("fd12::1", "lan"),
    ("169.254.169.254", "never"), ("fe80::1", "never"), ("0.0.0.0", "never"),
    ("224.0.0.1", "never"), ("fd00:ec2::254", "never"),
    ("93.184.216.34", "public"), ("2606:4700::1111", "public"),
])
def test_address_kinds(address, kind):
    import ipaddress

    assert address_kind(ipaddress.ip_address(address)) == kind


def test_lan_mode_allows_the_home_network_but_never_metadata():
    assert [str(a) for a in check_addresses(["192.168.1.20"], "lan")] == [
        "192.168.1.20"]
    with pytest.raises(OutboundRefused):
        check_addresses(["192.168.1.20"], "public")
    with pytest.raises(OutboundRefused, match="never"):
        check_addresses(["169.254.169.254"], "local")
    with pytest.raises(OutboundRefused):
        check_addresses(["127.0.0.1"], "lan")


@pytest.mark.parametrize("url", [
    "http://2130706433/", "http://0x7f.1/", "http://[::ffff:127.0.0.1]/",
    "http://0.0.0.0/", "ftp://example.org/", "http://user:pw@example.org/",
])
def test_disguised_local_urls_are_refused(url):
    with pytest.raises(OutboundRefused):
        post_json(url, {})
