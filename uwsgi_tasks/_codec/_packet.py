"""uWSGI's spool file layout, for reading and writing spool files without uWSGI.

A spool file is one uwsgi packet and an optional raw body, as uWSGI's spooler writes and reads it::

    u8 modifier1 = 17 | u16le packet size | u8 modifier2 = 0 | packet | body (the rest of the file)

and the packet is ``{u16le key length, key, u16le value length, value}`` repeated.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Final

from .._exceptions import DecodeError

_HEADER: Final = struct.Struct("<BHB")
_LENGTH: Final = struct.Struct("<H")
SPOOL_MODIFIER: Final = 17


def pack(message: Mapping[bytes, bytes]) -> bytes:
    """The bytes of a spool file for *message*; its ``b"body"`` goes after the packet."""
    packet = bytearray()
    for key, value in message.items():
        if key == b"body":
            continue
        if not 0 < len(key) <= 0xFFFF or len(value) > 0xFFFF:
            raise ValueError(f"spool key {key[:40]!r}: keys take 1-65535 bytes, values at most 65535")
        packet += _LENGTH.pack(len(key)) + key + _LENGTH.pack(len(value)) + value
    if len(packet) > 0xFFFF:
        raise ValueError("the spool packet is limited to 65535 bytes; put large values in the body")
    return _HEADER.pack(SPOOL_MODIFIER, len(packet), 0) + bytes(packet) + message.get(b"body", b"")


def parse(data: bytes) -> dict[bytes, bytes]:
    """The keys of a spool file, with its body (if any) under ``b"body"``."""
    if len(data) < _HEADER.size:
        raise DecodeError("not a spool file: shorter than its 4-byte header")
    modifier, size, _ = _HEADER.unpack_from(data)
    if modifier != SPOOL_MODIFIER or len(data) < _HEADER.size + size:
        raise DecodeError("not a spool file: bad header or truncated packet")
    message: dict[bytes, bytes] = {}
    offset, end = _HEADER.size, _HEADER.size + size
    while offset < end:
        if offset + 2 > end:
            raise DecodeError("not a spool file: truncated key length")
        (klen,) = _LENGTH.unpack_from(data, offset)
        key = data[offset + 2 : offset + 2 + klen]
        offset += 2 + klen
        if klen == 0 or offset + 2 > end:
            raise DecodeError("not a spool file: empty or truncated key")
        (vlen,) = _LENGTH.unpack_from(data, offset)
        value = data[offset + 2 : offset + 2 + vlen]
        offset += 2 + vlen
        if offset > end:
            raise DecodeError("not a spool file: truncated value")
        message[key] = value
    if len(data) > end:
        message[b"body"] = data[end:]
    return message
