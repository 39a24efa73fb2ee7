"""Where the standing charge (and every other part of a bill) is computed: tariffs,
their versions and the one cost engine.

Import and export are per interval: import = consumed − min(produced, consumed),
export = produced − min(produced, consumed) [kWh]. Each interval's import is priced
at the tariff's price for its local hour and weekday (time-of-use windows; the first
matching window wins), export is credited at the export price, and the standing
charge [money/day] is due for every local calendar day the period touches (a period
ending at local midnight does not touch the next day).

Demand charge [money/kW/month]: the month's peak is the highest hourly average
grid demand (import kWh in one local clock hour / 1 h) in the local calendar month.
A whole month costs peak × charge; it accrues per local day like the standing
charge, so each day of the period adds peak × (that day's charge) / (days in its
month), the peak being the highest hour of the period within that month.

Versions (:class:`TariffVersions`): each version prices the intervals and days from
its ``valid_from`` local calendar day on, so a price change never touches costs
before its date; the earliest version also prices everything before its date
(there was no earlier price). total = import cost − export credit + standing
charge + demand charge. The same engine prices the /historical and /forecast cost
figures, the recommendations and :func:`monthly_cost` / :func:`cost_breakdown`.
"""

from __future__ import annotations

import calendar
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

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


EPOCH = date(1970, 1, 1)
"""``valid_from`` of a version valid from the beginning (migrated single tariffs)."""


@dataclass(frozen=True)
class TariffVersions:
    """A facility's tariff versions, each valid from a local calendar day on.

    Parameters
    ----------
    starts : tuple of date
        ``valid_from`` of each version, strictly increasing (local days).
    tariffs : tuple of Tariff
        The version valid from the matching start until the next start; the
        first also prices every day before its start.
    """

    starts: tuple[date, ...]
    tariffs: tuple[Tariff, ...]

    def __post_init__(self) -> None:
        if not self.tariffs or len(self.starts) != len(self.tariffs):
            raise ValueError("TariffVersions needs one start per tariff, at least one")
        if any(b <= a for a, b in zip(self.starts, self.starts[1:], strict=False)):
            raise ValueError("TariffVersions starts must be strictly increasing")

    @classmethod
    def of(cls, pairs: Iterable[tuple[date, Tariff]]) -> TariffVersions:
        """Versions from ``(valid_from, tariff)`` pairs in any order."""
        ordered = sorted(pairs, key=lambda pair: pair[0])
        return cls(tuple(d for d, _ in ordered), tuple(t for _, t in ordered))

    @property
    def currency(self) -> str:
        return self.tariffs[-1].currency

    def on(self, day: date) -> Tariff:
        """The version valid on local ``day``."""
        return self.tariffs[self.position(day)]

    def position(self, day: date) -> int:
        """Index of the version valid on local ``day``."""
        k = int(np.searchsorted(self._start_days(), _day_number(day), side="right"))
        return max(k - 1, 0)

    def positions(self, local: pd.DatetimeIndex) -> np.ndarray:
        """Index of the version valid on each timestamp's own local date."""
        days = local.tz_localize(None).normalize().asi8 // DAY_NS
        k = np.searchsorted(self._start_days(), days, side="right") - 1
        return np.clip(k, 0, None)

    def _start_days(self) -> np.ndarray:
        return np.array([_day_number(d) for d in self.starts], dtype=np.int64)


DAY_NS = 86_400 * 10**9


def _day_number(day: date) -> int:
    return (day - EPOCH).days


def as_versions(tariff: Tariff | TariffVersions) -> TariffVersions:
    """A single tariff as versions (valid from the beginning); versions unchanged."""
    if isinstance(tariff, TariffVersions):
        return tariff
    return TariffVersions((EPOCH,), (tariff,))


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
        "demand_charge": 0.0,
        "tou": [],
        "valid_from": None,
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
    ``standing_charge`` [currency/day] and ``demand_charge`` [currency/kW/month,
    on the month's peak hourly demand] (optional, default 0), ``currency`` (a
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
        "demand_charge": _price(values.get("demand_charge"), "demand_charge",
                                "Demand charge", required=False),
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


def clean_valid_from(raw: Any, today: date) -> date:
    """The local day a new version applies from: ``today`` when blank, never
    earlier (a price change must not rewrite costs already incurred)."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return today
    if isinstance(raw, datetime):
        day = raw.date()
    elif isinstance(raw, date):
        day = raw
    else:
        try:
            day = date.fromisoformat(str(raw).strip()[:10])
        except ValueError:
            raise TariffError(
                "valid_from", "Valid from must be a date such as 2026-12-31."
            ) from None
    if day < today:
        raise TariffError(
            "valid_from",
            f"Valid from must be today ({today.isoformat()}) or later: a price "
            "change never rewrites past costs.",
        )
    return day


def tariff_model(tariff: dict[str, Any]) -> Tariff:
    """A :class:`Tariff` from a tariff dict."""
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
        demand_charge=float(tariff.get("demand_charge") or 0.0),
        currency=tariff.get("currency") or "EUR",
    )


def versions_model(tariffs: Sequence[dict[str, Any]]) -> TariffVersions:
    """:class:`TariffVersions` from tariff dicts with ``valid_from`` (None: the
    beginning); an empty list gives the default tariff."""
    if not tariffs:
        return as_versions(tariff_model(default_tariff()))
    return TariffVersions.of(
        (t.get("valid_from") or EPOCH, tariff_model(t)) for t in tariffs
    )


# --------------------------------------------------------------------- the engine
Prices = Tariff | TariffVersions
"""A single tariff (valid always) or a facility's versions."""


def interval_charges(
    local: pd.DatetimeIndex, imports: np.ndarray, exports: np.ndarray, tariff: Prices
) -> pd.DataFrame:
    """Per interval: ``import_kwh``, ``export_kwh``, ``import_cost``,
    ``export_credit``, the import ``price`` and the ``export_price`` of the version
    valid on the interval's local day, indexed by local time."""
    versions = as_versions(tariff)
    hour = local.hour.to_numpy()
    weekday = local.day_of_week.to_numpy()
    position = versions.positions(local)
    prices = np.zeros(len(local))
    export_prices = np.zeros(len(local))
    for k, version in enumerate(versions.tariffs):
        mine = position == k
        if mine.any():
            prices[mine] = version.import_prices(hour[mine], weekday[mine])
            export_prices[mine] = version.export_price
    imports = np.nan_to_num(np.asarray(imports, dtype=float))
    exports = np.nan_to_num(np.asarray(exports, dtype=float))
    return pd.DataFrame(
        {
            "import_kwh": imports,
            "export_kwh": exports,
            "import_cost": imports * prices,
            "export_credit": exports * export_prices,
            "price": prices,
            "export_price": export_prices,
        },
        index=local,
    )


def days_between(first: date, last: date) -> list[date]:
    """Every local day from ``first`` to ``last``, both included."""
    return [first + timedelta(days=k) for k in range((last - first).days + 1)]


def period_days(start: pd.Timestamp, end: pd.Timestamp, tz: str) -> list[date]:
    """The local calendar days ``[start, end)`` touches (ending at 00:00 touches
    not the next day)."""
    if end <= start:
        return []
    return days_between(start.tz_convert(tz).date(),
                        (end - pd.Timedelta(microseconds=1)).tz_convert(tz).date())


def standing_charge(days: int | Sequence[date], tariff: Prices) -> float:
    """The standing charge [money] of local calendar ``days`` (a count only for a
    single tariff), each day at the version valid on it."""
    if isinstance(days, int):
        return days * as_versions(tariff).tariffs[-1].standing_charge
    versions = as_versions(tariff)
    return float(sum(versions.on(d).standing_charge for d in days))


def hourly_demand(charges: pd.DataFrame) -> pd.Series:
    """Grid demand per local clock hour [kW]: import kWh in the hour / 1 h.

    Indexed by the hour's start (tz-aware, the charges' zone); the two 02:00
    hours of a DST fall-back stay apart.
    """
    local = charges.index
    if len(local) == 0:
        return pd.Series([], dtype=float, index=local)
    utc = local.tz_convert("UTC").tz_localize(None)
    offset = local.tz_localize(None) - utc
    start = (utc + offset).floor("h") - offset
    kw = pd.Series(charges["import_kwh"].to_numpy(dtype=float), index=start)
    kw = kw.groupby(level=0).sum()
    kw.index = pd.DatetimeIndex(kw.index).tz_localize("UTC").tz_convert(local.tz)
    return kw


def _month_key(year: int, month: int) -> int:
    return year * 12 + month - 1


def demand_charge(
    charges: pd.DataFrame, days: Sequence[date], tariff: Prices
) -> tuple[float, float]:
    """(demand charge [money], peak [kW]) of a period of local ``days``.

    Per local month: peak = the highest :func:`hourly_demand` of the charges in
    that month; each day of the month in ``days`` adds peak × (the charge of the
    version valid that day) / (days in the month). A whole month under one
    version is exactly peak × charge.
    """
    versions = as_versions(tariff)
    hourly = hourly_demand(charges)
    if hourly.empty:
        return 0.0, 0.0
    keys = hourly.index.year.to_numpy() * 12 + hourly.index.month.to_numpy() - 1
    peaks = hourly.groupby(keys).max()
    counts: dict[tuple[int, int], int] = {}
    for day in days:
        slot = (_month_key(day.year, day.month), versions.position(day))
        counts[slot] = counts.get(slot, 0) + 1
    total = 0.0
    for (key, k), n in sorted(counts.items()):
        charge = versions.tariffs[k].demand_charge
        if charge and key in peaks.index:
            year, month0 = divmod(key, 12)
            share = n / calendar.monthrange(year, month0 + 1)[1]
            total += float(peaks[key]) * charge * share
    return total, float(hourly.max())


def bill(
    charges: pd.DataFrame, days: int | Sequence[date], tariff: Prices
) -> dict[str, float | int]:
    """Sum :func:`interval_charges` of a period of local ``days`` into a bill.

    ``days`` is the list of local calendar days of the period (a bare count is
    accepted for a single tariff without demand charge).
    """
    import_cost = float(charges["import_cost"].sum())
    export_credit = float(charges["export_credit"].sum())
    standing = standing_charge(days, tariff)
    if isinstance(days, int):
        if any(t.demand_charge for t in as_versions(tariff).tariffs):
            raise ValueError("a demand charge needs the period's days, not a count")
        hourly = hourly_demand(charges)
        demand, peak = 0.0, float(hourly.max()) if len(hourly) else 0.0
        count = days
    else:
        demand, peak = demand_charge(charges, days, tariff)
        count = len(days)
    return {
        "import_kwh": float(charges["import_kwh"].sum()),
        "export_kwh": float(charges["export_kwh"].sum()),
        "import_cost": import_cost,
        "export_credit": export_credit,
        "standing": standing,
        "demand_charge": demand,
        "peak_kw": peak,
        "total": import_cost - export_credit + standing + demand,
        "days": int(count),
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


def _frame_charges(frame: pd.DataFrame, tariff: Prices, tz: str) -> pd.DataFrame:
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


def _span_days(local: pd.DatetimeIndex) -> list[date]:
    """Local days from the first to the last interval (every day in between)."""
    if len(local) == 0:
        return []
    return days_between(local[0].date(), local[-1].date())


BILL_COLUMNS = [
    "import_kwh",
    "export_kwh",
    "import_cost",
    "export_credit",
    "standing_charge",
    "demand_charge",
    "peak_kw",
    "total",
    "days",
]


def monthly_cost(frame: pd.DataFrame, tariff: Prices, tz: str) -> pd.DataFrame:
    """Energy cost per local calendar month (see the module docstring for the rules).

    Parameters
    ----------
    frame : pd.DataFrame
        Readings with ``energy_consumed`` and ``energy_produced`` [kWh per
        interval] on a tz-aware index.
    tariff : Tariff or TariffVersions
        Prices; with versions each interval and day is priced by the version
        valid on its local day, so a month with a price change splits exactly.
    tz : str
        The facility's IANA time zone.

    Returns
    -------
    pd.DataFrame
        Indexed by the local month start (tz-aware, named ``month``), columns
        ``import_kwh``, ``export_kwh`` [kWh], ``import_cost``, ``export_credit``,
        ``standing_charge``, ``demand_charge`` (the month's peak hourly demand ×
        the charge, per day of the month covered), ``total`` [money], ``peak_kw``
        [kW] and ``days`` [-]: the local days of the month from the first to the
        last reading.
    """
    if frame.empty:
        return pd.DataFrame(
            columns=BILL_COLUMNS, index=pd.DatetimeIndex([], tz=tz, name="month")
        )
    charges = _frame_charges(frame, tariff, tz)
    local = charges.index
    first_day, last_day = local[0].date(), local[-1].date()
    month = local.tz_localize(None).to_period("M").start_time
    rows = {}
    for start, part in charges.groupby(month.to_numpy()):
        begin = pd.Timestamp(start).date()
        end = (pd.Timestamp(start) + pd.offsets.MonthEnd(0)).date()
        days = days_between(max(begin, first_day), min(end, last_day))
        rows[pd.Timestamp(start).tz_localize(tz)] = bill(part, days, tariff)
    out = pd.DataFrame.from_dict(rows, orient="index")
    out = out.rename(columns={"standing": "standing_charge"})
    out.index = pd.DatetimeIndex(out.index).rename("month")
    return out[BILL_COLUMNS]


def cost_breakdown(frame: pd.DataFrame, tariff: Prices, tz: str) -> dict[str, Any]:
    """Total cost of the readings' period, split by import price.

    Returns ``import_kwh``, ``export_kwh`` [kWh], ``import_cost``,
    ``export_credit``, ``standing_charge``, ``demand_charge``, ``total`` [money],
    ``peak_kw`` [kW], ``days`` [-] (local days from the first to the last
    reading) and ``import_by_price``: ``{price [money/kWh]: {"kwh", "cost"}}``.
    """
    if frame.empty:
        zero = dict.fromkeys(
            ("import_kwh", "export_kwh", "import_cost", "export_credit",
             "standing_charge", "demand_charge", "peak_kw", "total"),
            0.0,
        )
        return {**zero, "days": 0, "import_by_price": {}}
    charges = _frame_charges(frame, tariff, tz)
    out: dict[str, Any] = bill(charges, _span_days(charges.index), tariff)
    out["standing_charge"] = out.pop("standing")
    by_price = charges.groupby("price")[["import_kwh", "import_cost"]].sum()
    out["import_by_price"] = {
        float(p): {"kwh": float(row.import_kwh), "cost": float(row.import_cost)}
        for p, row in by_price.iterrows()
    }
    return out
