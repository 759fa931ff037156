"""The frame vocabulary (PROTOCOL §4-§5): kinds, header layouts, and how HELLO and every control
frame's body is written and read. Readers take ``buf[start:end]`` (the body, kind byte first) and
raise ProtocolError when it is malformed."""
from __future__ import annotations

import math
import struct
from typing import Any, Dict, List, Optional, Tuple

from .codec import decode_plain, encode_plain
from .errors import ProtocolError
from .values import UNDEFINED, BigInt

HELLO = 0x01
MSG = 0x02
RELEASE = 0x03
DROPPED = 0x04
FINISH = 0x05
GOODBYE = 0x06
DISEMBARGO = 0x07
PING = 0x08

MAGIC = b"IPFI"
VERSION = 1

#: MSG body header: kind u8, target kind u8, target id u32, caps length u32.
MSG_HEADER = 10
TARGET_EXPORT = 0
TARGET_INBOUND = 1

CAP_SENDER_HOSTED = 0  # [0, id]: a sender to the frame sender's export id
CAP_SENDER_YOUR_EXPORT = 1  # [1, id]: a sender to the frame receiver's own export id
CAP_SENDER_YOUR_INBOUND = 2  # [2, id]: a sender to the frame receiver's inbound id
CAP_RECEIVER = 3  # [3, id, hints...]: a receiver, moved to the frame receiver as its inbound id

#: The second element of a GOODBYE sent by a process that exits with a failure.
EXITED = "ERR_IPFI_EXITED"
MAX_ID = 0xFFFFFFFF

_msg_header = struct.Struct(">IBBII")
_control_header = struct.Struct(">IB")
msg_header_unpack = struct.Struct(">BII").unpack_from  # target kind, target id, caps length (after the kind byte)


def is_id(x: Any) -> bool:
    """An id: an integer 0..2**32-1 encoded in 32 bits or less (a 64-bit encoding decodes as a
    BigInt), or a float with such a whole value (PROTOCOL.md §5: accepted as that integer)."""
    return (type(x) is int or (type(x) is float and x.is_integer())) and 0 <= x <= MAX_ID


def ids(xs: List[Any]) -> List[int]:
    """Ids that passed ``is_id``, as ints (a whole float becomes its integer)."""
    for x in xs:
        if type(x) is not int:
            return [int(y) for y in xs]
    return xs  # the common case, written as ints: no copy


def msg_prefix(kind: int, target: int, caps_len: int, body_len: int) -> bytes:
    """A MSG frame's length prefix and header; caps and payload follow."""
    return _msg_header.pack(body_len, MSG, kind, target, caps_len)


def control(kind: int, body: Any = None) -> bytes:
    """A whole control frame: length, kind, then one MessagePack value (nothing for PING)."""
    data = b"" if body is None else encode_plain(body)
    return _control_header.pack(1 + len(data), kind) + data


def hello(options: Dict[str, int]) -> bytes:
    """A whole HELLO frame."""
    body = bytes([HELLO]) + MAGIC + bytes([VERSION]) + encode_plain(options)
    return struct.pack(">I", len(body)) + body


def _limit(x: Any) -> Optional[int]:
    """A limit from the peer's HELLO: None if absent; ProtocolError if not a positive whole number."""
    if type(x) in (int, BigInt) and x > 0:
        return min(int(x), MAX_ID)
    if type(x) is float and math.isfinite(x) and x > 0 and x == int(x):
        return min(int(x), MAX_ID)
    raise ProtocolError(f"malformed limit in the handshake: {x!r}")


def read_hello(buf: bytes, start: int, end: int) -> Dict[str, Optional[int]]:
    if end - start < 6 or buf[start + 1:start + 5] != MAGIC:
        raise ProtocolError("bad handshake (no IPFI magic; is the peer speaking ipfi?)")
    if buf[start + 5] != VERSION:
        raise ProtocolError(f"peer speaks ipfi protocol version {buf[start + 5]}, this side {VERSION}")
    opts = decode_plain(buf, start + 6, end) if end - start > 6 else {}
    if type(opts) is not dict:
        raise ProtocolError("malformed handshake options (not a map)")
    # undefined counts as the key being absent, as in JS (PROTOCOL.md §4).
    return {k: (_limit(opts[k]) if opts.get(k, UNDEFINED) is not UNDEFINED else None)
            for k in ("maxFrameBytes", "maxHandlesPerMessage", "heartbeatMs")}


def _body(buf: bytes, start: int, end: int, what: str) -> List[Any]:
    try:
        body = decode_plain(buf, start + 1, end)
    except ProtocolError as e:
        raise ProtocolError(f"malformed {what} frame: {e}") from None
    if type(body) is not list:
        raise ProtocolError(f"malformed {what} frame")
    return body


def read_ids_and_reason(buf: bytes, start: int, end: int, n: int, what: str) -> Tuple[List[int], Optional[str]]:
    """RELEASE ``[id, count, lostReason?]`` and FINISH ``[id, lostReason?]``."""
    body = _body(buf, start, end, what)
    if len(body) not in (n, n + 1) or not all(is_id(x) for x in body[:n]):
        raise ProtocolError(f"malformed {what} frame")
    reason = body[n] if len(body) > n and body[n] is not UNDEFINED else None
    if reason is not None and type(reason) is not str:
        raise ProtocolError(f"malformed {what} frame")
    return ids(body[:n]), reason


def read_ids(buf: bytes, start: int, end: int, n: int, what: str) -> List[int]:
    """DISEMBARGO ``[kind, id, token]``."""
    body = _body(buf, start, end, what)
    if len(body) != n or not all(is_id(x) for x in body):
        raise ProtocolError(f"malformed {what} frame")
    return ids(body)


def read_dropped(buf: bytes, start: int, end: int) -> Tuple[int, int, Optional[str]]:
    body = _body(buf, start, end, "DROPPED")
    if len(body) != 3 or not is_id(body[0]) or body[0] not in (TARGET_EXPORT, TARGET_INBOUND) or not is_id(body[1]):
        raise ProtocolError("malformed DROPPED frame")
    return int(body[0]), int(body[1]), body[2] if type(body[2]) is str else None


def read_goodbye(buf: bytes, start: int, end: int) -> Tuple[Optional[str], Optional[str]]:
    """GOODBYE ``[reason]`` (orderly) or ``[reason, failure]``: (reason, failure or None). An
    undecodable body is a protocol error (the link ends either way)."""
    try:
        body = decode_plain(buf, start + 1, end)
    except ProtocolError as e:
        raise ProtocolError(f"malformed GOODBYE frame: {e}") from None
    if type(body) is not list:
        return None, None
    reason = body[0] if body and type(body[0]) is str else None
    failed = len(body) > 1 and body[1] is not None and body[1] is not UNDEFINED
    return reason, (reason or "failed") if failed else None
