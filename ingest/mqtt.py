"""The MQTT subscriber: bound topics in, committed readings out, nothing lost.

What makes it safe to run against real meters:

- MQTT 5, QoS 1, a persistent session (``clean_start`` off, a session expiry of
  days, a stable client id per host): what devices publish while the subscriber
  is down waits in the broker and arrives when it is back.
- the shared subscription ``$share/energy-dash/<filter>``: several subscribers
  (one per host) split the load; each message goes to one of them.
- manual acknowledgement: a message is acknowledged only after the sink has
  committed it. A subscriber killed mid-batch gets the unacknowledged messages
  again on its next connect (the sink stores a redelivered message once).
- batches: the network thread only queues what arrives; one writer thread hands
  the sink up to ``batch_max`` messages (or what came within ``batch_wait_s``)
  to commit in one transaction, then acknowledges each of them.
- a quick PUBLISH path: paho builds a ``Properties`` object and an
  ``MQTTMessage`` per message, which costs more than storing it. A PUBLISH
  whose only properties are subscription identifiers (what the broker sends
  us) is split here with plain byte slicing; any other goes through paho.
- retained messages are passed on flagged ``retain``: they may be hours old.
- reconnects with a growing delay (0.25 s up to 2 s), and a binding added or
  removed in the database is picked up within ``refresh_s`` without a restart.

The subscriber knows nothing about the database: it takes a bindings provider
and a sink callable, so the ingest service owns validation and writing.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import socket
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from energy_dash.domain.bindings import MAX_TOPIC, topic_problem

logger = logging.getLogger(__name__)

SHARE_GROUP = "energy-dash"
SESSION_EXPIRY_S = 7 * 86400
# Reconnect delay: 0.25 s doubling up to 2 s, so the subscriber is back within
# about 2 s of the broker however long it was down. Mosquitto (2.0.11 and
# 2.0.21 tried) does not restore ``$share`` subscriptions after a restart: what
# devices publish before we have subscribed again matches nothing and is
# dropped, and devices come back on their own timers (Tasmota every 10 s).
RECONNECT_MIN_S = 0.25
RECONNECT_MAX_S = 2.0
RECEIVE_MAXIMUM = 10_000
"""Unacknowledged messages the broker may have in flight to us (MQTT 5 receive
maximum; mosquitto takes it over its ``max_inflight_messages`` for v5 clients).
It must exceed a batch, or the broker waits for acknowledgements while the
writer waits for messages."""
BATCH_MAX = 2_000
BATCH_WAIT_S = 0.05


@dataclass(frozen=True)
class TopicBinding:
    """A topic filter feeding one facility in one format."""

    id: int
    facility_id: int
    topic: str
    format: str
    role: str = "consumption"
    device_id: str | None = None
    timezone: str = "UTC"


@dataclass(frozen=True)
class Message:
    """One received message with the bindings whose filters it matched.

    ``bindings`` is empty for a message no current binding takes (it arrived for a
    filter removed since, or from a session older than the bindings).
    """

    topic: str
    payload: bytes
    retain: bool
    dup: bool
    received_ms: int
    bindings: tuple[TopicBinding, ...]
    qos: int = 0
    mid: int = 0
    session: str = ""

    def identity(self) -> int | None:
        """Names this message among what the broker may redeliver to this session:
        the packet id is kept on redelivery but reused later, hence topic and
        payload too. ``None`` at QoS 0 (never redelivered)."""
        if not self.qos:
            return None
        # NUL cannot occur in a client id or a topic (MQTT 5, 1.5.4): unambiguous
        head = f"{self.session}\0{self.topic}\0{self.mid}\0".encode()
        digest = hashlib.blake2b(head + self.payload, digest_size=8).digest()
        return int.from_bytes(digest, "big", signed=True)


Sink = Callable[[list[Message]], None]
"""Stores a batch and commits before returning; raising means "not stored"."""


@dataclass(frozen=True)
class BrokerUrl:
    host: str
    port: int
    tls: bool
    username: str | None
    password: str | None


def parse_broker_url(url: str) -> BrokerUrl:
    """``mqtt://[user:pass@]host[:port]`` or ``mqtts://…``; ``ValueError`` otherwise."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
        raise ValueError("the MQTT URL must start with mqtt:// or mqtts://")
    if not parts.hostname:
        raise ValueError("the MQTT URL has no host")
    tls = parts.scheme in ("mqtts", "ssl")
    try:
        port = parts.port or (8883 if tls else 1883)
    except ValueError:
        raise ValueError("the MQTT URL has an invalid port") from None
    return BrokerUrl(
        parts.hostname, port, tls,
        unquote(parts.username) if parts.username else None,
        unquote(parts.password) if parts.password else None,
    )


def default_client_id(suffix: str = "") -> str:
    """Stable per host, so a restarted subscriber resumes its own session."""
    host = socket.gethostname().split(".")[0] or "host"
    return f"energy-dash-{host}{suffix}"[:64]


def shared_filter(topic: str, group: str | None = SHARE_GROUP) -> str:
    """The subscription for a bound filter; ``group=None`` subscribes plainly."""
    return f"$share/{group}/{topic}" if group else topic


def valid_filter(topic: str) -> str | None:
    """Why a topic filter cannot be subscribed, or ``None`` when it can."""
    return topic_problem(topic)


class _Received(NamedTuple):
    """One PUBLISH as the writer needs it (no paho objects kept)."""

    topic: bytes
    payload: bytes
    qos: int
    mid: int
    retain: bool
    dup: bool
    sub_ids: tuple[int, ...]
    generation: int
    received_ms: int


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    """An MQTT variable byte integer at ``pos``: (value, position after it)."""
    value = shift = 0
    for _ in range(4):
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
    raise ValueError("variable byte integer longer than 4 bytes")


def split_publish(
    header: int, packet: bytes
) -> tuple[bytes, int, int, bool, bool, tuple[int, ...], bytes] | None:
    """``(topic, qos, mid, retain, dup, subscription ids, payload)`` of an MQTT 5
    PUBLISH at QoS 0 or 1 whose only properties are subscription identifiers.

    ``None`` for anything else (QoS 2, other properties, a malformed packet):
    paho decodes those as usual.
    """
    qos = (header & 0x06) >> 1
    if qos > 1:
        return None
    try:
        pos = 2 + ((packet[0] << 8) | packet[1])
        topic = bytes(packet[2:pos])
        mid = 0
        if qos:
            mid = (packet[pos] << 8) | packet[pos + 1]
            pos += 2
        length, pos = _varint(packet, pos)
        end = pos + length
        ids = []
        while pos < end:
            if packet[pos] != 11:  # Subscription Identifier
                return None
            value, pos = _varint(packet, pos + 1)
            ids.append(value)
    except (IndexError, ValueError):
        return None
    if pos != end or len(topic) != ((packet[0] << 8) | packet[1]) or end > len(packet):
        return None
    return (topic, qos, mid, bool(header & 0x01), bool(header & 0x08), tuple(ids),
            bytes(packet[end:]))


class _Client(mqtt.Client):
    """paho's client, reading in bulk: what made it slower than the database.

    - ``loop_read``: paho reads one packet per ``select()`` while nothing of its
      own is in flight (always, for a subscriber); here it reads until the
      socket has nothing more.
    - ``_sock_recv``: paho asks for one byte at a time for each fixed header;
      here the socket is read 64 KiB at a time and the bytes served from that.
    - PUBLISH packets of the usual shape are split by :func:`split_publish` and
      handed straight to ``on_publish_received``.
    """

    on_publish_received: Callable[[tuple], None] | None = None
    _rbuf: bytes = b""
    _rpos: int = 0
    _rsock: object = None

    def _sock_recv(self, bufsize: int) -> bytes:
        if self._rsock is not self._sock:  # a new connection: nothing carried over
            self._rbuf, self._rpos, self._rsock = b"", 0, self._sock
        buf, pos = self._rbuf, self._rpos
        if pos >= len(buf):
            buf = super()._sock_recv(65536)  # BlockingIOError when nothing came
            if not buf:
                return buf  # closed by the broker
            pos = 0
        out = buf[pos:pos + bufsize]
        self._rbuf, self._rpos = buf, pos + len(out)
        return out

    def loop_read(self, max_packets: int = 1) -> mqtt.MQTTErrorCode:
        while True:  # the broker sends at most RECEIVE_MAXIMUM before our acks
            if self._sock is None:
                return mqtt.MQTTErrorCode.MQTT_ERR_NO_CONN
            rc = self._packet_read()
            if rc > 0:
                return self._loop_rc_handle(rc)
            if rc == mqtt.MQTTErrorCode.MQTT_ERR_AGAIN:
                return mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS

    def _handle_publish(self) -> mqtt.MQTTErrorCode:
        deliver = self.on_publish_received
        fast = None
        if deliver is not None and self._manual_ack and self._protocol == mqtt.MQTTv5:
            try:
                packet = self._in_packet
                fast = split_publish(packet["command"], packet["packet"])
            except (AttributeError, KeyError, TypeError):  # another paho inside
                fast = None
        if fast is None:
            return super()._handle_publish()
        with self._in_callback_mutex:
            deliver(fast)
        return mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS


class MqttSubscriber:
    """Subscribes to every bound filter and feeds the sink in committed batches.

    Parameters
    ----------
    url
        The broker (``ENERGY_DASH_MQTT_URL``).
    bindings
        Returns the current topic bindings; called at start and every
        ``refresh_s`` seconds.
    sink
        Stores a batch of messages and commits; only then are they acknowledged.
    client_id
        Stable id of this subscriber's persistent session (default: per host).
    """

    def __init__(
        self,
        url: str,
        bindings: Callable[[], Sequence[TopicBinding]],
        sink: Sink,
        *,
        client_id: str | None = None,
        share_group: str | None = SHARE_GROUP,
        session_expiry_s: int = SESSION_EXPIRY_S,
        refresh_s: float = 10.0,
        batch_max: int = BATCH_MAX,
        batch_wait_s: float = BATCH_WAIT_S,
    ) -> None:
        self.broker = parse_broker_url(url)
        self.bindings_provider = bindings
        self.sink = sink
        self.client_id = client_id or default_client_id()
        self.share_group = share_group
        self.session_expiry_s = session_expiry_s
        self.refresh_s = refresh_s
        self.batch_max = batch_max
        self.batch_wait_s = batch_wait_s
        self.stored = 0
        self.connected = threading.Event()
        self._queue: queue.SimpleQueue[_Received] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._generation = 0
        self._bindings: tuple[TopicBinding, ...] = ()
        self._sub_ids: dict[str, int] = {}
        self._subscribed: set[str] = set()
        self._pending_subs: set[int] = set()
        self._route_cache: dict[tuple[str, tuple[int, ...]], tuple] = {}
        self._worker: threading.Thread | None = None
        self._client = self._make_client()

    # -- connection -------------------------------------------------------------
    def _make_client(self) -> mqtt.Client:
        client = _Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        if self.broker.username:
            client.username_pw_set(self.broker.username, self.broker.password)
        if self.broker.tls:
            client.tls_set(cert_reqs=ssl.CERT_REQUIRED)
        client.reconnect_delay_set(min_delay=RECONNECT_MIN_S, max_delay=RECONNECT_MAX_S)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_publish_received = self._on_publish
        client.on_subscribe = self._on_subscribe
        return client

    def _connect_properties(self) -> Properties:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self.session_expiry_s
        props.ReceiveMaximum = RECEIVE_MAXIMUM
        return props

    def start(self) -> None:
        """Connect in the background and start storing; returns at once."""
        self._refresh_bindings()
        self._client.connect_async(
            self.broker.host, self.broker.port, keepalive=30, clean_start=False,
            properties=self._connect_properties(),
        )
        self._client.loop_start()
        self._worker = threading.Thread(
            target=self._work, name="mqtt-sink", daemon=True
        )
        self._worker.start()
        logger.info("MQTT subscriber %s connecting to %s:%d", self.client_id,
                    self.broker.host, self.broker.port)

    def stop(self, timeout: float = 10.0) -> None:
        """Store what was received, acknowledge it, then disconnect."""
        self._stop.set()
        if self._worker is not None:
            self._worker.join(timeout)
        self._client.disconnect()
        self._client.loop_stop()
        self.connected.clear()

    def run_forever(self) -> None:
        """``energy-dash mqtt``: run until interrupted."""
        self.start()
        try:
            while not self._stop.wait(1.0):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            logger.warning("MQTT broker refused the connection: %s", reason_code)
            return
        with self._lock:
            self._generation += 1
            self._subscribed = set()
            self._pending_subs = set()
        logger.info("MQTT connected (session %s)",
                    "resumed" if flags.session_present else "new")
        if not self._sync_subscriptions():
            self.connected.set()  # else once the broker confirmed the subscriptions

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        for code in reason_codes:
            if code.is_failure:
                logger.warning("MQTT subscription refused: %s", code)
        with self._lock:
            self._pending_subs.discard(mid)
            ready = not self._pending_subs
        if ready:
            self.connected.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected.clear()
        if not self._stop.is_set():
            logger.warning("MQTT disconnected (%s); reconnecting", reason_code)

    # -- bindings and subscriptions --------------------------------------------
    def _refresh_bindings(self) -> None:
        try:
            bindings = tuple(self.bindings_provider())
        except Exception:  # noqa: BLE001 - keep the old bindings, say why
            logger.exception("could not read the topic bindings; keeping the old ones")
            return
        usable = tuple(b for b in bindings if valid_filter(b.topic) is None)
        with self._lock:
            changed = usable != self._bindings
            self._bindings = usable
            if changed:
                self._route_cache = {}
        if changed and self.connected.is_set():
            self._sync_subscriptions()

    def _sync_subscriptions(self) -> bool:
        """Subscribe added filters, unsubscribe removed ones; True if any sent."""
        with self._lock:
            wanted = {b.topic for b in self._bindings}
            added = sorted(wanted - self._subscribed)
            removed = sorted(self._subscribed - wanted)
            self._subscribed = wanted
            for topic in added:
                self._sub_ids.setdefault(topic, len(self._sub_ids) + 1)
        for topic in added:
            props = Properties(PacketTypes.SUBSCRIBE)
            props.SubscriptionIdentifier = self._sub_ids[topic]
            with self._lock:
                _, mid = self._client.subscribe(
                    shared_filter(topic, self.share_group),
                    options=SubscribeOptions(qos=1), properties=props,
                )
                if mid is not None:
                    self._pending_subs.add(mid)
        for topic in removed:
            self._client.unsubscribe(shared_filter(topic, self.share_group))
        if added or removed:
            logger.info("MQTT subscriptions: +%d -%d (%d bound filters)",
                        len(added), len(removed), len(wanted))
        return bool(added)

    def _route(self, topic: str, sub_ids: tuple[int, ...]) -> tuple[TopicBinding, ...]:
        key = (topic, sub_ids)
        with self._lock:
            found = self._route_cache.get(key)
            if found is not None:
                return found
            by_id = {v: k for k, v in self._sub_ids.items()}
            filters = {by_id[i] for i in sub_ids if i in by_id}
            bindings = self._bindings
        matched = tuple(
            b for b in bindings
            if (not filters or b.topic in filters) and mqtt.topic_matches_sub(
                b.topic, topic)
        )
        with self._lock:
            if len(self._route_cache) > 10_000:
                self._route_cache = {}
            self._route_cache[key] = matched
        return matched

    # -- messages ---------------------------------------------------------------
    def _on_publish(self, fast: tuple) -> None:
        """The quick path (network thread): queue, nothing else."""
        topic, qos, mid, retain, dup, sub_ids, payload = fast
        self._queue.put(_Received(topic, payload, qos, mid, retain, dup, sub_ids,
                                  self._generation, int(time.time() * 1000)))

    def _on_message(self, client, userdata, message: mqtt.MQTTMessage) -> None:
        """What paho decoded itself (other properties, QoS 2)."""
        sub_ids = getattr(getattr(message, "properties", None),
                          "SubscriptionIdentifier", None) or ()
        if isinstance(sub_ids, int):
            sub_ids = (sub_ids,)
        self._queue.put(_Received(
            message._topic, bytes(message.payload), message.qos, message.mid,
            bool(message.retain), bool(message.dup), tuple(sub_ids),
            self._generation, int(time.time() * 1000)))

    def _work(self) -> None:
        next_refresh = time.monotonic() + self.refresh_s
        while True:
            if time.monotonic() >= next_refresh:
                self._refresh_bindings()
                next_refresh = time.monotonic() + self.refresh_s
            batch = self._take_batch()
            if batch:
                self._store(batch)
            elif self._stop.is_set():
                return

    def _take_batch(self) -> list[_Received]:
        """Up to ``batch_max`` messages, or what arrived within ``batch_wait_s``
        of the first."""
        get = self._queue.get
        try:
            batch = [get(timeout=0.2)]
        except queue.Empty:
            return []
        deadline = time.monotonic() + self.batch_wait_s
        while len(batch) < self.batch_max:
            try:
                batch.append(get(block=False))
                continue
            except queue.Empty:
                pass
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                batch.append(get(timeout=left))
            except queue.Empty:
                break
        return batch

    def _store(self, batch: list[_Received]) -> None:
        messages = []
        for item in batch:
            topic = item.topic.decode("utf-8", "replace")[:MAX_TOPIC]
            messages.append(Message(
                topic, item.payload, item.retain, item.dup, item.received_ms,
                self._route(topic, item.sub_ids), item.qos, item.mid, self.client_id,
            ))
        delay = 0.5
        while True:
            try:
                self.sink(messages)
                break
            except Exception:  # noqa: BLE001 - the broker keeps them until we ack
                logger.exception("storing %d MQTT messages failed; retrying in %.0f s",
                                 len(messages), delay)
                if self._stop.wait(delay):
                    return  # not acknowledged: redelivered on the next connect
                delay = min(delay * 2, 30.0)
        self.stored += len(messages)
        generation = self._generation
        ack = self._client.ack
        for item in batch:
            # A message from an earlier connection is redelivered on this one; its
            # old packet id must not acknowledge anything now.
            if item.generation == generation and item.qos > 0:
                ack(item.mid, item.qos)
