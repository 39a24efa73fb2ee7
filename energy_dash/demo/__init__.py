"""Demo tooling: seeding the demo facility (seed.py) and the simulated sensor
(site.py: the site's physics; simulator.py: the HTTP client that sends it)."""
