"""The sensor ingestion API (README "Sensor API"): a Flask blueprint on the app's
server."""
