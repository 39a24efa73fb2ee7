"""Tenancy, systematically: no callback that takes a facility id shows another
facility's data to a signed-in user who is not its member."""

from __future__ import annotations

import json

import pandas as pd
from fixtures_web import callback_body, ensure_callbacks

from components.ids import FACILITY
from energy_dash import data
from energy_dash.db import session_scope
from energy_dash.db.models import Alert, Facility
from energy_dash.services import costs
from energy_dash.storage.devices import create_api_key, create_display_token

SECRETS = ("Secret Plant", "241.37", "secret-sensor", "secret-wall", "XSX")
PAGE_OF = {  # output id prefix -> the page whose callbacks they are
    "dashboard": "/dashboard", "historical": "/historical", "voltage": "/voltage",
    "forecast": "/forecast", "wall": "/wall", "settings": "/settings",
    "tariff": "/settings", "key": "/settings", "token": "/settings",
    "member": "/settings", "facility": "/settings", "recommendations": "/dashboard",
}


def _secret_facility(url: str) -> int:
    with session_scope(url) as db:
        plant = Facility(name="Secret Plant", timezone="Asia/Tokyo", location="x")
        db.add(plant)
        db.flush()
        fid = plant.id
        create_api_key(db, fid, "secret-sensor")
        create_display_token(db, fid, "secret-wall")
        db.add(Alert(facility_id=fid, kind="voltage_high", level="warning",
                     message="241.37 V at the secret plant",
                     started_at=pd.Timestamp.now(tz="UTC").to_pydatetime()))
    now = pd.Timestamp.now(tz="UTC").floor("min")
    frame = pd.DataFrame(
        {"energy_produced": 2.4137, "energy_consumed": 1.0, "current_load": 24.137,
         "voltage": 241.37, "current1": 24.137, "current2": 1.0, "current3": 1.0,
         "frequency": 50.0, "power_factor": 0.9},
        index=pd.date_range(end=now, periods=180, freq="1min"),
    )
    data.write_readings(frame, fid, database_url=url)
    costs.set_tariff(fid, {"currency": "XSX", "import_price": 0.4137,
                               "export_price": 0.1, "standing_charge": 0.0},
                         database_url=url)
    return fid


def _values(app, key: str, facility_id: int) -> dict:
    """Plausible values for every input: the facility, clicks, ticks, a page path."""
    entry = app.callback_map[key]
    page = next((p for prefix, p in PAGE_OF.items() if key.lstrip(".").startswith(
        prefix)), "/dashboard")
    values = {}
    for dep in entry["inputs"] + entry["state"]:
        name = f"{dep['id']}.{dep['property']}"
        prop = dep["property"]
        if dep["id"] == FACILITY and prop == "value":
            values[name] = facility_id
        elif prop in ("n_clicks", "n_intervals"):
            values[name] = 1
        elif prop == "pathname":
            values[name] = page
        elif prop == "search":
            values[name] = f"?facility={facility_id}"
        elif name == "historical-range.value":
            values[name] = "7"
    return values


def _takes_a_facility(entry) -> bool:
    """Server callbacks (clientside ones never reach the server) with the selector."""
    deps = entry["inputs"] + entry["state"]
    return "callback" in entry and any(d["id"] == FACILITY for d in deps)


def test_no_callback_reveals_another_facility(app, auth_client, database_url,
                                             facility):
    secret = _secret_facility(database_url)
    client = auth_client("alice", "admin")  # admin of facility 1 only
    ensure_callbacks(app)
    keys = [k for k, e in app.callback_map.items() if _takes_a_facility(e)]
    assert len(keys) >= 10
    answered_for_own = 0
    for key in keys:
        for fid in (secret, facility):
            body = callback_body(app, key, _values(app, key, fid))
            response = client.post("/_dash-update-component", json=body)
            assert response.status_code in (200, 204), (key, fid, response.status)
            ok = response.status_code == 200
            text = json.dumps(response.get_json()) if ok else ""
            if fid == secret:
                leaked = [s for s in SECRETS if s in text]
                assert not leaked, (key, leaked)
            elif response.status_code == 200:
                answered_for_own += 1
    # The same requests for her own facility do answer: the check above has teeth.
    assert answered_for_own >= len(keys) // 2
