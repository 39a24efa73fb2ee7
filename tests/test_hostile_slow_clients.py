"""Slow bodies cannot starve the server: a real socket attack on ``energy-dash serve``.

100 loopback connections send headers with ``Content-Length: 1000``, 8 bytes of
body, then one byte a second; meanwhile ``/healthz`` must answer within 1 s every
time. Bounded: 100 sockets, about 8 seconds, 127.0.0.1 only.
"""

from __future__ import annotations

import socket
import threading
import time

import pytest
import requests
from hostile_server import Server

SLOW_CLIENTS = 100
ATTACK_S = 8.0
HEAD = (
    "POST /api/hardware/data HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    "Content-Type: application/json\r\nX-API-Key: slow\r\n"
    "Content-Length: 1000\r\n\r\n"
)


def trickle(port: int, stop: threading.Event, opened: list) -> None:
    sockets = []
    try:
        for _ in range(SLOW_CLIENTS):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock.sendall(HEAD.encode() + b'{"energy')
            sockets.append(sock)
        opened.append(len(sockets))
        while not stop.wait(1.0):
            for sock in sockets:
                try:
                    sock.send(b" ")
                except OSError:
                    pass
    finally:
        for sock in sockets:
            sock.close()


@pytest.mark.parametrize("production", [True, False], ids=["production", "development"])
def test_healthz_answers_within_1s_under_100_slow_bodies(
    production, sqlite_url, tmp_path
):
    server = Server(sqlite_url, tmp_path, production=production).start()
    stop = threading.Event()
    opened: list[int] = []
    attacker = threading.Thread(target=trickle, args=(server.port, stop, opened))
    try:
        attacker.start()
        deadline = time.monotonic() + 10
        while not opened and time.monotonic() < deadline:
            time.sleep(0.05)
        assert opened == [SLOW_CLIENTS]
        latencies = []
        end = time.monotonic() + ATTACK_S
        while time.monotonic() < end:
            started = time.monotonic()
            response = requests.get(server.url + "/healthz", timeout=5)
            latencies.append(time.monotonic() - started)
            assert response.status_code == 200
            time.sleep(0.25)
        print(f"healthz under {SLOW_CLIENTS} slow bodies: "
              f"max {max(latencies) * 1000:.0f} ms over {len(latencies)} requests")
        assert max(latencies) < 1.0
    finally:
        stop.set()
        attacker.join(10)
        server.stop()
