"""Readings partitions kept ahead of time and raw retention (PostgreSQL).

Run by ``init-db``, ``serve`` and every few hours by the scheduler (once per slot
across all processes). SQLite keeps its single table: nothing happens there.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from energy_dash.config import Settings
from energy_dash.db import get_engine, partitions

logger = logging.getLogger(__name__)


def maintain_partitions(
    settings: Settings, *, now: datetime | None = None
) -> dict[str, Any]:
    """Create the coming months' partitions; drop raw months past retention.

    Returns ``{"created": [...], "dropped": [...]}`` (partition names). Rollups
    are never touched, so charts of hours, days and months still answer for
    ranges whose raw readings are gone.
    """
    now = now or datetime.now(UTC)
    engine = get_engine(settings.database_url)
    if engine.dialect.name != "postgresql":
        return {"created": [], "dropped": []}
    with engine.begin() as conn:
        created = partitions.ensure_partitions(conn, now=now)
        dropped: list[str] = []
        if settings.raw_retention_days:
            cutoff = now - timedelta(days=settings.raw_retention_days)
            dropped = partitions.drop_expired(conn, int(cutoff.timestamp() * 1000))
    return {"created": created, "dropped": dropped}
