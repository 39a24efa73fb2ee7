"""The app builds on a migrated database and serves its public landing page."""

from energy_dash import data
from energy_dash.db import session_scope
from energy_dash.db.models import Facility


def test_app_builds_and_serves_the_landing_page(app, database_url):
    with session_scope(database_url) as session:
        session.add(Facility(name="x", timezone="UTC"))
    assert data.list_facilities(database_url=database_url)["name"].tolist() == ["x"]
    client = app.server.test_client()
    page = client.get("/")
    assert page.status_code == 200
    assert page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "<title>Energy Dash</title>" in html
    assert "'unsafe-inline'" not in page.headers["Content-Security-Policy"].split(
        "style-src"
    )[0]  # scripts: hashes only
    layout = client.get("/_dash-layout", headers={"Referer": "http://localhost/"})
    assert layout.status_code == 200 and layout.is_json
    health = client.get("/healthz")
    assert (health.status_code, health.get_json()) == (
        200, {"status": "ok", "database": "ok"}
    )
