"""When is a facility's sensor "connected"? The one rule, used by the pages, the
sensor and session APIs and the offline alert.

A facility is connected while its newest reading is younger than twice its
expected reporting interval; from then on it is offline.
"""

from __future__ import annotations

STALE_FACTOR = 2
"""A reading older than this many expected intervals means disconnected."""


def stale_after_ms(expected_interval_s: int | float) -> int:
    """Age [ms] from which the newest reading no longer counts as connected."""
    return STALE_FACTOR * max(1, int(expected_interval_s)) * 1000


def is_connected(
    last_ms: int | None, now_ms: int, expected_interval_s: int | float
) -> bool:
    """True while the newest reading (``last_ms``, UTC epoch ms) is fresh enough."""
    return last_ms is not None and now_ms - last_ms < stale_after_ms(
        expected_interval_s
    )
