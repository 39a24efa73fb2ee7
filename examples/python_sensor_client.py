#!/usr/bin/env python3
"""Energy Dash sensor client: post readings, buffer them while the server is away.

Two loops that never wait for each other. The sampler takes a reading on its own
clock, every ``--interval`` seconds whatever the network does, reports the energy
of the true time since its previous reading (never an assumed interval), and
appends it to a local NDJSON buffer (fsynced). The sender drains that buffer
through ``POST /api/hardware/data/bulk`` (at most 10 000 per request), oldest
first, and removes a reading only when the server has settled it: stored, a
duplicate, or rejected individually (a per-row 422 detail). Everything else
(server away, 5xx, 429, a refused request) stays in the buffer and is sent again;
the server stores each (device, timestamp) once, so sending twice is harmless.

Retries back off exponentially (1 s, 2 s, 4 s, … at most 60 s; ``Retry-After`` is
honoured on 429) in the sender only, so an outage never delays a measurement.
401 (bad key) and 403 (wrong facility) stop the client: retrying cannot fix them.

Usage::

    export ENERGY_DASH_URL=http://127.0.0.1:8050
    export ENERGY_DASH_API_KEY=ed_...          # energy-dash create-api-key --facility 1
    python examples/python_sensor_client.py --interval 60

Replace :func:`read_sensor` with the code that reads your meter. Needs only
``requests`` and the standard library.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import random
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

logger = logging.getLogger("energy_dash_sensor")

DEFAULT_BUFFER = Path("energy_dash_buffer.ndjson")
BULK_LIMIT = 10_000  # readings per bulk request (server limit)
RETRYABLE_STATUS = {429, 500, 502, 503, 504}


class ServerRefused(RuntimeError):
    """The server refused the key or facility (401/403): retrying will not help."""


def now_iso() -> str:
    """The current time as ISO 8601 UTC (what the server expects)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def read_sensor(interval_s: float = 60.0) -> dict[str, Any]:
    """One reading of the meter. REPLACE THIS with your hardware's values.

    Energies are kWh in the interval since the previous reading; ``current_load``
    is the share of the facility's capacity [%].
    """
    hour = datetime.now().hour + datetime.now().minute / 60
    sun = max(0.0, math.sin(math.pi * (hour - 6) / 12))
    produced_kw = 20 * sun * random.uniform(0.8, 1.0)
    consumed_kw = 8 + 6 * random.random()
    hours = interval_s / 3600
    voltage = random.gauss(230, 1.5)
    current = consumed_kw * 1000 / (voltage * 0.95)
    return {
        "timestamp": now_iso(),
        "energy_produced": round(produced_kw * hours, 5),
        "energy_consumed": round(consumed_kw * hours, 5),
        "current_load": round(consumed_kw / 50 * 100, 2),
        "voltage": round(voltage, 1),
        "current": round(current, 2),
        "current1": round(current * 0.35, 2),
        "current2": round(current * 0.33, 2),
        "current3": round(current * 0.32, 2),
        "frequency": round(random.gauss(50, 0.02), 3),
        "power_factor": round(random.uniform(0.93, 0.97), 3),
    }


class SensorClient:
    """Posts readings; buffers them on disk while the server is unreachable.

    Parameters
    ----------
    url : str
        Base URL of the Energy Dash server, e.g. ``http://127.0.0.1:8050``.
    api_key : str
        The device's API key (sent as ``X-API-Key``).
    buffer_path : path
        Append-only NDJSON file of readings waiting to be sent.
    retries : int
        Attempts per request before the server counts as unreachable.
    backoff, max_backoff : float
        First retry delay and its cap [s]; the delay doubles after each try.
    """

    def __init__(
        self,
        url: str,
        api_key: str,
        *,
        buffer_path: str | os.PathLike = DEFAULT_BUFFER,
        timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        sleep: Callable[[float], Any] = time.sleep,
        session: requests.Session | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.buffer_path = Path(buffer_path)
        self.timeout = timeout
        self.retries = max(1, retries)
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.sleep = sleep
        self.session = session or requests.Session()
        self.session.headers["X-API-Key"] = api_key
        self._lock = threading.Lock()  # the sampler appends while the sender drains

    # ---------------------------------------------------------------- HTTP
    def _post(self, path: str, **kwargs: Any) -> requests.Response | None:
        """POST with retries; None when the server stayed unreachable."""
        delay = self.backoff
        for attempt in range(1, self.retries + 1):
            try:
                response = self.session.post(
                    self.url + path, timeout=self.timeout, **kwargs
                )
            except requests.RequestException as exc:
                problem = f"{type(exc).__name__}: cannot reach {self.url}"
            else:
                if response.status_code in (401, 403):
                    raise ServerRefused(
                        f"{response.status_code} {_error(response)}: check the API key"
                    )
                if response.status_code not in RETRYABLE_STATUS:
                    return response
                problem = f"HTTP {response.status_code}"
                retry_after = response.headers.get("Retry-After", "")
                if retry_after.isdigit():
                    delay = max(delay, float(retry_after))
            if attempt == self.retries:
                logger.warning("%s %s: %s; giving up for now", "POST", path, problem)
                return None
            wait = min(delay, self.max_backoff)
            logger.warning("POST %s: %s; retrying in %g s", path, problem, wait)
            self.sleep(wait)
            delay = min(delay * 2, self.max_backoff)
        return None

    # -------------------------------------------------------------- buffer
    def buffer(self, reading: dict[str, Any]) -> None:
        """Append one reading to the NDJSON buffer (flushed to disk at once)."""
        self.buffer_path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, self.buffer_path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(reading, separators=(",", ":")) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def buffered(self) -> list[dict[str, Any]]:
        """Readings waiting in the buffer, oldest first (broken lines skipped)."""
        with self._lock:
            return self._read_buffer()

    def _read_buffer(self) -> list[dict[str, Any]]:
        if not self.buffer_path.exists():
            return []
        readings = []
        for line in self.buffer_path.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if not line:
                continue
            try:
                readings.append(json.loads(line))
            except ValueError:
                logger.warning("skipping a damaged buffer line")
        return readings

    def _drop_head(self, count: int) -> None:
        """Remove the ``count`` oldest readings, keeping any appended meanwhile."""
        with self._lock:
            rest = self._read_buffer()[count:]
            if not rest:
                self.buffer_path.unlink(missing_ok=True)
                return
            tmp = self.buffer_path.with_name(self.buffer_path.name + ".tmp")
            with tmp.open("w", encoding="utf-8") as handle:
                for reading in rest:
                    handle.write(json.dumps(reading, separators=(",", ":")) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.buffer_path)

    def flush(self) -> dict[str, int] | None:
        """Send the buffer through the bulk endpoint, oldest first.

        Returns the server's totals ``{"accepted", "duplicates", "rejected"}``
        (zeros when the buffer was empty), or None when the server did not settle
        everything (away, or refusing the request as a whole): what it did not
        settle stays in the buffer.
        """
        totals = {"accepted": 0, "duplicates": 0, "rejected": 0}
        size = BULK_LIMIT
        while True:
            chunk = self.buffered()[:size]
            if not chunk:
                return totals
            body = "".join(
                json.dumps(r, separators=(",", ":")) + "\n" for r in chunk
            ).encode("utf-8")
            response = self._post(
                "/api/hardware/data/bulk",
                data=body,
                headers={"Content-Type": "application/x-ndjson"},
            )
            if response is None:
                return None
            if response.status_code == 413 and size > 1:
                size = max(1, len(chunk) // 2)  # too large: try half as many
                continue
            if response.status_code != 200:
                logger.error("backfill refused (%s %s); %d readings kept",
                             response.status_code, _error(response), len(chunk))
                return None
            result = response.json()
            totals["accepted"] += int(result.get("accepted", 0))
            totals["duplicates"] += int(result.get("duplicates", 0))
            for item in result.get("rejected", []):
                totals["rejected"] += 1
                logger.error("buffered reading %s rejected: %s",
                             chunk[item.get("index", 0)].get("timestamp"),
                             item.get("details"))
            self._drop_head(len(chunk))  # every one of them is settled

    # ---------------------------------------------------------------- send
    def send(self, reading: dict[str, Any]) -> str:
        """Send one reading (stamped now when it has no timestamp).

        Returns ``"stored"``, ``"duplicate"``, ``"buffered"`` (server away; kept
        on disk for later) or ``"rejected"`` (the server refused it as invalid).
        """
        reading = dict(reading)
        reading.setdefault("timestamp", now_iso())
        if self.buffer_path.exists() and self.flush() is None:
            self.buffer(reading)  # still away: keep the order, queue behind the rest
            return "buffered"
        response = self._post("/api/hardware/data", json=reading)
        if response is None:
            self.buffer(reading)
            return "buffered"
        if response.status_code == 201:
            return "stored"
        if response.status_code == 200:
            return "duplicate"
        if response.status_code != 422:  # not refused for its values: keep it
            self.buffer(reading)
            return "buffered"
        logger.error("reading %s rejected: %s %s", reading["timestamp"],
                     response.status_code, _error(response))
        return "rejected"


class Sampler:
    """Takes a reading every ``interval_s`` on its own clock into the buffer.

    Each reading covers the true time since the previous one (monotonic clock),
    so a late tick (a slow sensor, a busy machine) under-reports nothing.
    """

    def __init__(self, client: SensorClient, interval_s: float,
                 read: Callable[[float], dict[str, Any]] | None = None) -> None:
        self.client = client
        self.interval_s = interval_s
        self.read = read or read_sensor
        self.taken = 0
        self.new_reading = threading.Event()

    def run(self, count: int | None, stop: threading.Event) -> None:
        last = time.monotonic()
        next_tick = last + self.interval_s
        while (count is None or self.taken < count) and not stop.is_set():
            if stop.wait(max(0.0, next_tick - time.monotonic())):
                return
            now = time.monotonic()
            reading = self.read(now - last)
            reading.setdefault("timestamp", now_iso())
            last = now
            self.client.buffer(reading)
            self.taken += 1
            self.new_reading.set()
            next_tick += self.interval_s
            if next_tick < now:  # fell behind: the next reading covers the gap
                next_tick = now + self.interval_s


def run(client: SensorClient, interval_s: float, count: int | None = None,
        read: Callable[[float], dict[str, Any]] | None = None,
        stop: threading.Event | None = None) -> int:
    """Sample on one thread and send on this one until ``count`` readings are
    taken and settled (or ``stop`` is set); returns the readings taken."""
    stop = stop or threading.Event()
    sampler = Sampler(client, interval_s, read)
    thread = threading.Thread(target=sampler.run, args=(count, stop), daemon=True)
    thread.start()
    delay = client.backoff
    try:
        while True:
            done = not thread.is_alive()
            if client.buffer_path.exists():
                totals = client.flush()
                if totals is None:  # not settled: back off (sampling goes on)
                    if stop.wait(min(delay, client.max_backoff)):
                        break
                    delay = min(delay * 2, client.max_backoff)
                    continue
                delay = client.backoff
                if totals["accepted"]:
                    logger.info("%d stored", totals["accepted"])
            elif done or stop.is_set():
                break
            sampler.new_reading.wait(interval_s)
            sampler.new_reading.clear()
    finally:
        stop.set()
        thread.join(interval_s + 5)
    return sampler.taken


def _error(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict):
        return json.dumps(body.get("details") or body.get("error") or body)[:300]
    return str(body)[:200]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("ENERGY_DASH_URL"),
                        help="server base URL (env ENERGY_DASH_URL)")
    parser.add_argument("--api-key", default=os.environ.get("ENERGY_DASH_API_KEY"),
                        help="device API key (env ENERGY_DASH_API_KEY)")
    parser.add_argument("--interval", type=float, default=60.0,
                        help="seconds between readings (default 60)")
    parser.add_argument("--count", type=int, default=None,
                        help="readings to take (default: run until interrupted)")
    parser.add_argument("--buffer", default=str(DEFAULT_BUFFER),
                        help=f"NDJSON buffer file (default {DEFAULT_BUFFER})")
    parser.add_argument("--retries", type=int, default=3,
                        help="attempts per request before buffering (default 3)")
    args = parser.parse_args(argv)
    if not args.url or not args.api_key:
        parser.error("--url and --api-key are required (or ENERGY_DASH_URL and "
                     "ENERGY_DASH_API_KEY)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    client = SensorClient(args.url, args.api_key, buffer_path=args.buffer,
                          retries=args.retries)
    try:
        run(client, args.interval, args.count)
    except ServerRefused as exc:
        logger.error("the server refused this device: %s", exc)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
