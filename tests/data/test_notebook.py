"""The quickstart notebook: valid nbformat 4, and its code runs against a seeded
database (both engines), producing the frames and the figure it promises."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import nbformat
import pandas as pd
import plotly.graph_objects as go
import pytest

from energy_dash import data
from energy_dash.demo.seed import seed_demo
from energy_dash.domain import metrics

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NOTEBOOK = EXAMPLES / "notebook_quickstart.ipynb"


def _notebook():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    return nb


def test_notebook_is_valid_and_ends_with_the_forecasting_section():
    nb = _notebook()
    assert nb.nbformat == 4
    assert nb.metadata["kernelspec"]["name"] == "python3"
    headings = [
        c.source.splitlines()[0] for c in nb.cells
        if c.cell_type == "markdown" and c.source.startswith("#")
    ]
    assert headings[-1] == "## Forecasting"
    forecasting = next(c for c in nb.cells if c.source.startswith("## Forecasting"))
    assert "energy_dash.forecasting" in forecasting.source
    # Committed without outputs: nothing stale, no data from someone's database.
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")


def _run_code_cells(nb) -> dict:
    namespace: dict = {"__name__": "__main__"}
    with contextlib.redirect_stdout(io.StringIO()):
        for number, cell in enumerate(nb.cells):
            if cell.cell_type == "code":
                exec(compile(cell.source, f"<cell {number}>", "exec"), namespace)
    return namespace


def test_notebook_runs_against_a_seeded_database(database_url, monkeypatch):
    seed_demo(database_url, days=2)
    monkeypatch.setenv("DATABASE_URL", database_url)
    ns = _run_code_cells(_notebook())

    assert ns["DATABASE_URL"] == database_url
    facilities = ns["facilities"]
    assert list(facilities["name"]) == ["Demo Facility"]
    assert (ns["FACILITY_ID"], ns["TZ"]) == (1, "Europe/Berlin")

    everything = data.read_readings(1, database_url=database_url)
    assert len(everything) == 17_280  # two days of the demo's 10 s readings

    raw = ns["raw"]
    assert str(raw.index.tz) == "Europe/Berlin" and raw.index.name == "timestamp"
    window = everything.index >= ns["end"] - pd.Timedelta(hours=24)
    assert len(raw) == (window & (everything.index < ns["end"])).sum()
    assert 8600 < len(raw) <= 8640  # the last 24 hours of 10 s readings

    hourly = ns["hourly"]
    assert str(hourly.index.tz) == "Europe/Berlin"
    assert hourly["samples"].sum() == 17_280
    assert set(hourly["samples"].iloc[1:-1]) == {360}
    assert hourly["energy_consumed"].sum() == pytest.approx(
        everything["energy_consumed"].sum()
    )

    daily = ns["daily"]
    local_dates = everything.index.tz_convert("Europe/Berlin").normalize().unique()
    assert list(daily.index) == list(local_dates)
    assert (daily.index.hour == 0).all()
    assert daily["samples"].sum() == 17_280

    expected = metrics.self_sufficiency(everything["energy_produced"],
                                        everything["energy_consumed"])
    assert ns["self_sufficiency"] == pytest.approx(expected)
    assert daily["self_supplied"].sum() / daily["energy_consumed"].sum() == (
        pytest.approx(expected)
    )
    assert ns["net_import_kwh"] == pytest.approx(
        everything["energy_consumed"].sum() - everything["energy_produced"].sum()
    )

    fig = ns["fig"]
    assert isinstance(fig, go.Figure)
    assert [t.name for t in fig.data] == ["Produced", "Consumed"]
    assert len(fig.data[0].x) == len(hourly)
    assert fig.layout.yaxis.title.text == "Power [kW]"

    alerts = ns["alerts"]
    assert isinstance(alerts, pd.DataFrame)
    assert (alerts["kind"] == "outage").sum() == 1

    # Forecasting section: two days are too few for Prophet or a backtest, and the
    # notebook says so instead of failing.
    next_day = ns["next_day"]
    assert list(next_day.columns) == ["yhat", "yhat_lower", "yhat_upper"]
    assert len(next_day) == 24
    assert next_day.index[0] == ns["history"].index[-1] + pd.Timedelta(hours=1)
    assert next_day.attrs["model"] == "seasonal_naive_day"
    assert (next_day["yhat_lower"] <= next_day["yhat"]).all()
    assert (next_day["yhat"] <= next_day["yhat_upper"]).all()
    assert [t.name for t in ns["forecast_fig"].data][-1] == "Forecast"
    assert ns["summary"]["note"] == "a backtest needs more than 3 days of history"
