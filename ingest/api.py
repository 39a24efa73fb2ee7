"""Sensor API blueprint (placeholder)."""


def init_app(server, settings) -> None:
    """Register the sensor API on the Flask server."""
