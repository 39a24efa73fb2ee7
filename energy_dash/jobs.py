"""Scheduled jobs (placeholder until the forecasting issue)."""

import logging

logger = logging.getLogger(__name__)


def start(app, settings) -> None:
    logger.info("scheduler not configured yet")
