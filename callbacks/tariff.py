"""The tariff section of /settings: shown to every member, saved by admins and
operators only (checked here on the server, whatever the browser sends)."""

from __future__ import annotations

import logging

from dash import ALL, Dash, Input, Output, State
from dash.exceptions import PreventUpdate
from flask import current_app

from components import ids
from components import tariff as ui
from energy_dash.services import costs as store
from energy_dash.web import auth

logger = logging.getLogger(__name__)


def _url() -> str:
    return current_app.config["ENERGY_DASH"].database_url


def can_edit(fid: int) -> bool:
    try:
        auth.check_facility(fid, write=True)
    except PermissionError:
        return False
    return True


def register(app: Dash) -> None:
    @app.callback(
        Output(ids.TARIFF_SETTINGS, "children"),
        Input(ids.FACILITY, "value"),
    )
    def show_tariff(facility_id):
        if facility_id is None:
            return ui.message_card("Select a facility to see its tariff.")
        try:
            fid = auth.check_facility(facility_id)
        except PermissionError:
            return ui.message_card("You do not have access to this facility.",
                                   "danger")
        tariff = store.get_tariff(fid, database_url=_url())
        return ui.tariff_card(tariff, can_edit(fid))

    @app.callback(
        Output(ui.STATUS, "children"),
        Input(ui.SAVE, "n_clicks"),
        State(ids.FACILITY, "value"),
        State(ui.CURRENCY, "value"),
        State(ui.IMPORT_PRICE, "value"),
        State(ui.EXPORT_PRICE, "value"),
        State(ui.STANDING, "value"),
        State({"type": ui.TOU_START, "index": ALL}, "value"),
        State({"type": ui.TOU_END, "index": ALL}, "value"),
        State({"type": ui.TOU_PRICE, "index": ALL}, "value"),
        State({"type": ui.TOU_DAYS, "index": ALL}, "value"),
        prevent_initial_call=True,
    )
    def save_tariff(clicks, facility_id, currency, import_price, export_price,
                    standing, starts, ends, prices, days):
        if not clicks:
            raise PreventUpdate
        try:
            fid = auth.check_facility(facility_id, write=True)
        except PermissionError as exc:
            return ui.status(f"Not saved: {exc}.", "danger")
        values = {
            "currency": currency,
            "import_price": import_price,
            "export_price": export_price,
            "standing_charge": standing,
            "tou": ui.windows_from_form(starts or [], ends or [], prices or [],
                                        days or []),
        }
        try:
            saved = store.set_tariff(fid, values, database_url=_url())
        except store.TariffError as exc:
            return ui.status(f"Not saved: {exc}", "danger")
        except LookupError:
            return ui.status("Not saved: this facility no longer exists.", "danger")
        logger.info("tariff of facility %s changed", fid)
        windows = len(saved["tou"])
        return ui.status(
            f"Tariff saved: import {saved['import_price']:g} {saved['currency']}/kWh, "
            f"export {saved['export_price']:g} {saved['currency']}/kWh"
            + (f", {windows} time-of-use window(s)." if windows else "."),
        )
