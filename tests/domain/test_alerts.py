"""The voltage alert state machine: one alert per excursion, escalation, hysteresis."""

from energy_dash.domain.alerts import Thresholds, classify, step_voltage

T = Thresholds(nominal=230.0, warning_pct=10.0, critical_pct=15.0, hysteresis_pct=1.0)


def run(volts):
    state, log = None, []
    for i, v in enumerate(volts):
        state, events = step_voltage(state, v, i * 1000, T)
        log += [(i, event, a.kind, a.level, a.extreme) for event, a in events]
    return state, log


def test_bands():
    assert T.bands() == {
        "nominal": 230.0,
        "warning_low": 207.0,
        "warning_high": 253.0,
        "critical_low": 195.5,
        "critical_high": 264.5,
        "outage_below": 11.5,
        "hysteresis": 2.3,
    }
    assert classify(253.0, T) is None
    assert classify(253.1, T) == ("voltage_high", "warning")
    assert classify(264.6, T) == ("voltage_high", "critical")
    assert classify(206.9, T) == ("voltage_low", "warning")
    assert classify(195.0, T) == ("voltage_low", "critical")
    assert classify(0.0, T) == ("outage", "critical")


def test_one_alert_per_excursion_with_escalation_and_hysteresis():
    state, log = run([230, 254, 253.5, 266, 260, 252, 251, 250.7, 230])
    assert log == [
        (1, "opened", "voltage_high", "warning", 254),
        (3, "escalated", "voltage_high", "critical", 266),
        (7, "closed", "voltage_high", "critical", 266),
    ]
    assert state is None


def test_flapping_around_the_edge_does_not_storm():
    _, log = run([254, 252.9, 254, 252.0, 254, 230])
    assert [e[1] for e in log] == ["opened", "closed"]


def test_swing_from_high_to_low_closes_and_opens():
    _, log = run([256, 200, 230])
    assert [(e[1], e[2]) for e in log] == [
        ("opened", "voltage_high"),
        ("closed", "voltage_high"),
        ("opened", "voltage_low"),
        ("closed", "voltage_low"),
    ]


def test_outage_then_recovery_through_a_low_band():
    _, log = run([230, 0, 0, 190, 215, 230])
    assert log == [
        (1, "opened", "outage", "critical", 0),
        (3, "closed", "outage", "critical", 0),
        (3, "opened", "voltage_low", "critical", 190),
        (4, "closed", "voltage_low", "critical", 190),
    ]
