"""The simulated sensor's HTTP side (``energy-dash simulate`` and the demo's
background sender): posts the readings of :mod:`energy_dash.demo.site` to
``POST /api/hardware/data`` (and history to the bulk endpoint) with retries and
exponential backoff, so the live series continues the demo history seamlessly.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any
from zoneinfo import ZoneInfo

from energy_dash.demo.site import (
    SiteModel,
    frame_records,
    history,
    reading_at,
)

logger = logging.getLogger(__name__)

# -------------------------------------------------------------------- HTTP client
class SimulatorError(RuntimeError):
    """The server refused the simulator for good (bad key, wrong facility)."""


def _base_url(url: str) -> str:
    url = url.strip().rstrip("/")
    for suffix in ("/api/hardware/data/bulk", "/api/hardware/data"):
        if url.endswith(suffix):
            return url[: -len(suffix)]
    return url


def _describe(exc: Exception) -> str:
    import requests

    if isinstance(exc, requests.ConnectionError):
        text = str(exc)
        if "refused" in text.lower():
            return "connection refused"
        if "name or service not known" in text.lower() or "resolve" in text.lower():
            return "host name not found"
        return "cannot connect"
    if isinstance(exc, requests.Timeout):
        return "timed out"
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _error_text(response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text.strip().splitlines()[0][:200] if response.text else ""
    if isinstance(body, dict):
        if body.get("details"):
            parts = [
                f"{d.get('field', '')} {d.get('message', '')}".strip()
                for d in body["details"][:3]
            ]
            return f"{body.get('error', '')}: {'; '.join(parts)}"
        return str(body.get("error", body))[:200]
    return str(body)[:200]


@dataclass
class Sender:
    """Posts to the sensor API with retries and exponential backoff.

    Network errors, 429 (honouring ``Retry-After``) and 5xx are retried up to
    ``attempts`` times, waiting ``backoff``, 2·``backoff``, … (at most
    ``max_backoff``) seconds. Other 4xx answers are final.
    """

    url: str
    api_key: str
    echo: Callable[[str], None] = print
    attempts: int = 5
    backoff: float = 1.0
    max_backoff: float = 60.0
    timeout: float = 10.0
    sleep: Callable[[float], Any] = time.sleep
    stop: threading.Event | None = None

    def __post_init__(self) -> None:
        import requests

        self.url = _base_url(self.url)
        self.session = requests.Session()
        self.session.headers["X-API-Key"] = self.api_key
        self.session.headers["User-Agent"] = "energy-dash-simulator"

    def _wait(self, seconds: float) -> bool:
        """Sleep; False when asked to stop meanwhile."""
        if self.stop is not None:
            return not self.stop.wait(seconds)
        self.sleep(seconds)
        return True

    def request(self, method: str, path: str, **kwargs):
        """The final response, or None when every attempt failed on the network."""
        import requests

        delay = self.backoff
        for attempt in range(1, self.attempts + 1):
            last = attempt == self.attempts
            try:
                response = self.session.request(
                    method, self.url + path, timeout=self.timeout, **kwargs
                )
            except requests.RequestException as exc:
                problem = _describe(exc)
                response = None
            else:
                if response.status_code == 429:
                    problem = "rate limited (429)"
                    retry_after = response.headers.get("Retry-After", "")
                    if retry_after.isdigit():
                        delay = max(delay, float(retry_after))
                elif response.status_code >= 500:
                    problem = f"server error ({response.status_code})"
                else:
                    return response
            if last:
                self.echo(f"{method} {self.url}{path}: {problem}; giving up")
                return response
            wait = min(delay, self.max_backoff)
            self.echo(f"{method} {self.url}{path}: {problem}; retrying in {wait:g} s")
            if not self._wait(wait):
                return response
            delay = min(delay * 2, self.max_backoff)
        return None  # pragma: no cover - the loop always returns

    def config(self) -> dict[str, Any] | None:
        """``GET /api/hardware/config`` (best effort, no retries)."""
        import requests

        try:
            response = self.session.get(
                self.url + "/api/hardware/config", timeout=self.timeout
            )
        except requests.RequestException:
            return None
        if response.status_code != 200:
            return None
        try:
            body = response.json()
        except ValueError:
            return None
        return body if isinstance(body, dict) else None


def model_from_config(config: dict[str, Any] | None, base: SiteModel) -> SiteModel:
    """Adapt the model to the facility's own settings when the server told us them."""
    if not config:
        return base
    changes: dict[str, Any] = {}
    zone = config.get("timezone")
    if isinstance(zone, str):
        try:
            ZoneInfo(zone)
            changes["timezone"] = zone
        except (KeyError, ValueError):
            pass
    for key in ("nominal_voltage", "capacity_kw"):
        value = config.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
            changes[key] = float(value)
    return replace(base, **changes) if changes else base


def _check_final(response, what: str) -> None:
    if response is not None and response.status_code in (401, 403):
        raise SimulatorError(
            f"the server refused {what} ({response.status_code} "
            f"{_error_text(response)}); check the API key and facility"
        )


def backfill(
    sender: Sender,
    model: SiteModel,
    days: float,
    *,
    end: Any = None,
    chunk: int = 10_000,
    device_id: str | None = None,
) -> tuple[int, int]:
    """Send ``days`` of one-minute history in bulk chunks; returns (sent, failed)."""
    frame = history(model, end, days=days, step_s=60, events=True)
    records = frame_records(frame)
    if device_id:
        for record in records:
            record["device_id"] = device_id
    total = max(1, math.ceil(len(records) / chunk))
    sent = failed = 0
    for number, first in enumerate(range(0, len(records), chunk), start=1):
        part = records[first : first + chunk]
        response = sender.request("POST", "/api/hardware/data/bulk", json=part)
        _check_final(response, "the backfill")
        if response is not None and response.status_code == 200:
            body = response.json()
            rejected = len(body.get("rejected", []))
            sender.echo(
                f"backfill {number}/{total}: 200 accepted {body.get('accepted')} "
                f"duplicates {body.get('duplicates')} rejected {rejected}"
            )
            sent += len(part) - rejected
            failed += rejected
        else:
            status = "no answer" if response is None else str(response.status_code)
            detail = "" if response is None else " " + _error_text(response)
            sender.echo(f"backfill {number}/{total}: {status}{detail}")
            failed += len(part)
    return sent, failed


def live_readings(
    model: SiteModel, interval_s: float, count: int | None, stop: threading.Event | None
) -> Iterator[dict[str, Any]]:
    """Readings on a fixed cadence; the first one immediately."""
    sent = 0
    next_at = time.monotonic()
    while count is None or sent < count:
        if stop is not None and stop.is_set():
            return
        yield reading_at(model, None, interval_s)
        sent += 1
        if count is not None and sent >= count:
            return
        next_at += interval_s
        pause = max(0.0, next_at - time.monotonic())
        if stop is not None:
            if stop.wait(pause):
                return
        else:
            time.sleep(pause)


def run_simulation(
    url: str,
    api_key: str,
    *,
    interval_s: float = 10.0,
    count: int | None = None,
    backfill_days: float = 0,
    model: SiteModel | None = None,
    device_id: str | None = None,
    echo: Callable[[str], None] = print,
    stop: threading.Event | None = None,
    sender: Sender | None = None,
    report_problem: Callable[[str], None] | None = None,
) -> dict[str, int]:
    """Backfill, then post a reading every ``interval_s`` seconds, ``count`` times.

    Every reading or chunk is reported through ``echo`` (failures through
    ``report_problem`` when given). Returns ``{"stored", "duplicates", "failed"}``;
    raises :class:`SimulatorError` when the server refuses the key.
    """
    problem = report_problem or echo
    sender = sender or Sender(url, api_key, echo=problem, stop=stop)
    base = model or SiteModel()
    model = model if model is not None else model_from_config(sender.config(), base)
    summary = {"stored": 0, "duplicates": 0, "failed": 0}
    if backfill_days > 0:
        sent, failed = backfill(sender, model, backfill_days, device_id=device_id)
        summary["stored"] += sent
        summary["failed"] += failed
    for reading in live_readings(model, interval_s, count, stop):
        if device_id:
            reading["device_id"] = device_id
        response = sender.request("POST", "/api/hardware/data", json=reading)
        _check_final(response, "the reading")
        stamp = reading["timestamp"]
        if response is None:
            summary["failed"] += 1
            problem(f"{stamp} not delivered")
            continue
        status = response.status_code
        if status in (200, 201):
            body = response.json()
            key = "stored" if status == 201 else "duplicates"
            summary[key] += 1
            alerts = body.get("alerts") or []
            note = f" alerts: {', '.join(a.get('kind', '?') for a in alerts)}" if (
                alerts
            ) else ""
            echo(
                f"{stamp} {status} {body.get('status')} id={body.get('id')} "
                f"produced {reading['energy_produced']:.4f} kWh "
                f"consumed {reading['energy_consumed']:.4f} kWh "
                f"{reading.get('voltage', 0):.1f} V{note}"
            )
        else:
            summary["failed"] += 1
            problem(f"{stamp} {status} {_error_text(response)}")
    return summary


def start_background(
    url: str,
    api_key: str,
    *,
    interval_s: float = 10.0,
    model: SiteModel | None = None,
    device_id: str | None = None,
    wait_for_server_s: float = 60.0,
    catch_up: Callable[[], Any] | None = None,
) -> tuple[threading.Thread, threading.Event]:
    """Run the simulator in a daemon thread until the returned event is set.

    The thread first waits (up to ``wait_for_server_s``) for ``/healthz`` so the
    first reading does not race the server's start-up. ``catch_up`` then runs
    once, just before the first reading: the demo continues its stored history up
    to that moment, so a slow start-up leaves no silence in the data.
    """
    stop = threading.Event()

    def log(line: str) -> None:
        logger.debug("simulator: %s", line)

    def warn(line: str) -> None:
        logger.warning("simulator: %s", line)

    def target() -> None:
        import requests

        base = _base_url(url)
        deadline = time.monotonic() + wait_for_server_s
        while time.monotonic() < deadline and not stop.is_set():
            try:
                if requests.get(base + "/healthz", timeout=2).status_code < 500:
                    break
            except requests.RequestException:
                pass
            stop.wait(0.25)
        if catch_up is not None and not stop.is_set():
            try:
                catch_up()
            except Exception:  # noqa: BLE001 - the live readings matter more
                logger.exception("simulated sensor: continuing the history failed")
        while not stop.is_set():
            try:
                run_simulation(
                    url, api_key, interval_s=interval_s, model=model,
                    device_id=device_id, echo=log, stop=stop, report_problem=warn,
                    sender=Sender(url, api_key, echo=warn, stop=stop, attempts=3),
                )
            except SimulatorError as exc:
                logger.warning("simulated sensor stopped: %s", exc)
                return
            except Exception:  # noqa: BLE001 - keep the demo alive, say why
                logger.exception("simulated sensor failed; restarting in 10 s")
                stop.wait(10)

    thread = threading.Thread(target=target, name="energy-dash-simulator", daemon=True)
    thread.start()
    return thread, stop


__all__ = [
    "Sender",
    "SimulatorError",
    "backfill",
    "model_from_config",
    "run_simulation",
    "start_background",
]
