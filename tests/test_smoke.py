from energy_dash.db import session_scope
from energy_dash.models import Facility


def test_app_builds_and_database_migrates(app, database_url):
    with session_scope(database_url) as session:
        session.add(Facility(name="x", timezone="UTC"))
    assert app.server.test_client().get("/").status_code == 200
