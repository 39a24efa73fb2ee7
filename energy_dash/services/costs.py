"""Use cases behind the cost figures, the tariff settings and the recommendations:
each opens its own short session. The rules are ``energy_dash.domain.tariffs``
(the one cost engine, standing charge included) and
``energy_dash.domain.recommendations``."""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd

from energy_dash.db import session_scope
from energy_dash.domain.recommendations import (
    Recommendation,
    checked_fine,
    recommend,
    worth_it,
)
from energy_dash.domain.tariffs import (
    TariffError,
    TariffVersions,
    as_versions,
    bill,
    clean_tariff,
    clean_valid_from,
    default_tariff,
    interval_charges,
    period_days,
    split_flows,
    tariff_model,
    versions_model,
)
from energy_dash.domain.times import (
    HOUR,
    instant,
    local_hour_start,
    local_midnight,
    now_or,
)
from energy_dash.services.facilities import facility_info
from energy_dash.services.forecasts import latest_forecast
from energy_dash.services.readings import read_readings
from energy_dash.storage import facilities as facility_rows
from energy_dash.storage import tariffs as tariff_rows

__all__ = [
    "TariffError",
    "clean_tariff",
    "cost_of_range",
    "default_tariff",
    "delete_tariff_version",
    "facility_recommendations",
    "get_tariff",
    "month_cost",
    "set_tariff",
    "tariff_model",
    "tariff_prices",
    "tariff_settings",
    "tariff_versions",
]

ENERGY = ["energy_produced", "energy_consumed"]
RECOMMENDATION_DAYS = 30
RECOMMENDATION_COLUMNS = [
    "energy_produced",
    "energy_consumed",
    "voltage",
    "current1",
    "current2",
    "current3",
    "power_factor",
]


# ------------------------------------------------------------------------ tariffs
def _today(session, facility_id: int, today: date | None) -> date:
    """The facility's local calendar day now (UTC for an unknown facility)."""
    if today is not None:
        return today
    info = facility_rows.load_info(session, facility_id)
    return pd.Timestamp.now(tz=info.timezone if info else "UTC").date()


def get_tariff(
    facility_id: int, *, today: date | None = None, database_url: str | None = None
) -> dict[str, Any]:
    """The facility's current tariff: the newest version valid on its local
    ``today`` (``configured`` False: the defaults, none stored).

    Keys: ``currency``, ``import_price``, ``export_price`` [currency/kWh],
    ``standing_charge`` [currency/day], ``demand_charge`` [currency/kW/month],
    ``tou`` (list of windows, see :func:`energy_dash.domain.tariffs.clean_tariff`),
    ``valid_from`` (local day; 1970-01-01 = since the beginning; None for the
    defaults), ``configured``.
    """
    with session_scope(database_url) as session:
        return tariff_rows.load(session, facility_id,
                                _today(session, facility_id, today))


def tariff_versions(
    facility_id: int, *, database_url: str | None = None
) -> list[dict[str, Any]]:
    """Every stored version of the facility's tariff, oldest first (as
    :func:`get_tariff`); empty when none is stored."""
    with session_scope(database_url) as session:
        return tariff_rows.versions(session, facility_id)


def tariff_settings(
    facility_id: int, *, today: date | None = None, database_url: str | None = None
) -> dict[str, Any]:
    """What the settings page shows: ``current`` (as :func:`get_tariff`),
    ``versions`` (as :func:`tariff_versions`) and the facility's local ``today``."""
    with session_scope(database_url) as session:
        day = _today(session, facility_id, today)
        return {
            "current": tariff_rows.load(session, facility_id, day),
            "versions": tariff_rows.versions(session, facility_id),
            "today": day,
        }


def tariff_prices(
    facility_id: int, *, database_url: str | None = None
) -> TariffVersions:
    """The versions as the cost engine takes them (the defaults when none)."""
    return versions_model(tariff_versions(facility_id, database_url=database_url))


def set_tariff(
    facility_id: int,
    values: dict[str, Any],
    *,
    today: date | None = None,
    database_url: str | None = None,
) -> dict[str, Any]:
    """Validate (:func:`clean_tariff`) and store a version of the facility's tariff.

    ``values["valid_from"]`` (a date or ``YYYY-MM-DD``; default: the facility's
    local today) is the first local day it prices: a new date adds a version and
    leaves earlier costs as they were, the date of an existing version (today's
    or a future one) replaces that version, a past date is refused. All versions
    share one currency. Returns the stored version as :func:`get_tariff` does.
    Raises :class:`TariffError` for a refused value and ``LookupError`` for an
    unknown facility. Permissions are the caller's business (callbacks check the
    role).
    """
    clean = clean_tariff(values)
    with session_scope(database_url, write=True) as session:
        if facility_rows.load_info(session, facility_id) is None:
            raise LookupError(f"facility {facility_id} does not exist")
        day = clean_valid_from(values.get("valid_from"),
                               _today(session, facility_id, today))
        others = [v for v in tariff_rows.versions(session, facility_id)
                  if v["valid_from"] != day]
        if others and others[-1]["currency"] != clean["currency"]:
            raise TariffError(
                "currency",
                f"Currency must stay {others[-1]['currency']}: every version of a "
                "tariff uses one currency.",
            )
        return tariff_rows.store(session, facility_id, clean, day)


def delete_tariff_version(
    facility_id: int,
    valid_from: Any,
    *,
    today: date | None = None,
    database_url: str | None = None,
) -> None:
    """Delete the version valid from ``valid_from``: only one that has not begun
    (a later local day than today), so no cost already incurred changes.

    Raises :class:`TariffError` (field ``valid_from``) for a version that has
    begun and ``LookupError`` when there is no such version.
    """
    with session_scope(database_url, write=True) as session:
        now = _today(session, facility_id, today)
        day = clean_valid_from(valid_from, now)
        if day <= now:
            raise TariffError(
                "valid_from",
                f"The version from {day.isoformat()} already prices today's costs: "
                "only a future version can be deleted.",
            )
        if not tariff_rows.remove(session, facility_id, day):
            raise LookupError(f"no tariff version from {day.isoformat()}")


# -------------------------------------------------------------------------- costs
def cost_of_range(
    facility_id: int,
    start: Any,
    end: Any,
    *,
    database_url: str | None = None,
    tariff: dict[str, Any] | TariffVersions | None = None,
) -> dict[str, Any]:
    """Energy cost of ``[start, end)`` under the facility's tariff versions.

    Hourly sums (from the 15-minute rollups) priced by
    :func:`energy_dash.domain.tariffs.interval_charges`, each hour by the version
    valid on its local day; the standing charge is due for every local calendar
    day the range touches and the demand charge accrues per day on the month's
    peak hourly demand (see ``energy_dash.domain.tariffs``). ``tariff`` (one
    tariff dict, or versions) replaces the stored versions.

    Returns
    -------
    dict
        ``import_kwh``, ``export_kwh`` [kWh], ``import_cost``, ``export_credit``,
        ``standing``, ``demand_charge`` and ``total`` = import_cost −
        export_credit + standing + demand_charge [currency], ``peak_kw`` [kW, the
        highest hourly demand], ``days`` [-] and ``currency``.
    """
    info = facility_info(facility_id, database_url=database_url)
    if info is None:
        raise LookupError(f"facility {facility_id} does not exist")
    if tariff is None:
        prices = tariff_prices(facility_id, database_url=database_url)
    elif isinstance(tariff, TariffVersions):
        prices = tariff
    else:
        prices = as_versions(tariff_model(tariff))
    lo, hi = instant(start), instant(end)
    frame = read_readings(
        facility_id, lo, hi, columns=ENERGY, resample="1h", tz=info.timezone,
        database_url=database_url,
    ) if hi > lo else pd.DataFrame()
    if len(frame):
        imports, exports = split_flows(
            frame["energy_produced"].fillna(0.0).to_numpy(dtype=float),
            frame["energy_consumed"].fillna(0.0).to_numpy(dtype=float),
            frame["self_supplied"].fillna(0.0).to_numpy(dtype=float),
        )
        charges = interval_charges(frame.index, imports, exports, prices)
    else:
        charges = interval_charges(
            pd.DatetimeIndex([], tz=info.timezone), [], [], prices
        )
    out: dict[str, Any] = bill(charges, period_days(lo, hi, info.timezone), prices)
    out["currency"] = prices.currency
    return out


def month_cost(
    facility_id: int, *, now: Any = None, database_url: str | None = None
) -> dict[str, Any]:
    """This local calendar month's cost so far, and today's.

    Returns :func:`cost_of_range` of ``[first of the month 00:00 local, now)``
    plus ``today`` (the same for ``[today 00:00 local, now)``), ``month_start``
    (UTC), ``tariff`` (the version valid today).
    """
    info = facility_info(facility_id, database_url=database_url)
    if info is None:
        raise LookupError(f"facility {facility_id} does not exist")
    moment = now_or(now)
    local = moment.tz_convert(info.timezone)
    month_start = local_midnight(local.date().replace(day=1), info.timezone)
    today_start = local_midnight(local.date(), info.timezone)
    prices = tariff_prices(facility_id, database_url=database_url)
    out = cost_of_range(facility_id, month_start, moment, database_url=database_url,
                        tariff=prices)
    out["today"] = cost_of_range(facility_id, today_start, moment,
                                 database_url=database_url, tariff=prices)
    out["month_start"] = month_start
    out["tariff"] = get_tariff(facility_id, today=local.date(),
                               database_url=database_url)
    return out


# ---------------------------------------------------------------- recommendations
def _recommendation_dict(rec: Recommendation, currency: str) -> dict[str, Any]:
    return {
        "key": rec.key,
        "title": rec.title,
        "detail": rec.detail,
        "kwh_per_month": float(rec.kwh_per_month),
        "money_per_month": float(rec.money_per_month),
        "currency": currency,
    }


def facility_recommendations(
    facility_id: int, *, now: Any = None, database_url: str | None = None
) -> dict[str, Any]:
    """Recommendations from the facility's own last 30 days and stored forecast.

    Readings of the last 30 days (15-minute buckets, local calendar), the
    facility's tariff and nominal voltage, and the newest stored production
    forecast when it still reaches into the future, go to
    :func:`energy_dash.domain.recommendations.recommend`. Deterministic: the same data
    gives the same advice.

    Returns
    -------
    dict
        ``items`` (ranked by money per month: ``key``, ``title``, ``detail``,
        ``kwh_per_month`` [kWh/month], ``money_per_month`` [currency/month],
        ``currency``; never one worth zero), ``unpriced`` (found, but with no
        saving in money or energy: shown unranked), ``checked_fine`` (names of
        the checks that found nothing, with what they found in brackets where
        that helps, e.g. peaks that no demand charge makes worth shaving),
        ``currency``, ``days`` (hours with
        readings / 24),
        ``tariff`` (the tariff dict), ``start``, ``end`` (UTC).
    """
    info = facility_info(facility_id, database_url=database_url)
    if info is None:
        raise LookupError(f"facility {facility_id} does not exist")
    moment = now_or(now)
    end = local_hour_start(moment, info.timezone)
    start = end - pd.Timedelta(days=RECOMMENDATION_DAYS)
    readings = read_readings(
        facility_id, start, end, columns=RECOMMENDATION_COLUMNS, resample="15min",
        database_url=database_url,
    )
    if len(readings):
        readings = readings[readings["samples"] > 0]
    tariff = get_tariff(facility_id, today=moment.tz_convert(info.timezone).date(),
                        database_url=database_url)
    model = tariff_model(tariff)
    forecast = None
    run = latest_forecast(facility_id, "production", database_url=database_url)
    if run is not None and not run.frame.empty and run.end > moment:
        forecast = run.frame[run.frame.index + HOUR > moment]
    notes: dict[str, str] = {}
    recs = recommend(
        readings[RECOMMENDATION_COLUMNS] if len(readings) else readings,
        info.timezone,
        model,
        nominal_voltage=info.nominal_voltage,
        forecast=forecast,
        notes=notes,
    )
    days = 0.0
    if len(readings):  # hours with readings / 24
        covered = readings.index[readings["energy_consumed"].notna()]
        days = float(covered.floor("h").nunique() / 24.0)
    return {
        "items": [_recommendation_dict(r, model.currency) for r in recs
                  if worth_it(r)],
        "unpriced": [_recommendation_dict(r, model.currency) for r in recs
                     if not worth_it(r)],
        "checked_fine": checked_fine(recs, notes) if len(readings) else [],
        "currency": model.currency,
        "days": days,
        "tariff": tariff,
        "start": start,
        "end": end,
    }


