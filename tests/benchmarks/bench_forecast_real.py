"""Day-ahead forecasts on real measured series that PyPI packages ship.

    python tests/benchmarks/bench_forecast_real.py

* load: half-hourly electricity demand of England and Wales, 5 June to 27
  August 2000 [MW] (Taylor 2003), ``pmdarima.datasets.load_taylor``;
* PV: AC power of NREL's PVDAQ system 50 in Golden, Colorado (39.7406 N,
  105.1775 W), 15-minute means [W] summed to hourly energy [kWh], May to
  September 2013, ``pvanalytics/data/system_50_ac_power_2_full_DST.parquet``.

Targets: auto beats MSTL alone on the load series; coverage 0.75-0.85;
production with a location beats same-time-yesterday by >= 20 % WAPE.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
from bench_forecasting import compare

PVDAQ_50 = (39.7406, -105.1775)


def taylor() -> pd.Series:
    from pmdarima.datasets import load_taylor

    values = load_taylor()
    index = pd.date_range("2000-06-05", periods=len(values), freq="30min",
                          tz="Europe/London", name="timestamp")
    return pd.Series(values, index, name="demand_mw")


def pvdaq_50(start: str = "2013-05-01", end: str = "2013-10-01") -> pd.Series:
    import pvanalytics

    path = Path(pvanalytics.__file__).parent / "data"
    frame = pd.read_parquet(path / "system_50_ac_power_2_full_DST.parquet")
    power = frame.set_index(pd.to_datetime(frame["measured_on"]))["ac_power_2"]
    power.index = power.index.tz_convert("Etc/GMT+7")
    hourly = power.clip(lower=0).resample("1h").mean() / 1000.0  # kWh per hour
    hourly = hourly[start:end].iloc[:-1]
    return hourly.rename("energy_produced").rename_axis("timestamp")


def main() -> dict:
    logging.basicConfig(level=logging.WARNING)
    out = {}
    out["taylor"] = compare(taylor(), "England & Wales demand (pmdarima taylor)",
                            horizon=48, folds=14, country="GB")
    pv = pvdaq_50()
    out["pvdaq50"] = compare(pv, "PVDAQ system 50 AC energy (pvanalytics)",
                             horizon=24, folds=14, location=PVDAQ_50,
                             nonnegative=True)
    return out


if __name__ == "__main__":
    main()
