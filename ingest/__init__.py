"""The sensor ingestion API (CONTRACT §4): a Flask blueprint on the app's server."""
