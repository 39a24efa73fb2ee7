"""Quantified, explainable energy-saving recommendations from a facility's own data.

Pure functions, no randomness: the same readings give the same advice, and every
recommendation's ``detail`` shows how its numbers were computed.

Input is a readings frame as returned by ``energy_dash.data.read_readings``: a
tz-aware ``DatetimeIndex`` named ``timestamp`` at a regular interval (for
example ``resample="15min"`` or ``"1h"``) and the columns ``energy_produced``,
``energy_consumed`` [kWh per interval], ``voltage`` [V], ``current1``,
``current2``, ``current3`` [A] and ``power_factor`` [-]; any may be missing or
NaN. Hours, days and weeks are the facility's local calendar (``tz``).

Metric definitions (README "Metrics"): net import = consumed − produced per
interval; import = max(net, 0); export = max(−net, 0); power [kW] = interval
energy [kWh] / interval length [h]. A missing ``energy_produced`` counts as 0
(no production); a missing ``energy_consumed`` leaves the interval out.

Months are ``DAYS_PER_MONTH`` (30) days: per-month figures are daily averages
times 30. Where a saving depends on electrical losses in the facility's own
wiring (power factor, phase imbalance), the losses are assumed to be
``LOSS_SHARE`` (2 %) of the consumed energy; the detail text says so.

Recommendations (each appears only when its condition holds):

``shift_to_solar``     export in solar hours and import in the evening peak both > 0
``base_load``          typical night load >= 10 % above the best nights' level
``peak_demand``        highest hourly grid demand (import) >= 2 × the mean and
                       above its 95th percentile, and shaving it to that
                       percentile is worth money: demand charge × the kW above
                       it, plus any time-of-use difference (without either the
                       check says so instead of giving a zero-valued item)
``power_factor``       mean power factor < 0.9
``phase_imbalance``    mean phase imbalance > 10 %
``voltage_excursions`` readings beyond ±10 % of nominal voltage on >= 2 days
                       and >= 1 per week on average
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from energy_dash.domain.tariffs import Tariff, split_flows
from energy_dash.domain.times import hours_text

DAYS_PER_MONTH = 30.0
LOSS_SHARE = 0.02
TARGET_POWER_FACTOR = 0.95
POWER_FACTOR_THRESHOLD = 0.9
IMBALANCE_THRESHOLD = 10.0  # [%]
VOLTAGE_TOLERANCE = 0.10
PEAK_RATIO_THRESHOLD = 2.0
BASE_LOAD_MIN_REDUCTION = 0.10  # share of the typical night load
NIGHT_HOURS = (1, 5)  # local [01:00, 05:00)
EVENING_HOURS = (17, 22)  # local [17:00, 22:00)
SOLAR_HOUR_SHARE = 0.10  # of the peak hour's mean production
MIN_NIGHTS = 7



@dataclass(frozen=True)
class Recommendation:
    """One recommendation: what to do, what it is worth, and why we think so.

    Attributes
    ----------
    key : str
        Stable identifier (e.g. ``"power_factor"``).
    title : str
        Short imperative title.
    detail : str
        Plain-words explanation with the numbers, hours and the computation.
    kwh_per_month : float
        Grid energy avoided [kWh/month] (0 when the action moves energy only).
    money_per_month : float
        Value [money/month] under the given tariff.
    evidence : dict
        The figures the recommendation was computed from.
    """

    key: str
    title: str
    detail: str
    kwh_per_month: float
    money_per_month: float
    evidence: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------
# Preparation
# --------------------------------------------------------------------------


@dataclass
class _Readings:
    local: pd.DatetimeIndex
    hours: float  # interval length [h]
    consumed: np.ndarray  # [kWh] per interval, NaN when missing
    produced: np.ndarray  # [kWh] per interval, 0 when missing
    frame: pd.DataFrame

    @property
    def hour(self) -> np.ndarray:
        return self.local.hour.to_numpy()

    @property
    def weekday(self) -> np.ndarray:
        return self.local.day_of_week.to_numpy()

    @property
    def net(self) -> np.ndarray:
        return self.consumed - self.produced

    @property
    def imports(self) -> np.ndarray:
        return split_flows(self.produced, self.consumed)[0]

    @property
    def exports(self) -> np.ndarray:
        return split_flows(self.produced, self.consumed)[1]

    @property
    def covered_days(self) -> float:
        return float(np.isfinite(self.consumed).sum() * self.hours / 24.0)

    def column(self, name: str) -> np.ndarray:
        if name not in self.frame:
            return np.full(len(self.frame), np.nan)
        return pd.to_numeric(self.frame[name], errors="coerce").to_numpy(dtype=float)

    def per_month(self, total: float, days: float | None = None) -> float:
        days = self.covered_days if days is None else days
        return total / days * DAYS_PER_MONTH if days > 0 else 0.0


def _prepare(frame: pd.DataFrame, tz: str) -> _Readings:
    if not isinstance(frame.index, pd.DatetimeIndex) or frame.index.tz is None:
        raise ValueError("readings must be indexed by a tz-aware DatetimeIndex")
    frame = frame.sort_index()
    frame = frame[~frame.index.duplicated(keep="last")]
    index = frame.index
    if len(index) >= 2:
        step = pd.Timedelta(float(np.median(np.diff(index.asi8))), unit=index.unit)
        hours = step / pd.Timedelta(hours=1)
    else:
        hours = 1.0
    consumed = (
        pd.to_numeric(frame["energy_consumed"], errors="coerce").to_numpy(dtype=float)
        if "energy_consumed" in frame
        else np.full(len(frame), np.nan)
    )
    produced = (
        pd.to_numeric(frame["energy_produced"], errors="coerce")
        .fillna(0.0)
        .to_numpy(dtype=float)
        if "energy_produced" in frame
        else np.zeros(len(frame))
    )
    return _Readings(index.tz_convert(tz), hours, consumed, produced, frame)


def _hourly_profile(r: _Readings, energy: np.ndarray) -> np.ndarray:
    """Mean power per local hour of day [kW], index 0..23 (NaN without data)."""
    kw = energy / r.hours
    ok = np.isfinite(kw)
    total = np.bincount(r.hour[ok], weights=kw[ok], minlength=24)
    count = np.bincount(r.hour[ok], minlength=24)
    return np.divide(total, count, out=np.full(24, np.nan), where=count > 0)


def _mean_import_price(
    r: _Readings, tariff: Tariff, mask: np.ndarray | None = None
) -> float:
    """Import-weighted mean import price [money/kWh] (base price without imports)."""
    imports = np.nan_to_num(r.imports)
    if mask is not None:
        imports = np.where(mask, imports, 0.0)
    total = imports.sum()
    if total <= 0:
        return float(tariff.import_price)
    prices = tariff.import_prices(r.hour, r.weekday)
    return float((imports * prices).sum() / total)


def _money(value: float, tariff: Tariff) -> str:
    return f"{value:,.2f} {tariff.currency}"


def _price(value: float, tariff: Tariff) -> str:
    return f"{value:.4g} {tariff.currency}/kWh"


# --------------------------------------------------------------------------
# Individual recommendations
# --------------------------------------------------------------------------


def _shift_to_solar(
    r: _Readings,
    tariff: Tariff,
    forecast: pd.DataFrame | None,
    evening: tuple[int, int],
    tz: str,
) -> Recommendation | None:
    produced = _hourly_profile(r, np.where(np.isfinite(r.consumed), r.produced, np.nan))
    if not np.isfinite(produced).any() or np.nanmax(produced) <= 0:
        return None
    solar_hours = [
        h
        for h in range(24)
        if np.isfinite(produced[h])
        and produced[h] >= SOLAR_HOUR_SHARE * np.nanmax(produced)
    ]
    export_kw = _hourly_profile(r, r.exports)
    import_kw = _hourly_profile(r, r.imports)
    evening_hours = list(range(evening[0], evening[1]))
    export_day = float(np.nansum(export_kw[solar_hours]))  # [kWh/day]: kW × 1 h
    import_day = float(np.nansum(import_kw[evening_hours]))
    shift_day = min(export_day, import_day)
    kwh = shift_day * DAYS_PER_MONTH
    evening_price = _mean_import_price(r, tariff, np.isin(r.hour, evening_hours))
    gain = evening_price - tariff.export_price
    if kwh < 1.0 or gain <= 0:
        return None
    money = kwh * gain
    evidence: dict[str, Any] = {
        "solar_hours": solar_hours,
        "evening_hours": evening_hours,
        "export_in_solar_hours_kwh_per_day": export_day,
        "import_in_evening_kwh_per_day": import_day,
        "evening_import_price": evening_price,
        "export_price": tariff.export_price,
    }
    detail = (
        f"On an average day you export {export_day:.1f} kWh in the solar hours "
        f"({hours_text(solar_hours)}) and import {import_day:.1f} kWh in the evening "
        f"({hours_text(evening_hours)}). Running flexible loads (dishwasher, "
        f"washing machine, water heating, EV charging) in the solar hours instead can "
        f"use up to "
        f"min({export_day:.1f}, {import_day:.1f}) = {shift_day:.1f} kWh/day yourself: "
        f"{shift_day:.1f} × {DAYS_PER_MONTH:g} days = {kwh:.0f} kWh/month less import, "
        f"worth {kwh:.0f} kWh × ({_price(evening_price, tariff)} import − "
        f"{_price(tariff.export_price, tariff)} export) = "
        f"{_money(money, tariff)}/month."
    )
    best = _best_forecast_window(forecast, tz)
    if best is not None:
        evidence["forecast_best_window"] = best
        detail += (
            f" The production forecast is highest on {best['start']:%a %d %b} between "
            f"{best['start']:%H:%M} and {best['end']:%H:%M} ({best['kwh']:.1f} kWh)."
        )
    return Recommendation(
        key="shift_to_solar",
        title="Run flexible loads in the solar hours",
        detail=detail,
        kwh_per_month=kwh,
        money_per_month=money,
        evidence=evidence,
    )


def _best_forecast_window(
    forecast: pd.DataFrame | None, tz: str, hours: int = 3
) -> dict[str, Any] | None:
    """The ``hours``-long local window with the most forecast production."""
    if forecast is None or "yhat" not in forecast or forecast.empty:
        return None
    index = forecast.index
    if not isinstance(index, pd.DatetimeIndex) or index.tz is None:
        return None
    hourly = forecast["yhat"].clip(lower=0).resample("1h").sum(min_count=1).dropna()
    if len(hourly) < hours:
        return None
    window = hourly.rolling(hours).sum().dropna()
    if window.max() <= 0:
        return None
    end = window.idxmax() + pd.Timedelta(hours=1)
    return {
        "start": (end - pd.Timedelta(hours=hours)).tz_convert(tz),
        "end": end.tz_convert(tz),
        "kwh": float(window.max()),
    }


def _base_load(r: _Readings, tariff: Tariff) -> Recommendation | None:
    kw = r.consumed / r.hours
    night = (r.hour >= NIGHT_HOURS[0]) & (r.hour < NIGHT_HOURS[1]) & np.isfinite(kw)
    if not night.any():
        return None
    dates = r.local[night].tz_localize(None).normalize()
    nightly = pd.Series(kw[night]).groupby(dates.to_numpy()).mean()
    if len(nightly) < MIN_NIGHTS:
        return None
    typical = float(nightly.median())
    best = float(np.percentile(nightly.to_numpy(), 10))
    reduction = typical - best
    if typical <= 0 or reduction < BASE_LOAD_MIN_REDUCTION * typical:
        return None
    kwh = reduction * 24.0 * DAYS_PER_MONTH
    price = _week_average_price(r, tariff)
    money = kwh * price
    detail = (
        f"On a typical night ({hours_text(list(range(*NIGHT_HOURS)))}) the facility "
        f"draws {typical:.2f} kW (median of {len(nightly)} nights); the best 10 % of "
        f"nights get down to {best:.2f} kW. Whatever runs on the other nights but not "
        f"on those (standby equipment, ventilation, heating or cooling left on, "
        f"compressors) runs around the clock: bringing the always-on load down to "
        f"{best:.2f} kW saves {reduction:.2f} kW × 24 h × {DAYS_PER_MONTH:g} days = "
        f"{kwh:.0f} kWh/month, worth {_money(money, tariff)}/month at an average "
        f"{_price(price, tariff)} (import price in the hours you import, export price "
        f"in the hours you export)."
    )
    return Recommendation(
        key="base_load",
        title="Reduce the always-on base load",
        detail=detail,
        kwh_per_month=kwh,
        money_per_month=money,
        evidence={
            "typical_night_kw": typical,
            "best_nights_kw": best,
            "nights": len(nightly),
            "reduction_kw": reduction,
            "average_price": price,
        },
    )


def _week_average_price(r: _Readings, tariff: Tariff) -> float:
    """Mean over the 168 local hours of the week of the energy value [money/kWh].

    An hour of the week is worth the import price where the facility imports
    on average in that hour, and the export price where it exports.
    """
    net = r.net / r.hours
    ok = np.isfinite(net)
    slot = r.weekday * 24 + r.hour
    total = np.bincount(slot[ok], weights=net[ok], minlength=168)
    count = np.bincount(slot[ok], minlength=168)
    exporting = (count > 0) & (total < 0)
    prices = tariff.import_prices(
        np.tile(np.arange(24), 7), np.repeat(np.arange(7), 24)
    )
    prices = np.where(exporting, tariff.export_price, prices)
    return float(prices.mean())


def _hourly_demand(r: _Readings) -> pd.Series:
    """Mean grid demand (import) per clock hour [kW] on the local index: what a
    demand charge is billed on (production on site lowers it)."""
    kw = pd.Series(r.imports / r.hours, index=r.local)
    return kw.resample("1h").mean().dropna()


def _peak_demand(
    r: _Readings, tariff: Tariff, notes: dict[str, str] | None = None
) -> Recommendation | None:
    notes = {} if notes is None else notes
    hourly = _hourly_demand(r)
    if len(hourly) < 24:
        return None
    mean = float(hourly.mean())
    peak = float(hourly.max())
    if mean <= 0 or peak < PEAK_RATIO_THRESHOLD * mean:
        if mean > 0:
            notes["peak_demand"] = (
                f"the highest hourly grid demand, {peak:.1f} kW, is under "
                f"{PEAK_RATIO_THRESHOLD:g} × the mean of {mean:.1f} kW: no "
                f"pronounced peaks"
            )
        return None
    p95 = float(np.percentile(hourly.to_numpy(), 95))
    excess = (hourly - p95).clip(lower=0)
    days = len(hourly) / 24.0
    moved = float(excess.sum()) * DAYS_PER_MONTH / days  # [kWh/month]
    if moved <= 0:
        return None  # the top hours are no higher than the 95th percentile
    prices = tariff.import_prices(
        excess.index.hour.to_numpy(), excess.index.day_of_week.to_numpy()
    )
    peak_price = (
        float((excess * prices).sum() / excess.sum()) if excess.sum() > 0 else 0.0
    )
    cheapest = float(
        tariff.import_prices(
            np.tile(np.arange(24), 7), np.repeat(np.arange(7), 24)
        ).min()
    )
    shaved = peak - p95
    demand_money = shaved * tariff.demand_charge
    tou_money = moved * max(peak_price - cheapest, 0.0)
    if tou_money < MIN_MONEY:
        tou_money = 0.0  # one price all day (rounding noise of the mean)
    money = demand_money + tou_money
    when = hourly.idxmax()
    if money < MIN_MONEY:
        notes["peak_demand"] = (
            f"the highest hourly grid demand was {peak:.1f} kW "
            f"({when:%a %d %b %H:00}), {shaved:.1f} kW above the 95th percentile, "
            f"but the tariff has no demand charge and no dearer peak hours, so "
            f"shaving it saves nothing (enter the demand charge in Settings if "
            f"your bill has one)"
        )
        return None
    detail = (
        f"Your highest hourly grid demand was {peak:.1f} kW "
        f"({when:%a %d %b %H:00}), {peak / mean:.1f} times the mean of {mean:.1f} kW; "
        f"95 % of hours stay at or below {p95:.1f} kW. Staggering the loads that "
        f"coincide in the peak hours (machine start-ups, EV charging, heating) keeps "
        f"demand under {p95:.1f} kW by moving the energy above that line, "
        f"{moved:.1f} kWh/month, to other hours."
    )
    if tariff.demand_charge:
        detail += (
            f" The demand charge of {tariff.demand_charge:g} {tariff.currency}/kW "
            f"per month is billed on the month's highest hourly demand: keeping it "
            f"at {p95:.1f} kW takes {shaved:.3f} kW off the peak, × "
            f"{tariff.demand_charge:g} {tariff.currency}/kW = "
            f"{_money(demand_money, tariff)}/month."
        )
    if tou_money:
        detail += (
            f" Moving it from {_price(peak_price, tariff)} to the cheapest hours at "
            f"{_price(cheapest, tariff)} saves {_money(tou_money, tariff)}/month."
        )
    return Recommendation(
        key="peak_demand",
        title="Shave the demand peaks",
        detail=detail,
        kwh_per_month=0.0,
        money_per_month=money,
        evidence={
            "peak_kw": peak,
            "peak_time": when,
            "mean_kw": mean,
            "p95_kw": p95,
            "peak_to_mean": peak / mean,
            "moved_kwh_per_month": moved,
            "reducible_kw": shaved,
            "demand_charge": tariff.demand_charge,
            "demand_money_per_month": demand_money,
            "tou_money_per_month": tou_money,
        },
    )


def _power_factor(r: _Readings, tariff: Tariff) -> Recommendation | None:
    pf = r.column("power_factor")
    valid = np.isfinite(pf) & (pf > 0) & (pf <= 1)
    if not valid.any():
        return None
    mean_pf = float(pf[valid].mean())
    if mean_pf >= POWER_FACTOR_THRESHOLD:
        return None
    target = TARGET_POWER_FACTOR
    use = valid & np.isfinite(r.consumed) & (pf < target)
    kwh_used = np.where(use, r.consumed, 0.0)
    pf_used = np.where(use, pf, target)
    tan_now = np.tan(np.arccos(pf_used))
    tan_target = math.tan(math.acos(target))
    kvarh = r.per_month(float((kwh_used * (tan_now - tan_target)).sum()))
    loss_cut = 1.0 - (pf_used / target) ** 2
    kwh = r.per_month(float((kwh_used * LOSS_SHARE * loss_cut).sum()))
    price = _mean_import_price(r, tariff)
    money = kwh * price + kvarh * tariff.reactive_price
    consumed_month = r.per_month(float(np.nansum(r.consumed)))
    detail = (
        f"The average power factor is {mean_pf:.2f} ({int(valid.sum())} readings), "
        f"below {POWER_FACTOR_THRESHOLD:g}: the supply carries 1 / {mean_pf:.2f} = "
        f"{1 / mean_pf:.2f} times the current the work needs ({1 / target:.2f} times "
        f"at {target:g}). Power-factor correction (a capacitor bank sized by an "
        f"electrician) to {target:g} removes {kvarh:.0f} kvarh/month of reactive "
        f"energy and cuts wiring losses by 1 − ({mean_pf:.2f} / {target:g})² = "
        f"{1 - (mean_pf / target) ** 2:.1%}. Assuming those losses are "
        f"{LOSS_SHARE:.0%} of the {consumed_month:.0f} kWh/month consumed, that saves "
        f"{kwh:.1f} kWh/month ({_money(kwh * price, tariff)} at "
        f"{_price(price, tariff)})"
    )
    if tariff.reactive_price:
        detail += (
            f", plus {kvarh:.0f} kvarh × {tariff.reactive_price:g} "
            f"{tariff.currency}/kvarh"
            f" = {_money(kvarh * tariff.reactive_price, tariff)} of reactive charges"
        )
    detail += "."
    return Recommendation(
        key="power_factor",
        title="Correct the power factor",
        detail=detail,
        kwh_per_month=kwh,
        money_per_month=money,
        evidence={
            "mean_power_factor": mean_pf,
            "target_power_factor": target,
            "readings": int(valid.sum()),
            "reactive_kvarh_saved_per_month": kvarh,
            "loss_share_assumed": LOSS_SHARE,
        },
    )


def _phase_imbalance(r: _Readings, tariff: Tariff) -> Recommendation | None:
    currents = np.column_stack([r.column(f"current{k}") for k in (1, 2, 3)])
    mean = currents.mean(axis=1)
    valid = np.isfinite(currents).all(axis=1) & (mean > 0)
    if not valid.any():
        return None
    c, m = currents[valid], mean[valid]
    imbalance = np.abs(c - m[:, None]).max(axis=1) / m * 100.0
    avg = float(imbalance.mean())
    if avg <= IMBALANCE_THRESHOLD:
        return None
    loss_cut = 1.0 - 3.0 * m**2 / (c**2).sum(axis=1)  # same current, shared evenly
    consumed = np.nan_to_num(r.consumed[valid])
    kwh = r.per_month(float((consumed * LOSS_SHARE * loss_cut).sum()))
    price = _mean_import_price(r, tariff)
    money = kwh * price
    phase_means = c.mean(axis=0)
    heavy, light = int(np.argmax(phase_means)) + 1, int(np.argmin(phase_means)) + 1
    currents_text = " / ".join(f"{x:.1f}" for x in phase_means)
    detail = (
        f"The phase currents average {currents_text} A (L1 / L2 / L3). The imbalance, "
        f"the largest deviation of a phase from the mean of the three as a share of "
        f"that mean, averages {avg:.1f} % over {int(valid.sum())} readings (above "
        f"{IMBALANCE_THRESHOLD:g} %). Moving single-phase loads from L{heavy} to "
        f"L{light} evens them out; the same current spread evenly cuts wiring losses "
        f"by {float(loss_cut.mean()):.1%}. Assuming those losses are {LOSS_SHARE:.0%} "
        f"of consumption, that saves {kwh:.2f} kWh/month ({_money(money, tariff)}), "
        f"and it relieves the neutral conductor and the most loaded phase."
    )
    return Recommendation(
        key="phase_imbalance",
        title=f"Balance the phases (move load from L{heavy} to L{light})",
        detail=detail,
        kwh_per_month=kwh,
        money_per_month=money,
        evidence={
            "imbalance_pct": avg,
            "phase_mean_currents_a": [float(x) for x in phase_means],
            "readings": int(valid.sum()),
            "loss_share_assumed": LOSS_SHARE,
        },
    )


def _voltage_excursions(
    r: _Readings, nominal: float, tariff: Tariff
) -> Recommendation | None:
    v = r.column("voltage")
    ok = np.isfinite(v)
    if not ok.any():
        return None
    low, high = (1 - VOLTAGE_TOLERANCE) * nominal, (1 + VOLTAGE_TOLERANCE) * nominal
    out = ok & ((v < low) | (v > high))
    count = int(out.sum())
    weeks = ok.sum() * r.hours / 24.0 / 7.0
    per_week = count / weeks if weeks > 0 else 0.0
    days = r.local[out].tz_localize(None).normalize().unique()
    if len(days) < 2 or per_week < 1.0:
        return None
    hours = pd.Series(r.hour[out]).value_counts()
    usual = int(hours.index[0])
    detail = (
        f"{count} readings were outside {low:.0f}–{high:.0f} V "
        f"(±{VOLTAGE_TOLERANCE:.0%} "
        f"of {nominal:g} V) over {weeks:.1f} weeks: {per_week:.1f} per week, on "
        f"{len(days)} different days, most often at {usual:02d}:00 (lowest "
        f"{np.nanmin(v[out]):.0f} V, highest {np.nanmax(v[out]):.0f} V). Recurring "
        f"excursions stress motors, drives and electronics: ask your grid operator to "
        f"check the supply (share these times) and an electrician to check the "
        f"connection and the neutral."
    )
    return Recommendation(
        key="voltage_excursions",
        title="Have the recurring voltage excursions checked",
        detail=detail,
        kwh_per_month=0.0,
        money_per_month=0.0,
        evidence={
            "excursions": count,
            "per_week": per_week,
            "days": len(days),
            "usual_hour": usual,
            "low_limit_v": low,
            "high_limit_v": high,
            "min_v": float(np.nanmin(v[out])),
            "max_v": float(np.nanmax(v[out])),
        },
    )


# --------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------


CHECKS = {
    "shift_to_solar": "Moving evening load into solar hours",
    "base_load": "Night-time base load",
    "peak_demand": "Demand peaks",
    "power_factor": "Power factor",
    "phase_imbalance": "Phase balance",
    "voltage_excursions": "Voltage excursions",
}
"""Every check ``recommend`` runs, with the words the page uses for it."""
MIN_MONEY = 0.005  # [money/month]: below a cent a month is nothing to gain
MIN_KWH = 0.05  # [kWh/month]


def worth_it(rec: Recommendation) -> bool:
    """True when a recommendation saves money or energy; zero-valued advice is
    reported as checked and fine instead of being ranked."""
    return rec.money_per_month >= MIN_MONEY or rec.kwh_per_month >= MIN_KWH


def checked_fine(
    recs: list[Recommendation], notes: dict[str, str] | None = None
) -> list[str]:
    """Names of the checks that found nothing to report (see ``CHECKS``), each
    with what it found in brackets where ``notes`` (from :func:`recommend`) says."""
    found = {r.key for r in recs}
    notes = notes or {}
    return [f"{name} ({notes[key]})" if key in notes else name
            for key, name in CHECKS.items() if key not in found]


def recommend(
    readings: pd.DataFrame,
    tz: str,
    tariff: Tariff,
    *,
    nominal_voltage: float = 230.0,
    forecast: pd.DataFrame | None = None,
    evening_hours: tuple[int, int] = EVENING_HOURS,
    notes: dict[str, str] | None = None,
) -> list[Recommendation]:
    """Energy-saving recommendations, ranked by money per month (highest first).

    Parameters
    ----------
    readings : pd.DataFrame
        Readings at a regular interval on a tz-aware ``DatetimeIndex``:
        ``energy_produced``, ``energy_consumed`` [kWh per interval], ``voltage``
        [V], ``current1``..``current3`` [A], ``power_factor`` [-]; any may be
        missing.
    tz : str
        The facility's IANA time zone (hours and days are local).
    tariff : Tariff
        Prices used to value the savings.
    nominal_voltage : float
        Nominal supply voltage [V].
    forecast : pd.DataFrame or None
        A production forecast (``forecasting.forecast`` output, ``yhat`` [kWh per
        step]); when given, the solar-shift advice names its best 3-hour window.
    evening_hours : (int, int)
        Local evening peak [start, end) hours used by the solar-shift advice.
    notes : dict or None
        Filled with ``{key: reason}`` for checks that looked and found nothing to
        gain, in words (e.g. peaks that no demand charge makes worth shaving).

    Returns
    -------
    list of Recommendation
        Only those whose condition holds (module docstring), sorted by
        ``money_per_month`` then ``kwh_per_month`` (both descending) then ``key``.
        Callers rank only those ``worth_it`` and show the others unranked, without
        a price (``checked_fine`` names the checks that found nothing at all).
    """
    if readings.empty:
        return []
    r = _prepare(readings, tz)
    found = [
        _shift_to_solar(r, tariff, forecast, evening_hours, tz),
        _base_load(r, tariff),
        _peak_demand(r, tariff, notes),
        _power_factor(r, tariff),
        _phase_imbalance(r, tariff),
        _voltage_excursions(r, nominal_voltage, tariff),
    ]
    recs = [x for x in found if x is not None]
    return sorted(recs, key=lambda x: (-x.money_per_month, -x.kwh_per_month, x.key))
