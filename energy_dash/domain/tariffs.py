"""Where the standing charge (and every other part of a bill) is computed: tariffs
and the one cost engine.

Import and export are per interval: import = consumed − min(produced, consumed),
export = produced − min(produced, consumed) [kWh]. Each interval's import is priced
at the tariff's price for its local hour and weekday (time-of-use windows; the first
matching window wins), export is credited at the export price, and the standing
charge [money/day] is due for every local calendar day the period touches (a period
ending at local midnight does not touch the next day). total = import cost − export
credit + standing charge. The same engine prices the /historical and /forecast cost
figures, the recommendations and :func:`monthly_cost` / :func:`cost_breakdown`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from energy_dash.domain.times import local_days_touched

ALL_DAYS = (0, 1, 2, 3, 4, 5, 6)


@dataclass(frozen=True)
class TouWindow:
    """A time-of-use price window (local time).

    Parameters
    ----------
    start_hour : int
        First local hour of the window [0–23], inclusive.
    end_hour : int
        Local hour where the window ends [1–24], exclusive. ``start_hour >
        end_hour`` wraps past midnight (e.g. 22 → 6).
    price : float
        Import price inside the window [money/kWh]; replaces the base price.
    weekdays : tuple of int
        Days the window applies on (0 = Monday … 6 = Sunday), judged by the
        timestamp's own local date.
    """

    start_hour: int
    end_hour: int
    price: float
    weekdays: tuple[int, ...] = ALL_DAYS

    def __post_init__(self) -> None:
        if not (0 <= self.start_hour <= 23 and 1 <= self.end_hour <= 24):
            raise ValueError(
                "TouWindow hours must be 0 <= start <= 23 and 1 <= end <= 24"
            )
        if self.start_hour == self.end_hour:
            raise ValueError("TouWindow start_hour and end_hour must differ")
        if not set(self.weekdays) <= set(ALL_DAYS):
            raise ValueError("TouWindow weekdays must be within 0 (Mon) .. 6 (Sun)")

    def contains(self, hour: np.ndarray, weekday: np.ndarray) -> np.ndarray:
        """Whether local ``hour`` and ``weekday`` (arrays) fall in the window."""
        if self.start_hour < self.end_hour:
            in_hours = (hour >= self.start_hour) & (hour < self.end_hour)
        else:
            in_hours = (hour >= self.start_hour) | (hour < self.end_hour)
        return in_hours & np.isin(weekday, self.weekdays)


@dataclass(frozen=True)
class Tariff:
    """An electricity tariff.

    Parameters
    ----------
    import_price : float
        Price of imported energy outside any TOU window [money/kWh].
    export_price : float
        Feed-in price paid for exported energy [money/kWh].
    standing_charge : float
        Fixed charge [money/day].
    tou : tuple of TouWindow
        Time-of-use windows; the first matching window sets the import price.
    demand_charge : float
        Charge on the highest hourly demand [money/kW/month]; 0 if none.
    reactive_price : float
        Charge for reactive energy [money/kvarh]; 0 if none.
    currency : str
        Label used in the recommendation texts.
    """

    import_price: float
    export_price: float = 0.0
    standing_charge: float = 0.0
    tou: tuple[TouWindow, ...] = ()
    demand_charge: float = 0.0
    reactive_price: float = 0.0
    currency: str = "EUR"

    def import_price_at(self, local_ts: datetime | pd.Timestamp) -> float:
        """Import price [money/kWh] at a local time (wall clock of ``local_ts``)."""
        ts = pd.Timestamp(local_ts)
        return float(
            self.import_prices(np.array([ts.hour]), np.array([ts.weekday()]))[0]
        )

    def import_prices(self, hour: np.ndarray, weekday: np.ndarray) -> np.ndarray:
        """Vectorised import price [money/kWh] for local hours and weekdays."""
        hour = np.asarray(hour)
        weekday = np.asarray(weekday)
        price = np.full(hour.shape, float(self.import_price))
        done = np.zeros(hour.shape, dtype=bool)
        for window in self.tou:
            hit = window.contains(hour, weekday) & ~done
            price[hit] = window.price
            done |= hit
        return price


# ----------------------------------------------------------------- tariff settings
class TariffError(ValueError):
    """A refused tariff value: ``field`` names it, the message explains."""

    def __init__(self, field_name: str, message: str):
        super().__init__(message)
        self.field = field_name


MAX_PRICE = 1000.0
MAX_TOU_WINDOWS = 12
CURRENCY_RE = re.compile(r"^[A-Z]{3}$")


def default_tariff() -> dict[str, Any]:
    """The tariff used until a facility stores its own (the model's defaults)."""
    return {
        "currency": "EUR",
        "import_price": 0.30,
        "export_price": 0.08,
        "standing_charge": 0.0,
        "tou": [],
        "configured": False,
    }


def _price(raw: Any, name: str, label: str, *, required: bool = True) -> float:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        if required:
            raise TariffError(name, f"{label} is required.")
        return 0.0
    if isinstance(raw, bool):
        raise TariffError(name, f"{label} must be a number.")
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise TariffError(name, f"{label} must be a number.") from None
    if not math.isfinite(value):
        raise TariffError(name, f"{label} must be a finite number.")
    if value < 0:
        raise TariffError(name, f"{label} must be 0 or more.")
    if value > MAX_PRICE:
        raise TariffError(name, f"{label} must be at most {MAX_PRICE:g}.")
    return value


def _whole(raw: Any, name: str, label: str, low: int, high: int) -> int:
    if raw is None or isinstance(raw, bool) or (isinstance(raw, str) and not raw):
        raise TariffError(name, f"{label} is required.")
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise TariffError(name, f"{label} must be a whole number.") from None
    if not math.isfinite(value) or value != int(value):
        raise TariffError(name, f"{label} must be a whole number.")
    if not low <= value <= high:
        raise TariffError(name, f"{label} must be between {low} and {high}.")
    return int(value)


def _window(raw: Any, k: int) -> dict[str, Any]:
    prefix = f"tou[{k}]"
    label = f"Time-of-use window {k + 1}"
    if not isinstance(raw, dict):
        raise TariffError(prefix, f"{label} must be an object.")
    start = _whole(raw.get("start_hour"), f"{prefix}.start_hour",
                   f"{label}: start hour", 0, 23)
    end = _whole(raw.get("end_hour"), f"{prefix}.end_hour",
                 f"{label}: end hour", 1, 24)
    if start == end:
        raise TariffError(f"{prefix}.end_hour",
                          f"{label}: start and end hour must differ.")
    price = _price(raw.get("price"), f"{prefix}.price", f"{label}: price")
    days_raw = raw.get("weekdays", list(ALL_DAYS))
    if days_raw is None or isinstance(days_raw, str | bytes) or not isinstance(
        days_raw, Iterable
    ):
        raise TariffError(f"{prefix}.weekdays",
                          f"{label}: weekdays must be a list of 0 (Mon) … 6 (Sun).")
    days = sorted({_whole(d, f"{prefix}.weekdays", f"{label}: weekday", 0, 6)
                   for d in days_raw})
    if not days:
        raise TariffError(f"{prefix}.weekdays",
                          f"{label}: choose at least one weekday.")
    return {"start_hour": start, "end_hour": end, "price": price, "weekdays": days}


def clean_tariff(values: dict[str, Any]) -> dict[str, Any]:
    """Validate a tariff; raises :class:`TariffError` naming the first bad field.

    Fields: ``import_price``, ``export_price`` [currency/kWh] (finite, 0 … 1000),
    ``standing_charge`` [currency/day] (optional, default 0), ``currency`` (a
    three-letter code such as ``EUR``; default EUR) and ``tou``: a list of at
    most 12 windows ``{"start_hour": 0–23, "end_hour": 1–24, "price",
    "weekdays": [0 (Mon) … 6 (Sun)]}`` in local time (start > end wraps past
    midnight; the first matching window sets the import price).
    """
    if not isinstance(values, dict):
        raise TariffError("tariff", "A tariff must be an object.")
    currency = values.get("currency")
    currency = "EUR" if currency is None else str(currency).strip().upper()
    if not CURRENCY_RE.match(currency):
        raise TariffError(
            "currency", "Currency must be a three-letter code such as EUR or USD."
        )
    clean = {
        "import_price": _price(values.get("import_price"), "import_price",
                               "Import price"),
        "export_price": _price(values.get("export_price"), "export_price",
                               "Export price"),
        "standing_charge": _price(values.get("standing_charge"), "standing_charge",
                                  "Standing charge", required=False),
        "currency": currency,
    }
    windows = values.get("tou") or []
    if isinstance(windows, dict):
        windows = windows.get("windows") or []
    if not isinstance(windows, list | tuple):
        raise TariffError("tou", "Time-of-use windows must be a list.")
    if len(windows) > MAX_TOU_WINDOWS:
        raise TariffError("tou", f"At most {MAX_TOU_WINDOWS} time-of-use windows.")
    clean["tou"] = [_window(w, k) for k, w in enumerate(windows)]
    return clean


def tariff_model(tariff: dict[str, Any]) -> Tariff:
    """A :class:`energy_dash.domain.recommendations.Tariff` from a tariff dict."""
    windows = tuple(
        TouWindow(
            int(w["start_hour"]),
            int(w["end_hour"]),
            float(w["price"]),
            tuple(int(d) for d in w.get("weekdays", ALL_DAYS)),
        )
        for w in tariff.get("tou") or []
    )
    return Tariff(
        import_price=float(tariff["import_price"]),
        export_price=float(tariff["export_price"]),
        standing_charge=float(tariff.get("standing_charge") or 0.0),
        tou=windows,
        currency=tariff.get("currency") or "EUR",
    )


# --------------------------------------------------------------------- the engine
def interval_charges(
    local: pd.DatetimeIndex, imports: np.ndarray, exports: np.ndarray, tariff: Tariff
) -> pd.DataFrame:
    """Per interval: ``import_kwh``, ``export_kwh``, ``import_cost``,
    ``export_credit`` and the import ``price``, indexed by local time."""
    prices = tariff.import_prices(local.hour.to_numpy(), local.day_of_week.to_numpy())
    imports = np.nan_to_num(np.asarray(imports, dtype=float))
    exports = np.nan_to_num(np.asarray(exports, dtype=float))
    return pd.DataFrame(
        {
            "import_kwh": imports,
            "export_kwh": exports,
            "import_cost": imports * prices,
            "export_credit": exports * tariff.export_price,
            "price": prices,
        },
        index=local,
    )


def standing_charge(days: int, tariff: Tariff) -> float:
    """The standing charge [money] of ``days`` local calendar days."""
    return days * tariff.standing_charge


def bill(
    charges: pd.DataFrame, days: int, tariff: Tariff
) -> dict[str, float | int]:
    """Sum :func:`interval_charges` of a period of ``days`` local days into a bill."""
    import_cost = float(charges["import_cost"].sum())
    export_credit = float(charges["export_credit"].sum())
    standing = standing_charge(days, tariff)
    return {
        "import_kwh": float(charges["import_kwh"].sum()),
        "export_kwh": float(charges["export_kwh"].sum()),
        "import_cost": import_cost,
        "export_credit": export_credit,
        "standing": standing,
        "total": import_cost - export_credit + standing,
        "days": int(days),
    }


def split_flows(
    produced: np.ndarray, consumed: np.ndarray, self_used: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(imports, exports) [kWh]: consumed and produced minus what was used on site.

    ``self_used`` is Σ min(produced, consumed) per reading when the intervals are
    buckets of several readings; by default the intervals are single readings.
    """
    produced = np.nan_to_num(np.asarray(produced, dtype=float))
    consumed = np.asarray(consumed, dtype=float)
    if self_used is None:
        self_used = np.minimum(produced, np.nan_to_num(consumed))
    self_used = np.nan_to_num(np.asarray(self_used, dtype=float))
    imports = np.clip(consumed - self_used, 0.0, None)
    exports = np.clip(produced - self_used, 0.0, None)
    exports = np.where(np.isnan(consumed), np.nan, exports)  # interval left out
    return imports, exports


def _frame_charges(frame: pd.DataFrame, tariff: Tariff, tz: str) -> pd.DataFrame:
    if not isinstance(frame.index, pd.DatetimeIndex) or frame.index.tz is None:
        raise ValueError("readings must be indexed by a tz-aware DatetimeIndex")
    frame = frame.sort_index()
    frame = frame[~frame.index.duplicated(keep="last")]
    produced = (
        pd.to_numeric(frame["energy_produced"], errors="coerce").to_numpy(dtype=float)
        if "energy_produced" in frame
        else np.zeros(len(frame))
    )
    consumed = (
        pd.to_numeric(frame["energy_consumed"], errors="coerce").to_numpy(dtype=float)
        if "energy_consumed" in frame
        else np.full(len(frame), np.nan)
    )
    imports, exports = split_flows(produced, consumed)
    return interval_charges(frame.index.tz_convert(tz), imports, exports, tariff)


def _span_days(local: pd.DatetimeIndex, tz: str) -> int:
    """Local days from the first to the last interval (every day in between)."""
    if len(local) == 0:
        return 0
    return local_days_touched(local[0], local[-1] + pd.Timedelta(microseconds=1), tz)


def monthly_cost(frame: pd.DataFrame, tariff: Tariff, tz: str) -> pd.DataFrame:
    """Energy cost per local calendar month (see the module docstring for the rules).

    Parameters
    ----------
    frame : pd.DataFrame
        Readings with ``energy_consumed`` and ``energy_produced`` [kWh per
        interval] on a tz-aware index.
    tariff : Tariff
        Prices.
    tz : str
        The facility's IANA time zone.

    Returns
    -------
    pd.DataFrame
        Indexed by the local month start (tz-aware, named ``month``), columns
        ``import_kwh``, ``export_kwh`` [kWh], ``import_cost``, ``export_credit``,
        ``standing_charge``, ``total`` [money], ``days`` [-]: the local days of
        the month from the first to the last reading.
    """
    columns = [
        "import_kwh",
        "export_kwh",
        "import_cost",
        "export_credit",
        "standing_charge",
        "total",
        "days",
    ]
    if frame.empty:
        return pd.DataFrame(
            columns=columns, index=pd.DatetimeIndex([], tz=tz, name="month")
        )
    charges = _frame_charges(frame, tariff, tz)
    local = charges.index
    month = local.tz_localize(None).to_period("M").start_time
    rows = {}
    for start, part in charges.groupby(month.to_numpy()):
        first = pd.Timestamp(start).tz_localize(tz)
        lo = max(first, local[0].normalize())
        hi = min(first + pd.offsets.MonthBegin(1), local[-1].normalize()
                 + pd.Timedelta(days=1))
        days = local_days_touched(lo, hi, tz)
        rows[first] = bill(part, days, tariff)
    out = pd.DataFrame.from_dict(rows, orient="index")
    out = out.rename(columns={"standing": "standing_charge"})
    out.index = pd.DatetimeIndex(out.index).rename("month")
    return out[columns]


def cost_breakdown(frame: pd.DataFrame, tariff: Tariff, tz: str) -> dict[str, Any]:
    """Total cost of the readings' period, split by import price.

    Returns ``import_kwh``, ``export_kwh`` [kWh], ``import_cost``,
    ``export_credit``, ``standing_charge``, ``total`` [money], ``days`` [-] (local
    days from the first to the last reading) and ``import_by_price``:
    ``{price [money/kWh]: {"kwh", "cost"}}``.
    """
    if frame.empty:
        zero = dict.fromkeys(
            ("import_kwh", "export_kwh", "import_cost", "export_credit",
             "standing_charge", "total"),
            0.0,
        )
        return {**zero, "days": 0, "import_by_price": {}}
    charges = _frame_charges(frame, tariff, tz)
    out: dict[str, Any] = bill(charges, _span_days(charges.index, tz), tariff)
    out["standing_charge"] = out.pop("standing")
    by_price = charges.groupby("price")[["import_kwh", "import_cost"]].sum()
    out["import_by_price"] = {
        float(p): {"kwh": float(row.import_kwh), "cost": float(row.import_cost)}
        for p, row in by_price.iterrows()
    }
    return out
