"""One device-key lookup, on a session and on the hot path's driver connection."""

from energy_dash.db import driver_connection, session_scope
from energy_dash.storage.devices import (
    create_api_key,
    find_api_key,
    revoke_api_key,
)


def test_find_api_key_on_a_session_and_a_driver_connection(database_url, facility):
    with session_scope(database_url) as session:
        secret = create_api_key(session, facility, "roof")
    with session_scope(database_url) as session:
        on_session = find_api_key(session, secret)
    with driver_connection(database_url) as tx:
        on_driver = find_api_key(tx, secret)
        assert find_api_key(tx, secret + "x") is None
        assert find_api_key(tx, "x" * 257) is None
        assert find_api_key(tx, None) is None
    assert on_session == on_driver
    assert (on_session.facility_id, on_session.name) == (facility, "roof")
    with session_scope(database_url) as session:
        assert revoke_api_key(session, facility, on_session.id)
    with driver_connection(database_url) as tx:
        assert find_api_key(tx, secret) is None
