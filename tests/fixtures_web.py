"""Fixtures for signed-in clients and browser tests (filled in by the app issue)."""
