#!/usr/bin/env python3
"""Energy Dash sensor client: post readings, buffer them while the server is away.

Every reading is stamped when it is measured and posted to
``POST /api/hardware/data``. When the server cannot be reached (network down,
server restarting, 5xx, 429 after retries), the reading is appended to a local
NDJSON file instead. As soon as the server answers again, the buffered readings
are sent first, in order, through ``POST /api/hardware/data/bulk`` (at most
10 000 per request) and removed from the file once the server has confirmed
them. The server stores each (device, timestamp) once, so sending a buffered
reading twice (e.g. after a crash between "sent" and "removed") is harmless.

Requests are retried with exponential backoff (1 s, 2 s, 4 s, … at most 60 s;
``Retry-After`` is honoured on 429). Answers that retrying cannot fix (401 bad
key, 403 wrong facility, 422 invalid reading) are reported and not buffered.

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
        with self.buffer_path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(reading, separators=(",", ":")) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def buffered(self) -> list[dict[str, Any]]:
        """Readings waiting in the buffer, oldest first (broken lines skipped)."""
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

    def _keep_only(self, readings: list[dict[str, Any]]) -> None:
        """Atomically replace the buffer with ``readings`` (removing it if empty)."""
        if not readings:
            self.buffer_path.unlink(missing_ok=True)
            return
        tmp = self.buffer_path.with_name(self.buffer_path.name + ".tmp")
        with tmp.open("w", encoding="utf-8") as handle:
            for reading in readings:
                handle.write(json.dumps(reading, separators=(",", ":")) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.buffer_path)

    def flush(self) -> dict[str, int] | None:
        """Backfill the buffer through the bulk endpoint.

        Returns the server's totals ``{"accepted", "duplicates", "rejected"}``
        (zeros when the buffer was empty), or None when the server is still
        unreachable (the buffer is kept).
        """
        pending = self.buffered()
        totals = {"accepted": 0, "duplicates": 0, "rejected": 0}
        while pending:
            chunk = pending[:BULK_LIMIT]
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
            if response.status_code != 200:
                # 400/413/415: this chunk can never be accepted as it is.
                logger.error("backfill refused (%s %s); dropping %d readings",
                             response.status_code, _error(response), len(chunk))
                totals["rejected"] += len(chunk)
            else:
                result = response.json()
                totals["accepted"] += int(result.get("accepted", 0))
                totals["duplicates"] += int(result.get("duplicates", 0))
                for item in result.get("rejected", []):
                    totals["rejected"] += 1
                    logger.error("buffered reading %s rejected: %s",
                                 chunk[item.get("index", 0)].get("timestamp"),
                                 item.get("details"))
            pending = pending[len(chunk):]
            self._keep_only(pending)
        return totals

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
        logger.error("reading %s rejected: %s %s", reading["timestamp"],
                     response.status_code, _error(response))
        return "rejected"


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
    taken = 0
    try:
        while args.count is None or taken < args.count:
            started = time.monotonic()
            reading = read_sensor(args.interval)
            outcome = client.send(reading)
            taken += 1
            logger.info("%s %s", reading["timestamp"], outcome)
            if args.count is not None and taken >= args.count:
                break
            time.sleep(max(0.0, args.interval - (time.monotonic() - started)))
    except ServerRefused as exc:
        logger.error("the server refused this device: %s", exc)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
