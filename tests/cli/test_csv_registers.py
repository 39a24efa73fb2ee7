"""``energy-dash import-csv`` with cumulative register columns: exact interval kWh
through a glitch and a reset, and a bad row that costs only itself."""

from __future__ import annotations

from energy_dash import data

# The test facility reports every 60 s and has 100 kW. The consumption register
# glitches to 0 at 00:02 and comes back; it resets at 00:05 and counts anew.
REGISTERS = """\
timestamp,device_id,energy_consumed_total_kwh,energy_produced_total,voltage_v
2026-01-01T00:00:00Z,meter,100.0,50.0,230
2026-01-01T00:01:00Z,meter,100.5,50.2,230
2026-01-01T00:02:00Z,meter,0.0,50.4,230
2026-01-01T00:03:00Z,meter,101.5,50.6,230
2026-01-01T00:04:00Z,meter,-5,50.7,230
2026-01-01T00:05:00Z,meter,0.3,50.8,230
2026-01-01T00:06:00Z,meter,0.6,51.0,230
2026-01-01T00:07:00Z,meter,0.9,51.2,230
2026-01-01T00:08:00Z,meter,1.2,51.4,230
"""



def test_register_columns_book_exact_interval_energy(import_csv, database_url,
                                                     facility):
    result = import_csv(REGISTERS, facility)
    assert result.exit_code == 1, result.output  # one row rejected, the rest kept
    assert result.stdout.splitlines() == [
        "accepted 8, duplicates 0, rejected 1",
        "line 6: energy_consumed_total: must be >= 0",
    ]
    frame = data.read_readings(facility, database_url=database_url)
    assert [t.strftime("%H:%M") for t in frame.index] == [
        "00:00", "00:01", "00:02", "00:03", "00:05", "00:06", "00:07", "00:08"]
    # glitch: 00:02 books nothing, 00:03 books from 100.5; reset: 00:05 starts a
    # new cycle that books its own 0.3, then 0.3 a minute
    assert frame["energy_consumed"].round(9).tolist() == [
        0.0, 0.5, 0.0, 1.0, 0.3, 0.3, 0.3, 0.3]
    assert frame["energy_produced"].round(9).tolist() == [
        0.0, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2]
    assert round(frame["energy_consumed"].sum(), 9) == 2.7  # 1.5 + 1.2
    # current_load derived from the energy: 0.3 kWh a minute = 18 kW of 100 kW
    assert round(frame["current_load"].iloc[-1], 9) == 18.0
    events = data.read_quality_events(facility, database_url=database_url)
    assert [(t.strftime("%H:%M"), kind) for t, kind in events["kind"].items()] == [
        ("00:02", "counter_glitch"), ("00:05", "counter_reset")]

    again = import_csv(REGISTERS, facility)
    assert again.stdout.splitlines()[0] == "accepted 0, duplicates 8, rejected 1"
    frame = data.read_readings(facility, database_url=database_url)
    assert round(frame["energy_consumed"].sum(), 9) == 2.7
