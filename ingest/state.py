"""Per-app, per-process state of the sensor API: the rate limit (counted in shared
storage), the writer lock,
the facility cache (a few seconds), key look-up with the bootstrap key, and the
``last_used_at`` throttle."""

from __future__ import annotations

import hmac
import json
import logging
import time
from contextlib import nullcontext

from flask import current_app
from sqlalchemy.exc import SQLAlchemyError

from energy_dash.config import Settings
from energy_dash.db import as_driver, session_scope, statements
from energy_dash.domain.facility import FacilityInfo, facility_info
from energy_dash.storage.devices import (
    DeviceKey,
    digest,
    ensure_bootstrap_key,
    find_api_key,
    touch_api_key,
)
from energy_dash.storage.limits import DatabaseCounters, WindowLimit, counters_for

from .openapi import build_spec
from .replies import EXTENSION
from .writelock import WriterLock

logger = logging.getLogger(__name__)

FACILITY_TTL_S = 5.0  # thresholds changed in the UI reach the ingest path this fast
KEY_TTL_S = 1.0  # a revoked key stops working this fast, in every process and host
KEY_CACHE_MAX = 10_000  # distinct keys remembered per process before starting afresh
TOUCH_EVERY_S = 60.0  # last_used_at resolution
BOOTSTRAP_FACILITY = 1

class IngestState:
    """Per-app, per-process state: limiter, caches, bootstrap key, OpenAPI bytes."""

    def __init__(self, settings: Settings) -> None:
        self.database_url = settings.database_url
        self.writer = WriterLock(settings.database_url)
        counters = counters_for(settings.login_rate_storage, settings.database_url)
        self.limiter = WindowLimit.from_rate(counters, settings.ingest_rate, "ingest")
        # SQLite: a database counter is a write, so it queues like one.
        self._counting = (
            self.writer.hold if isinstance(counters, DatabaseCounters) else nullcontext
        )
        self.openapi = json.dumps(build_spec(), separators=(",", ":")).encode()
        self._facilities: dict[int, tuple[float, FacilityInfo]] = {}
        self._keys: dict[bytes, tuple[float, DeviceKey]] = {}
        self._touched: dict[int, float] = {}
        self._bootstrap_secret = settings.hardware_api_key or None
        self._bootstrap_digest = (
            digest(self._bootstrap_secret) if self._bootstrap_secret else None
        )

    # -- keys
    def register_bootstrap_key(self) -> None:
        """HARDWARE_API_KEY becomes a hashed key of facility 1 (if it exists yet);
        bootstrap keys of earlier values, or of none, are revoked."""
        try:
            with session_scope(self.database_url, write=True) as session:
                ensure_bootstrap_key(
                    session, self._bootstrap_secret, BOOTSTRAP_FACILITY
                )
        except SQLAlchemyError as exc:
            logger.warning(
                "HARDWARE_API_KEY not registered at start-up (%s); "
                "retried on first use",
                type(exc).__name__,
            )

    def authenticate(self, target, secret: str) -> DeviceKey | None:
        """The key for ``secret`` (``target``: a session or driver transaction).

        A found key is remembered for :data:`KEY_TTL_S`, under its digest: a device
        posting every second then costs one look-up a second instead of one per
        reading, and a key revoked anywhere is refused everywhere within that
        second, since every process asks the database again once its entry is that
        old. Unknown secrets are never remembered (each one is looked up).
        """
        if not secret or len(secret) > 256:
            return None
        hashed = digest(secret)
        now = time.monotonic()
        hit = self._keys.get(hashed)
        if hit is not None and hit[0] > now:
            return hit[1]
        key = self._look_up(target, secret)
        if key is None:
            self._keys.pop(hashed, None)
            return None
        if len(self._keys) >= KEY_CACHE_MAX:
            self._keys.clear()
        self._keys[hashed] = (now + KEY_TTL_S, key)
        return key

    def _look_up(self, target, secret: str) -> DeviceKey | None:
        key = find_api_key(target, secret)
        if (
            key is None
            and self._bootstrap_digest is not None
            and hmac.compare_digest(digest(secret), self._bootstrap_digest)
        ):
            # Facility 1 may have been created after start-up: register lazily. This
            # runs only on the 401 path for the bootstrap secret, so it costs nothing
            # on the hot path.
            with session_scope(self.database_url, write=True) as session:
                ensure_bootstrap_key(
                    session, self._bootstrap_secret, BOOTSTRAP_FACILITY
                )
            key = find_api_key(target, secret)
        return key

    def rate_limited(self, key: DeviceKey, driver=None) -> int:
        """0 when the key may proceed, else seconds to wait; counted atomically in
        storage every worker shares (``driver``: run on that DB-API connection)."""
        if self.limiter is None:
            return 0
        with self._counting():
            return self.limiter.take(key.id, driver)

    def touch(self, key: DeviceKey) -> None:
        """Record the key's last use, at most once a minute per key and process,
        in a write transaction of its own (a caller's session may only read)."""
        now = time.monotonic()
        last = self._touched.get(key.id)
        if last is not None and now - last < TOUCH_EVERY_S:
            return
        self._touched[key.id] = now
        with session_scope(self.database_url, write=True) as own:
            touch_api_key(own, key.id)

    # -- facilities
    def facility(
        self, target, facility_id: int, *, fresh: bool = False
    ) -> FacilityInfo | None:
        """The facility's ingest fields, cached a few seconds per process."""
        now = time.monotonic()
        if not fresh:
            hit = self._facilities.get(facility_id)
            if hit is not None and hit[0] > now:
                return hit[1]
        row = as_driver(target).execute(
            statements.FACILITY_INFO, (facility_id,)
        ).fetchone()
        if row is None:
            self._facilities.pop(facility_id, None)
            return None
        info = facility_info(tuple(row))
        self._facilities[facility_id] = (now + FACILITY_TTL_S, info)
        return info


def current_state() -> IngestState:
    return current_app.extensions[EXTENSION]
