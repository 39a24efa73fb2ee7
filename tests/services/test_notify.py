"""Alert delivery through a local SMTP sink and a local webhook receiver."""

from __future__ import annotations

import json
import socketserver
import threading
from dataclasses import replace
from datetime import UTC, datetime
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, HTTPServer

import pandas as pd
import pytest

from energy_dash import data
from energy_dash.db import session_scope
from energy_dash.db.models import Membership, User
from energy_dash.jobs import deliver_alerts_now
from energy_dash.services.notify import NotifyPrefs


class SMTPSink(socketserver.ThreadingTCPServer):
    """The smallest SMTP server that smtplib will talk to; keeps every message."""

    allow_reuse_address = True
    daemon_threads = True

    def __init__(self):
        self.messages: list[bytes] = []
        super().__init__(("127.0.0.1", 0), SMTPHandler)


class SMTPHandler(socketserver.StreamRequestHandler):
    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        self.reply("220 sink ready")
        while line := self.rfile.readline():
            verb = line.decode(errors="replace").strip().upper()
            if verb.startswith(("EHLO", "HELO")):
                self.reply("250 sink")
            elif verb.startswith(("MAIL", "RCPT", "RSET", "NOOP")):
                self.reply("250 ok")
            elif verb == "DATA":
                self.reply("354 go on")
                body = b""
                while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                    body += chunk
                self.server.messages.append(body)
                self.reply("250 stored")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("502 no")


class Receiver(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self):  # noqa: N802 - http.server's naming
        length = int(self.headers["Content-Length"])
        Receiver.received.append(json.loads(self.rfile.read(length)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def smtp_sink():
    server = SMTPSink()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def webhook():
    Receiver.received = []
    server = HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/hook", Receiver.received
    server.shutdown()
    server.server_close()


def add_member(url, facility, name, email, prefs):
    with session_scope(url) as session:
        user = User(username=name, email=email, password_hash="x",
                    preferences={"notifications": prefs})
        session.add(user)
        session.flush()
        session.add(Membership(user_id=user.id, facility_id=facility, role="viewer"))


def volts(url, facility, start, values):
    frame = pd.DataFrame(
        {"energy_produced": 0.0, "energy_consumed": 0.1, "current_load": 10.0,
         "voltage": values},
        index=pd.date_range(start, periods=len(values), freq="1min", tz="UTC"),
    )
    data.write_readings(frame, facility, database_url=url)


def test_each_state_change_is_delivered_once(settings, facility, smtp_sink, webhook):
    url = settings.database_url
    settings = replace(settings, mail_outbox=None,
                       smtp_url=f"smtp://127.0.0.1:{smtp_sink.server_address[1]}")
    hook_url, received = webhook
    add_member(url, facility, "ops", "ops@example.org",
               {"facilities": [facility], "email": "ops@example.org",
                "webhook": hook_url, "levels": ["warning", "critical"]})
    add_member(url, facility, "boss", "boss@example.org",
               {"facilities": [facility], "email": "boss@example.org",
                "levels": ["critical"]})
    add_member(url, facility, "muted", "muted@example.org",
               {"facilities": [], "email": "muted@example.org",
                "levels": ["warning", "critical"]})

    volts(url, facility, "2025-06-01 10:00", [230.0, 255.0, 256.0])
    t0 = datetime(2025, 6, 1, 10, 3, tzinfo=UTC)
    sent = deliver_alerts_now(settings, t0)
    assert [(s["channel"], s["event"], s["level"]) for s in sent] == [
        ("email", "opened", "warning"), ("webhook", "opened", "warning"),
    ]
    assert deliver_alerts_now(settings, t0) == []  # no storm on the next run

    volts(url, facility, "2025-06-01 10:03", [270.0, 268.0])
    sent = deliver_alerts_now(settings, t0.replace(minute=5))
    assert sorted((s["channel"], s["to"], s["event"]) for s in sent if
                  s["channel"] == "email") == [
        ("email", "boss@example.org", "escalated"),
        ("email", "ops@example.org", "escalated"),
    ]
    volts(url, facility, "2025-06-01 10:05", [230.0])
    sent = deliver_alerts_now(settings, t0.replace(minute=7))
    assert {s["event"] for s in sent} == {"resolved"}
    assert deliver_alerts_now(settings, t0.replace(minute=8)) == []

    mails = [message_from_bytes(m) for m in smtp_sink.messages]
    # ops: opened, escalated, resolved; boss (critical only): escalated, resolved
    assert sorted(m["To"] for m in mails) == ["boss@example.org"] * 2 + [
        "ops@example.org"] * 3
    assert mails[0]["Subject"] == "High voltage at Test Facility"
    assert [r["event"] for r in received] == ["opened", "escalated", "resolved"]
    assert received[0]["text"].startswith("[Test Facility] High voltage (warning)")
    assert received[-1]["extreme_value"] == 270.0


def test_quiet_hours_hold_warnings_not_critical(settings, facility, webhook):
    url = settings.database_url
    hook_url, received = webhook
    # Berlin 23:00 local (21:00 UTC) is inside quiet hours 22–07
    add_member(url, facility, "sleepy", None,
               {"facilities": [facility], "levels": ["warning", "critical"],
                "webhook": hook_url, "quiet_hours": {"from": "22:00", "to": "07:00"}})
    volts(url, facility, "2025-06-01 21:00", [255.0])
    assert deliver_alerts_now(settings, datetime(2025, 6, 1, 21, 1, tzinfo=UTC)) == []
    volts(url, facility, "2025-06-01 21:01", [0.0])
    sent = deliver_alerts_now(settings, datetime(2025, 6, 1, 21, 2, tzinfo=UTC))
    assert [(s["kind"], s["event"]) for s in sent] == [("outage", "opened")]
    assert [r["kind"] for r in received] == ["outage"]


def test_old_alerts_are_not_announced(settings, facility, webhook):
    hook_url, received = webhook
    add_member(settings.database_url, facility, "late", None,
               {"facilities": [facility], "levels": ["warning"], "webhook": hook_url})
    volts(settings.database_url, facility, "2025-06-01 10:00", [255.0, 230.0])
    assert deliver_alerts_now(settings, datetime(2025, 6, 2, tzinfo=UTC)) == []
    assert received == []


def test_preferences_parse_defensively():
    prefs = NotifyPrefs.of({"notifications": {"levels": ["critical", "bogus"],
                                              "facilities": ["2", "x"],
                                              "quiet_hours": {"from": "x"}}})
    assert prefs.levels == ("critical",) and prefs.facilities == (2,)
    assert prefs.quiet_from is None and not prefs.wants(2, "critical")  # no channel
    night = NotifyPrefs(quiet_from=22 * 60 + 30, quiet_to=7 * 60)
    assert night.quiet_at(datetime(2025, 1, 1, 23, 0))
    assert night.quiet_at(datetime(2025, 1, 1, 6, 59))
    assert not night.quiet_at(datetime(2025, 1, 1, 22, 29))
    assert not NotifyPrefs().wants(1, "warning")  # nothing chosen: nothing sent
