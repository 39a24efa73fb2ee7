"""Use cases behind the cost figures, the tariff settings and the recommendations:
each opens its own short session. The rules are ``energy_dash.domain.tariffs``
(the one cost engine, standing charge included) and
``energy_dash.domain.recommendations``."""

from __future__ import annotations

from typing import Any

import pandas as pd

from energy_dash.db import session_scope
from energy_dash.domain.recommendations import Recommendation, recommend
from energy_dash.domain.tariffs import (
    TariffError,
    bill,
    clean_tariff,
    default_tariff,
    interval_charges,
    split_flows,
    tariff_model,
)
from energy_dash.domain.times import (
    HOUR,
    instant,
    local_days_touched,
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
    "facility_recommendations",
    "get_tariff",
    "month_cost",
    "set_tariff",
    "tariff_model",
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
def get_tariff(facility_id: int, *, database_url: str | None = None) -> dict[str, Any]:
    """The facility's tariff (``configured`` False: the defaults, none stored).

    Keys: ``currency``, ``import_price``, ``export_price`` [currency/kWh],
    ``standing_charge`` [currency/day], ``tou`` (list of windows, see
    :func:`energy_dash.domain.tariffs.clean_tariff`), ``configured``.
    """
    with session_scope(database_url) as session:
        return tariff_rows.load(session, facility_id)


def set_tariff(
    facility_id: int, values: dict[str, Any], *, database_url: str | None = None
) -> dict[str, Any]:
    """Validate (:func:`clean_tariff`) and store the facility's tariff.

    Returns the stored tariff as :func:`get_tariff` does. Raises
    :class:`TariffError` for a refused value and ``LookupError`` for an unknown
    facility. Permissions are the caller's business (callbacks check the role).
    """
    clean = clean_tariff(values)
    with session_scope(database_url, write=True) as session:
        if facility_rows.load_info(session, facility_id) is None:
            raise LookupError(f"facility {facility_id} does not exist")
        return tariff_rows.store(session, facility_id, clean)


# -------------------------------------------------------------------------- costs
def cost_of_range(
    facility_id: int,
    start: Any,
    end: Any,
    *,
    database_url: str | None = None,
    tariff: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Energy cost of ``[start, end)`` under the facility's tariff.

    Hourly sums (from the 15-minute rollups) priced by
    :func:`energy_dash.domain.tariffs.interval_charges`; the standing charge is
    due for every local calendar day the range touches (see
    ``energy_dash.domain.tariffs``).

    Returns
    -------
    dict
        ``import_kwh``, ``export_kwh`` [kWh], ``import_cost``, ``export_credit``,
        ``standing`` and ``total`` = import_cost − export_credit + standing
        [currency], ``days`` [-] and ``currency``.
    """
    info = facility_info(facility_id, database_url=database_url)
    if info is None:
        raise LookupError(f"facility {facility_id} does not exist")
    tariff = tariff or get_tariff(facility_id, database_url=database_url)
    model = tariff_model(tariff)
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
        charges = interval_charges(frame.index, imports, exports, model)
    else:
        charges = interval_charges(
            pd.DatetimeIndex([], tz=info.timezone), [], [], model
        )
    days = local_days_touched(lo, hi, info.timezone)
    out: dict[str, Any] = bill(charges, days, model)
    out["currency"] = model.currency
    return out


def month_cost(
    facility_id: int, *, now: Any = None, database_url: str | None = None
) -> dict[str, Any]:
    """This local calendar month's cost so far, and today's.

    Returns :func:`cost_of_range` of ``[first of the month 00:00 local, now)``
    plus ``today`` (the same for ``[today 00:00 local, now)``), ``month_start``
    (UTC), ``tariff`` (the tariff dict used).
    """
    info = facility_info(facility_id, database_url=database_url)
    if info is None:
        raise LookupError(f"facility {facility_id} does not exist")
    moment = now_or(now)
    local = moment.tz_convert(info.timezone)
    month_start = local_midnight(local.date().replace(day=1), info.timezone)
    today_start = local_midnight(local.date(), info.timezone)
    tariff = get_tariff(facility_id, database_url=database_url)
    out = cost_of_range(facility_id, month_start, moment, database_url=database_url,
                        tariff=tariff)
    out["today"] = cost_of_range(facility_id, today_start, moment,
                                 database_url=database_url, tariff=tariff)
    out["month_start"] = month_start
    out["tariff"] = tariff
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
        ``currency``), ``currency``, ``days`` (hours with readings / 24),
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
    tariff = get_tariff(facility_id, database_url=database_url)
    model = tariff_model(tariff)
    forecast = None
    run = latest_forecast(facility_id, "production", database_url=database_url)
    if run is not None and not run.frame.empty and run.end > moment:
        forecast = run.frame[run.frame.index + HOUR > moment]
    recs = recommend(
        readings[RECOMMENDATION_COLUMNS] if len(readings) else readings,
        info.timezone,
        model,
        nominal_voltage=info.nominal_voltage,
        forecast=forecast,
    )
    days = 0.0
    if len(readings):  # hours with readings / 24
        covered = readings.index[readings["energy_consumed"].notna()]
        days = float(covered.floor("h").nunique() / 24.0)
    return {
        "items": [_recommendation_dict(r, model.currency) for r in recs],
        "currency": model.currency,
        "days": days,
        "tariff": tariff,
        "start": start,
        "end": end,
    }


