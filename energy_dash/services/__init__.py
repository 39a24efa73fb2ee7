"""Use cases that own a database session: what pages, ingest, jobs and the CLI call."""
