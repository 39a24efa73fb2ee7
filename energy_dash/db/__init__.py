"""The database layer: engines and sessions (engine.py), models, migrations, and
the hot-path statements built from the models (statements.py).

The engine API is re-exported here: ``from energy_dash.db import session_scope``.
"""

from energy_dash.db.engine import (
    ROW_REFUSALS,
    DriverTransaction,
    alembic_config,
    as_driver,
    connected,
    dispose_engine,
    dispose_engines,
    driver_connection,
    get_engine,
    init_db,
    kept_connection,
    reading_session,
    resolve_url,
    session_scope,
)

__all__ = [
    "ROW_REFUSALS",
    "DriverTransaction",
    "alembic_config",
    "as_driver",
    "connected",
    "dispose_engine",
    "dispose_engines",
    "driver_connection",
    "kept_connection",
    "get_engine",
    "init_db",
    "reading_session",
    "resolve_url",
    "session_scope",
]
