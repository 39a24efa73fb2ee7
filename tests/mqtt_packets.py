"""MQTT wire encoding shared by the subscriber tests and the device benchmark."""

from __future__ import annotations


def varint(n: int) -> bytes:
    """An MQTT variable byte integer (remaining lengths, property lengths, ids)."""
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)
