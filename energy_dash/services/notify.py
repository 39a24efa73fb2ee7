"""Alert delivery: each alert state change reaches each chosen channel once.

A job (``jobs.deliver_alerts_now``) compares every recent alert's state with what
was already announced (``alerts.notified_state``): ``open:<level>`` when it opens
or escalates, ``resolved`` when it ends. Recipients are the facility's members
whose profile asks for that facility and level; channels are mail and a webhook
(JSON POST with a ``text`` field, which Slack-compatible receivers and ntfy show).
Quiet hours (facility local time) hold back warnings, never critical alerts.

Preferences live in ``users.preferences["notifications"]``, as the profile page
stores them (``data.accounts.clean_notifications``)::

    {"facilities": [1, 2], "levels": ["warning", "critical"],
     "email": "ops@example.org" or null, "webhook": "https://…" or null,
     "quiet_hours": {"from": "22:00", "to": "07:00"} or null}

Nothing is sent for a facility the user did not choose.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from energy_dash.db.models import Alert, Facility, Membership, User
from energy_dash.domain.alerts import KIND_LABELS

logger = logging.getLogger(__name__)

LEVELS = ("warning", "critical")
RECENT = timedelta(hours=1)  # older state changes are marked, not announced
WEBHOOK_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class NotifyPrefs:
    facilities: tuple[int, ...] = ()
    levels: tuple[str, ...] = LEVELS
    email: str | None = None
    webhook: str | None = None
    quiet_from: int | None = None  # minutes after local midnight
    quiet_to: int | None = None

    @classmethod
    def of(cls, preferences: dict[str, Any] | None) -> NotifyPrefs:
        raw = (preferences or {}).get("notifications") or {}
        quiet = raw.get("quiet_hours") or {}
        return cls(
            facilities=tuple(_ints(raw.get("facilities"))),
            levels=tuple(lv for lv in raw.get("levels") or () if lv in LEVELS),
            email=str(raw["email"]).strip() if raw.get("email") else None,
            webhook=str(raw["webhook"]).strip() if raw.get("webhook") else None,
            quiet_from=_minutes(quiet.get("from")),
            quiet_to=_minutes(quiet.get("to")),
        )

    def wants(self, facility_id: int, level: str) -> bool:
        return (
            facility_id in self.facilities
            and level in self.levels
            and bool(self.email or self.webhook)
        )

    def quiet_at(self, local: datetime) -> bool:
        if self.quiet_from is None or self.quiet_to is None:
            return False
        minute = local.hour * 60 + local.minute
        if self.quiet_from <= self.quiet_to:
            return self.quiet_from <= minute < self.quiet_to
        return minute >= self.quiet_from or minute < self.quiet_to


def _ints(values: Any) -> list[int]:
    out = []
    for value in values or ():
        try:
            out.append(int(value))
        except (TypeError, ValueError):
            continue
    return out


def _minutes(value: Any) -> int | None:
    """``"HH:MM"`` as minutes after midnight, None when absent or malformed."""
    try:
        hours, minutes = str(value).split(":")
        total = int(hours) * 60 + int(minutes)
    except (TypeError, ValueError):
        return None
    return total if 0 <= total <= 24 * 60 else None


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _state(alert: Alert) -> str:
    return "resolved" if alert.ended_at is not None else f"open:{alert.level}"


def _changes(alert: Alert) -> list[str]:
    """The announcements still owed for this alert, in order."""
    done = alert.notified_state
    target = _state(alert)
    if done == target:
        return []
    if target == "resolved":
        return ["resolved"] if done else ["opened", "resolved"]
    return ["escalated"] if done else ["opened"]


def payload(alert: Alert, facility: Facility, event: str) -> dict[str, Any]:
    zone = ZoneInfo(facility.timezone)
    started = _aware(alert.started_at).astimezone(zone)
    ended = _aware(alert.ended_at)
    title = KIND_LABELS.get(alert.kind, alert.kind.replace("_", " ").capitalize())
    verb = {"opened": "started", "escalated": "escalated to critical",
            "resolved": "resolved"}[event]
    text = f"[{facility.name}] {title} ({alert.level}) {verb}: {alert.message}".strip()
    if ended is not None and event == "resolved":
        minutes = (ended - _aware(alert.started_at)).total_seconds() / 60
        text += f" — lasted {minutes:.0f} min"
    return {
        "text": text,
        "title": f"{title} at {facility.name}",
        "event": event,
        "facility_id": facility.id,
        "facility": facility.name,
        "alert_id": alert.id,
        "kind": alert.kind,
        "level": alert.level,
        "message": alert.message,
        "extreme_value": alert.extreme_value,
        "started_at": started.isoformat(),
        "ended_at": ended.astimezone(zone).isoformat() if ended else None,
    }


def post_webhook(url: str, body: dict[str, Any]) -> None:
    if not url.startswith(("http://", "https://")):
        raise ValueError("webhook URL must start with http:// or https://")
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "User-Agent": "energy-dash"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_S) as response:
        response.read(1024)


def deliver_alerts(session: Session, settings, now: datetime) -> list[dict[str, Any]]:
    """Announce every owed state change once; returns what was sent, for logs/tests."""
    from energy_dash.services.mail import send_mail

    since = now - RECENT
    alerts = session.scalars(
        select(Alert).where(
            or_(Alert.notified_state.is_(None), Alert.notified_state != "resolved"),
            or_(Alert.ended_at.is_(None), Alert.ended_at >= since),
        )
    ).all()
    sent: list[dict[str, Any]] = []
    for alert in alerts:
        events = _changes(alert)
        if not events:
            continue
        last_change = _aware(alert.ended_at or alert.started_at)
        if last_change < since:
            alert.notified_state = _state(alert)  # too old to be news
            continue
        facility = session.get(Facility, alert.facility_id)
        members = session.execute(
            select(User).join(Membership).where(
                Membership.facility_id == alert.facility_id, User.active.is_(True)
            )
        ).scalars().all()
        local_now = now.astimezone(ZoneInfo(facility.timezone))
        for event in events:
            body = payload(alert, facility, event)
            for user in members:
                prefs = NotifyPrefs.of(user.preferences)
                if not prefs.wants(facility.id, alert.level):
                    continue
                if alert.level != "critical" and prefs.quiet_at(local_now):
                    continue
                if prefs.email:
                    send_mail(settings, prefs.email, body["title"], body["text"],
                              background=False)
                    sent.append({"channel": "email", "to": prefs.email, **body})
                if prefs.webhook:
                    try:
                        post_webhook(prefs.webhook, body)
                    except (OSError, ValueError) as exc:
                        logger.warning("webhook for user %s failed: %s", user.id, exc)
                    else:
                        sent.append({"channel": "webhook", "to": user.id, **body})
        alert.notified_state = _state(alert)
    return sent
