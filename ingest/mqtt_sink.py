"""From MQTT messages to stored readings: decode per binding, date, store.

:class:`DecodingSink` is the subscriber's sink: each message is decoded with its
binding's format (``ingest.formats``), dated (the device's own time, else the
time of receipt), and the whole batch is stored in one transaction through the
sensor API's validation (``services.meters.ingest_readings``). What cannot be
used becomes a data-quality event: a message no binding takes (``unbound``), a
payload that does not decode or validate (``malformed``), a device clock off by
more than two minutes (``clock_skew``). A retained message without a time of its
own is not booked: it may be hours old, and its register will come again.

A message dated at receipt has no key of its own: the broker redelivers one that
was committed but not acknowledged (the subscriber killed in between) with a new
time of receipt. Its identity is therefore stored with its readings, and a
redelivery (``dup``) whose identity is stored is acknowledged without booking.

:func:`start_for_host` runs one subscriber per host (a file lock), however many
server processes start.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from energy_dash.domain import quality
from energy_dash.domain.quality import QualityEvent
from energy_dash.domain.validation import parse_timestamp
from energy_dash.services.bindings import topic_bindings
from energy_dash.services.meters import committed_deliveries, ingest_readings
from ingest.formats import DecodeError, Decoder
from ingest.mqtt import Message, MqttSubscriber, TopicBinding

logger = logging.getLogger(__name__)

Store = Callable[
    [Mapping[int, Sequence[dict[str, Any]]], Sequence[tuple[int | None, QualityEvent]],
     Sequence[int]],
    Any,
]
"""Commits readings, events and the identities of messages dated at receipt."""
Delivered = Callable[[Sequence[int]], set[int]]
"""Which of these message identities are committed already."""


class DecodingSink:
    """Decodes a batch of messages and hands readings, events and the identities
    of messages dated at receipt to ``store``; ``delivered`` looks identities up."""

    def __init__(self, store: Store, delivered: Delivered | None = None) -> None:
        self.store = store
        self.delivered = delivered
        self._decoders: dict[int, tuple[TopicBinding, Decoder]] = {}
        self._last_ms: dict[tuple[int, str], int] = {}

    def _decoder(self, binding: TopicBinding) -> Decoder:
        cached = self._decoders.get(binding.id)
        if cached is not None and (cached[0] is binding or cached[0] == binding):
            return cached[1]
        if len(self._decoders) > 10_000:
            self._decoders.clear()
        decoder = Decoder(binding.format, role=binding.role,
                          device_id=binding.device_id, tz=binding.timezone)
        self._decoders[binding.id] = (binding, decoder)
        return decoder

    def _receipt_ms(self, facility_id: int, device: str, received_ms: int) -> int:
        """The time of receipt, one millisecond apart per device (never a duplicate)."""
        key = (facility_id, device)
        last = self._last_ms.get(key)
        stamp = received_ms if last is None or received_ms > last else last + 1
        if len(self._last_ms) > 100_000:
            self._last_ms.clear()
        self._last_ms[key] = stamp
        return stamp

    def _redelivered(self, messages: list[Message]) -> set[int]:
        """Identities of the batch's redeliveries that are committed already."""
        if self.delivered is None:
            return set()
        wanted = [i for m in messages if m.dup and (i := m.identity()) is not None]
        return self.delivered(wanted) if wanted else set()

    def __call__(self, messages: list[Message]) -> None:
        batches: dict[int, list[dict[str, Any]]] = {}
        events: list[tuple[int | None, QualityEvent]] = []
        deliveries: list[int] = []
        done = self._redelivered(messages)
        for message in messages:
            if not message.bindings:
                events.append((None, QualityEvent(
                    message.received_ms, quality.UNBOUND, None,
                    f"topic {message.topic[:200]}")))
                continue
            identity = message.identity() if message.dup else None
            if identity is not None and identity in done:
                continue  # committed before the acknowledgement was lost
            dated_at_receipt = False
            for binding in message.bindings:
                dated_at_receipt |= self._decode(binding, message, batches, events)
            if dated_at_receipt:
                identity = identity or message.identity()
                if identity is not None:
                    deliveries.append(identity)
                    done.add(identity)  # its copy may come in this very batch
        self.store(batches, events, deliveries)

    def _decode(
        self,
        binding: TopicBinding,
        message: Message,
        batches: dict[int, list[dict[str, Any]]],
        events: list[tuple[int | None, QualityEvent]],
    ) -> bool:
        """Adds the message's readings; True if one was dated at receipt."""
        try:
            readings = self._decoder(binding).decode(message.topic, message.payload)
        except DecodeError as exc:
            events.append((binding.facility_id, QualityEvent(
                message.received_ms, quality.MALFORMED, binding.device_id,
                f"{message.topic[:200]}: {exc}")))
            return False
        dated_at_receipt = False
        for reading in readings:
            device = reading.get("device_id")
            device = device if isinstance(device, str) else "mqtt"
            if reading.get("timestamp") is None:
                if message.retain:
                    continue  # retained: possibly stale, and nothing dates it
                stamp = self._receipt_ms(binding.facility_id, device,
                                         message.received_ms)
                reading["timestamp"] = stamp / 1000.0
                dated_at_receipt = True
            elif not (message.retain or message.dup):
                sent = parse_timestamp(reading["timestamp"], time.time())
                if isinstance(sent, int):
                    skew = quality.clock_skew(sent, message.received_ms,
                                              device_id=device)
                    if skew is not None:
                        events.append((binding.facility_id, skew))
            batches.setdefault(binding.facility_id, []).append(reading)
        return dated_at_receipt


def topic_bindings_provider(database_url: str | None) -> Callable[[], list]:
    """The subscriber's view of the topic bindings in the database."""

    def provide() -> list[TopicBinding]:
        return [
            TopicBinding(row["id"], row["facility_id"], row["topic"], row["format"],
                         row["role"], row["device_id"], row["timezone"] or "UTC")
            for row in topic_bindings(database_url)
        ]

    return provide


def build_subscriber(
    database_url: str | None, mqtt_url: str, *, client_id: str | None = None,
    share_group: str | None = "energy-dash",
) -> MqttSubscriber:
    """A subscriber that stores into ``database_url`` through the ingest service."""

    def store(batches, events, deliveries) -> None:
        ingest_readings(database_url, batches, events, deliveries=deliveries)

    def delivered(identities) -> set[int]:
        return committed_deliveries(database_url, identities)

    return MqttSubscriber(
        mqtt_url, topic_bindings_provider(database_url),
        DecodingSink(store, delivered),
        client_id=client_id, share_group=share_group,
    )


_host_thread: threading.Thread | None = None


def _lock_path(database_url: str | None, mqtt_url: str) -> str:
    digest = hashlib.sha256(f"{database_url}|{mqtt_url}".encode()).hexdigest()[:16]
    return os.path.join(tempfile.gettempdir(), f"energy-dash-mqtt-{digest}.lock")


def start_for_host(
    database_url: str | None, mqtt_url: str, *, share_group: str | None = "energy-dash"
) -> None:
    """Run the subscriber in this process if no other process of this host does.

    Every server process calls this; the one that holds the host's lock file runs
    the subscriber, the others keep trying every 30 s (so one takes over when
    the holder exits).
    """
    global _host_thread
    if _host_thread is not None:
        return
    path = _lock_path(database_url, mqtt_url)

    def hold() -> None:
        handle = open(path, "a+")  # noqa: SIM115 - held for the process's life
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError:
                time.sleep(30)
        try:
            build_subscriber(database_url, mqtt_url, share_group=share_group).start()
        except Exception:  # noqa: BLE001 - the web app keeps running without MQTT
            logger.exception("the MQTT subscriber could not start")

    _host_thread = threading.Thread(target=hold, name="mqtt-host-lock", daemon=True)
    _host_thread.start()
