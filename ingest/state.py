"""Per-app, per-process state of the sensor API: the rate limiter, the writer lock,
the facility cache (a few seconds), key look-up with the bootstrap key, and the
``last_used_at`` throttle."""

from __future__ import annotations

import hmac
import json
import logging
import time

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

from .openapi import build_spec
from .ratelimit import RateLimiter
from .replies import EXTENSION
from .writelock import WriterLock

logger = logging.getLogger(__name__)

FACILITY_TTL_S = 5.0  # thresholds changed in the UI reach the ingest path this fast
TOUCH_EVERY_S = 60.0  # last_used_at resolution
BOOTSTRAP_FACILITY = 1

class IngestState:
    """Per-app, per-process state: limiter, caches, bootstrap key, OpenAPI bytes."""

    def __init__(self, settings: Settings) -> None:
        self.database_url = settings.database_url
        self.limiter = RateLimiter.from_setting(settings.ingest_rate)
        self.writer = WriterLock(settings.database_url)
        self.openapi = json.dumps(build_spec(), separators=(",", ":")).encode()
        self._facilities: dict[int, tuple[float, FacilityInfo]] = {}
        self._touched: dict[int, float] = {}
        self._bootstrap_secret = settings.hardware_api_key or None
        self._bootstrap_digest = (
            digest(self._bootstrap_secret) if self._bootstrap_secret else None
        )

    # -- keys
    def register_bootstrap_key(self) -> None:
        """HARDWARE_API_KEY becomes a hashed key of facility 1 (if it exists yet)."""
        if not self._bootstrap_secret:
            return
        try:
            with session_scope(self.database_url) as session:
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
        """The key for ``secret`` (``target``: a session or driver transaction)."""
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

    def rate_limited(self, key: DeviceKey) -> int:
        return 0 if self.limiter is None else self.limiter.hit(key.id)

    def touch(self, key: DeviceKey, session=None) -> None:
        """Record the key's last use, at most once a minute per key and process."""
        now = time.monotonic()
        last = self._touched.get(key.id)
        if last is not None and now - last < TOUCH_EVERY_S:
            return
        self._touched[key.id] = now
        if session is not None:
            touch_api_key(session, key.id)
            return
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
