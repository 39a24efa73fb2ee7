"""Alert rows: the voltage state machine applied to stored readings, the offline
check, and the alert lists of the pages. Functions take the Session or Connection
they are given."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, select, update
from sqlalchemy.orm import Session

from energy_dash.db import as_driver, statements
from energy_dash.db.models import Alert, Facility, Reading, User
from energy_dash.domain.alerts import (
    OFFLINE_KIND,
    VOLTAGE_KINDS,
    OpenAlert,
    Thresholds,
    classify,
    offline_message,
    step_voltage,
    voltage_message,
)
from energy_dash.domain.connectivity import is_connected, stale_after_ms
from energy_dash.domain.facility import FacilityInfo
from energy_dash.domain.times import from_ms, ms_of


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def apply_voltage_alerts(
    session: Session, facility: FacilityInfo, readings: list[tuple[int, float, str]]
) -> list[dict[str, Any]]:
    """Run the state machine over (ts_ms, voltage, device) in time order.

    Returns the alerts that were opened or escalated, as the ingest API reports them.
    """
    if not readings:
        return []
    t = Thresholds.of(facility)
    if all(classify(v, t) is None for _, v, _ in readings):
        found = as_driver(session).execute(
            statements.OPEN_VOLTAGE_ALERT, (facility.id,)
        )
        if found.fetchone() is None:
            return []  # the common case: normal voltage, nothing open
    row = session.scalars(
        select(Alert)
        .where(
            Alert.facility_id == facility.id,
            Alert.ended_at.is_(None),
            Alert.kind.in_(VOLTAGE_KINDS),
        )
        .order_by(Alert.started_at.desc())
        .limit(1)
    ).first()
    state = (
        OpenAlert(row.kind, row.level, ms_of(row.started_at), row.extreme_value)
        if row is not None
        else None
    )
    reported: dict[int, dict[str, Any]] = {}
    for ts_ms, voltage, device in readings:
        if row is not None and ts_ms < ms_of(row.started_at):
            continue  # a late reading from before the open excursion changes nothing
        state, events = step_voltage(state, voltage, ts_ms, t)
        for event, alert in events:
            if event == "opened":
                row = Alert(
                    facility_id=facility.id,
                    kind=alert.kind,
                    level=alert.level,
                    started_at=_dt(alert.started_ms),
                    extreme_value=alert.extreme,
                    device_id=device,
                )
                session.add(row)
                session.flush()
            elif event == "closed":
                row.ended_at = _dt(alert.ended_ms)
                row.extreme_value = alert.extreme
                row.message = voltage_message(row.kind, row.level, row.extreme_value, t)
                row = None
                continue
            else:
                row.level = alert.level
            row.extreme_value = alert.extreme
            row.message = voltage_message(row.kind, row.level, row.extreme_value, t)
            reported[row.id] = {
                "id": row.id,
                "kind": row.kind,
                "level": row.level,
                "event": reported.get(row.id, {}).get("event", event),
                "value": voltage,
                "started_at": _dt(alert.started_ms).isoformat().replace("+00:00", "Z"),
            }
        if row is not None and state is not None and row.extreme_value != state.extreme:
            row.extreme_value = state.extreme
            row.message = voltage_message(row.kind, row.level, row.extreme_value, t)
    return list(reported.values())


def check_offline(session: Session, now: datetime) -> list[tuple[str, Alert]]:
    """Open or close "hardware offline" alerts for every facility.

    A facility is offline when it is not connected
    (:func:`energy_dash.domain.connectivity.is_connected`); the alert starts when
    the newest reading went stale and closes when data arrives again (``ended_at``
    = the newest reading, or ``now`` when it cannot be told). Facilities that never
    sent anything are not alerted. Returns [(event, alert)].
    """
    open_alerts = {
        a.facility_id: a
        for a in session.scalars(
            select(Alert).where(Alert.kind == OFFLINE_KIND, Alert.ended_at.is_(None))
        )
    }
    now_ms = ms_of(now)
    events: list[tuple[str, Alert]] = []
    for facility in session.scalars(select(Facility)):
        last_ms = session.scalar(  # one index probe per facility
            select(func.max(Reading.ts_ms)).where(Reading.facility_id == facility.id)
        )
        if last_ms is None:
            continue
        interval_s = facility.expected_interval_s
        online = is_connected(last_ms, now_ms, interval_s)
        current = open_alerts.get(facility.id)
        if not online and current is None:
            alert = Alert(
                facility_id=facility.id,
                kind=OFFLINE_KIND,
                level="warning",
                started_at=_dt(last_ms + stale_after_ms(interval_s)),
                message=offline_message(_dt(last_ms), interval_s),
            )
            session.add(alert)
            events.append(("opened", alert))
        elif online and current is not None:
            current.ended_at = _dt(min(last_ms, now_ms))
            current.message = "Hardware back online"
            events.append(("closed", current))
    session.flush()
    return events


# ------------------------------------------------------------ lists for the pages
def _alert_query():
    return select(
        Alert.id, Alert.kind, Alert.level, Alert.started_at, Alert.ended_at,
        Alert.extreme_value, Alert.message, Alert.device_id, Alert.acknowledged_at,
        User.username.label("acknowledged_by"),
    ).outerjoin(User, User.id == Alert.acknowledged_by)


def _alert_dicts(rows: Sequence[Any]) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        started, ended = ms_of(row.started_at), ms_of(row.ended_at)
        out.append({
            "id": int(row.id),
            "kind": row.kind,
            "level": row.level,
            "started_ms": started,
            "ended_ms": ended,
            "duration_s": None if ended is None else (ended - started) / 1000,
            "extreme_value": row.extreme_value,
            "message": row.message or "",
            "device_id": row.device_id,
            "acknowledged_ms": ms_of(row.acknowledged_at),
            "acknowledged_by": row.acknowledged_by,
        })
    return out


def open_alerts(
    conn: Connection | Session, facility_id: int, limit: int = 20
) -> list[dict[str, Any]]:
    """Alerts still open (no end), newest first, as plain dicts."""
    stmt = statements.built(("open_alerts",), lambda: (
        _alert_query()
        .where(Alert.facility_id == bindparam("fid"), Alert.ended_at.is_(None))
        .order_by(Alert.started_at.desc(), Alert.id.desc())
        .limit(bindparam("limit"))
    ))
    rows = conn.execute(stmt, {"fid": int(facility_id), "limit": int(limit)}).all()
    return _alert_dicts(rows)


def alert_log(
    conn: Connection | Session,
    facility_id: int,
    start_ms: int | None,
    end_ms: int | None,
    limit: int,
) -> list[dict[str, Any]]:
    """Alerts active at any moment of ``[start, end)``, newest first.

    Each: ``id``, ``kind``, ``level``, ``started_ms``, ``ended_ms`` (None while
    open), ``duration_s``, ``extreme_value`` [V], ``message``, ``device_id``,
    ``acknowledged_ms`` and ``acknowledged_by`` (a username).
    """
    stmt = _alert_query().where(Alert.facility_id == int(facility_id))
    if end_ms is not None:
        stmt = stmt.where(Alert.started_at < from_ms(end_ms).to_pydatetime())
    if start_ms is not None:
        stmt = stmt.where(
            Alert.ended_at.is_(None)
            | (Alert.ended_at >= from_ms(start_ms).to_pydatetime())
        )
    rows = conn.execute(
        stmt.order_by(Alert.started_at.desc(), Alert.id.desc()).limit(limit)
    ).all()
    return _alert_dicts(rows)


def recent_alerts(
    conn: Connection | Session, facility_id: int, now: int, hours: int, limit: int
) -> list[dict[str, Any]]:
    """Open alerts first, then those of the last ``hours`` that ended (the ticker)."""
    log = alert_log(conn, facility_id, now - hours * 3_600_000, None, limit)
    return sorted(log, key=lambda a: (a["ended_ms"] is not None, -a["started_ms"]))


def open_alert_signature(conn: Connection | Session, facility_id: int) -> list[list]:
    """``[[id, level, acknowledged]]`` of the open alerts, by id (live pages)."""
    stmt = statements.built(("open_alert_signature",), lambda: (
        select(Alert.id, Alert.level, Alert.acknowledged_at.is_not(None))
        .where(Alert.facility_id == bindparam("fid"), Alert.ended_at.is_(None))
        .order_by(Alert.id)
    ))
    rows = conn.execute(stmt, {"fid": int(facility_id)}).all()
    return [[int(a), str(b), bool(c)] for a, b, c in rows]


def kind_counts(
    conn: Connection | Session, facility_id: int, start_ms: int, end_ms: int
) -> dict[str, int]:
    """How many alerts of each kind started in ``[start, end)``."""
    return {
        kind: int(n)
        for kind, n in conn.execute(
            select(Alert.kind, func.count())
            .where(
                Alert.facility_id == int(facility_id),
                Alert.started_at >= from_ms(start_ms).to_pydatetime(),
                Alert.started_at < from_ms(end_ms).to_pydatetime(),
            )
            .group_by(Alert.kind)
        ).all()
    }


def acknowledge_alert(
    session: Session,
    facility_id: int,
    alert_id: int,
    user_id: int,
    now: datetime | None = None,
) -> bool:
    """Record who acknowledged an alert and when (see the live service)."""
    stmt = (
        update(Alert)
        .where(Alert.id == int(alert_id), Alert.facility_id == int(facility_id),
               Alert.acknowledged_at.is_(None))
        .values(acknowledged_at=now or datetime.now(UTC), acknowledged_by=int(user_id))
    )
    return session.execute(stmt).rowcount == 1


def open_alert_of_kind(session: Session, facility_id: int, kind: str) -> Alert | None:
    """The facility's newest open alert of ``kind``, or None."""
    return session.scalars(
        select(Alert)
        .where(
            Alert.facility_id == int(facility_id),
            Alert.kind == kind,
            Alert.ended_at.is_(None),
        )
        .order_by(Alert.started_at.desc(), Alert.id.desc())
        .limit(1)
    ).first()


def open_alert(
    session: Session, facility_id: int, kind: str, level: str, **values: Any
) -> int:
    """Insert an open alert row; returns its id."""
    alert = Alert(facility_id=int(facility_id), kind=kind, level=level, **values)
    session.add(alert)
    session.flush()
    return alert.id
