"""The tariff section of /settings: shown to every member; saving a version and
deleting a future one are for admins and operators only (checked here on the
server, whatever the browser sends)."""

from __future__ import annotations

import logging

from dash import ALL, Dash, Input, Output, State, ctx, no_update
from dash.exceptions import PreventUpdate

from callbacks._common import FORBIDDEN, database_url
from components import ids
from components import tariff as ui
from energy_dash.services import costs as store
from energy_dash.web import auth

logger = logging.getLogger(__name__)


def can_edit(fid: int) -> bool:
    try:
        auth.check_facility(fid, write=True)
    except PermissionError:
        return False
    return True


def _versions(fid: int):
    shown = store.tariff_settings(fid, database_url=database_url())
    return ui.versions_table(shown["versions"], shown["today"], True)


FIELDS = {  # TariffError.field -> the input that shows it as invalid
    "currency": ui.CURRENCY,
    "import_price": ui.IMPORT_PRICE,
    "export_price": ui.EXPORT_PRICE,
    "standing_charge": ui.STANDING,
    "demand_charge": ui.DEMAND,
    "valid_from": ui.VALID_FROM,
}


def _marks(field: str | None = None) -> list[bool]:
    """The ``invalid`` flag of each form field: only the refused one is set."""
    return [name == field for name in FIELDS]


def saved_text(saved: dict, today) -> str:
    """What the status line says after a save (prices and from when)."""
    currency = saved["currency"]
    parts = [f"import {saved['import_price']:g} {currency}/kWh",
             f"export {saved['export_price']:g} {currency}/kWh"]
    if saved.get("demand_charge"):
        parts.append(f"demand charge {saved['demand_charge']:g} {currency}/kW/month")
    windows = len(saved["tou"])
    if windows:
        parts.append(f"{windows} time-of-use window(s)")
    day = saved["valid_from"]
    when = "today" if day <= today else day.isoformat()
    return f"Tariff saved, valid from {when}: " + ", ".join(parts) + "."


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
            return ui.message_card(FORBIDDEN,
                                   "danger")
        shown = store.tariff_settings(fid, database_url=database_url())
        return ui.tariff_card(shown["current"], can_edit(fid), shown["versions"],
                              shown["today"])

    @app.callback(
        Output(ui.STATUS, "children"),
        Output(ui.VERSIONS, "children"),
        *[Output(cid, "invalid") for cid in FIELDS.values()],
        Input(ui.SAVE, "n_clicks"),
        Input({"type": ui.DELETE_VERSION, "index": ALL}, "n_clicks"),
        State(ids.FACILITY, "value"),
        State(ui.CURRENCY, "value"),
        State(ui.IMPORT_PRICE, "value"),
        State(ui.EXPORT_PRICE, "value"),
        State(ui.STANDING, "value"),
        State(ui.DEMAND, "value"),
        State(ui.VALID_FROM, "value"),
        State({"type": ui.TOU_START, "index": ALL}, "value"),
        State({"type": ui.TOU_END, "index": ALL}, "value"),
        State({"type": ui.TOU_PRICE, "index": ALL}, "value"),
        State({"type": ui.TOU_DAYS, "index": ALL}, "value"),
        prevent_initial_call=True,
    )
    def change_tariff(clicks, delete_clicks, facility_id, currency, import_price,
                      export_price, standing, demand, valid_from, starts, ends,
                      prices, days):
        trigger = ctx.triggered_id
        if not ctx.triggered or not ctx.triggered[0].get("value"):
            raise PreventUpdate  # a button rendered, not clicked
        deleting = isinstance(trigger, dict)
        verb = "Not deleted" if deleting else "Not saved"
        try:
            fid = auth.check_facility(facility_id, write=True)
        except PermissionError as exc:
            return ui.status(f"{verb}: {exc}.", "danger"), no_update, *_marks()
        if deleting:
            return (*_delete(fid, trigger["index"]), *_marks())
        values = {
            "currency": currency,
            "import_price": import_price,
            "export_price": export_price,
            "standing_charge": standing,
            "demand_charge": demand,
            "valid_from": valid_from,
            "tou": ui.windows_from_form(starts or [], ends or [], prices or [],
                                        days or []),
        }
        try:
            saved = store.set_tariff(fid, values, database_url=database_url())
        except store.TariffError as exc:
            return (ui.status(f"Not saved: {exc}", "danger"), no_update,
                    *_marks(exc.field))
        except LookupError:
            return (ui.status("Not saved: this facility no longer exists.",
                              "danger"), no_update, *_marks())
        logger.info("tariff of facility %s changed", fid)
        shown = store.tariff_settings(fid, database_url=database_url())
        return (ui.status(saved_text(saved, shown["today"])),
                ui.versions_table(shown["versions"], shown["today"], True),
                *_marks())


def _delete(fid: int, day: str):
    try:
        store.delete_tariff_version(fid, day, database_url=database_url())
    except store.TariffError as exc:
        return ui.status(f"Not deleted: {exc}", "danger"), no_update
    except LookupError:
        return (ui.status(f"Not deleted: there is no version from {day}.",
                          "danger"), _versions(fid))
    logger.info("tariff version of facility %s deleted", fid)
    return ui.status(f"The price change from {day} was deleted."), _versions(fid)
