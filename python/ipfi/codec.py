"""The value codec (PROTOCOL §9): MessagePack with ipfi's tags, written here because a generic
MessagePack library cannot express them. A tag is a fixext 1 ``d4 TT 00`` followed by one value,
the two counting as one element:

    0x01 handle, 0x04 endpoint, 0x05 function  -> an unsigned index into the MSG's caps
    0x02 Map  -> [k0, v0, ...]      0x03 Error -> a record      0x06 object without prototype -> a map
    0x07 URL  -> its href           0x65 error (msgpackr's) -> [name, message, cause?]
    0x73 Set  -> [items]            0x78 RegExp -> [source, flags]

and the extensions ``d4 00 00`` (undefined), 0x42 (big integers), 0x74 (typed arrays) and -1
(timestamps). Anything else, and anything malformed, is a :class:`ProtocolError`. Nothing decoded is
ever evaluated, compiled or used to look up a class.

Python types (see ``values``): ``None``, ``bool``, ``int`` (32-bit values as MessagePack ints,
others as BigInt), ``float`` (always float64, -0.0 and NaN included), ``str``, ``bytes`` (also
``bytearray`` and ``memoryview``, arriving as ``bytes``), ``list`` (also ``tuple``, arriving as a
list), ``dict`` (str keys: an object; other keys: a Map), ``set``/``frozenset`` (a Set, arriving as
a ``JsSet``, a ``set`` that keeps the order), aware ``datetime``, ``array.array``, exceptions, handles, and the ``values`` classes.
Other classes, subclasses of these included, are refused with :class:`UnsupportedValueError`:
they would arrive without their class.
"""
from __future__ import annotations

import array
import math
import struct
import sys
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, List, NamedTuple, Optional, Union

from .error_record import error_to_record, record_to_error
from .errors import LimitExceededError, ProtocolError, UnsupportedValueError
from .values import (BigInt, JsBinary, JsDate, JsSet, Map, NullProtoDict, ObjectKey, RegExp, UNDEFINED, URL, Undefined)

__all__ = [
    "Handle", "Encoded", "encode", "encode_plain", "decode", "decode_plain", "walk_local",
    "TAG_HANDLE", "TAG_MAP", "TAG_ERROR", "TAG_ENDPOINT", "TAG_FUNCTION", "TAG_NO_PROTOTYPE", "TAG_URL",
    "MAX_NESTING_DEPTH", "MAX_ENCODE_DEPTH", "MAX_DECODE_DEPTH",
]

TAG_HANDLE = 0x01
TAG_MAP = 0x02
TAG_ERROR = 0x03
TAG_ENDPOINT = 0x04
TAG_FUNCTION = 0x05
TAG_NO_PROTOTYPE = 0x06
TAG_URL = 0x07
_EXT_UNDEFINED = 0x00
_EXT_BIGINT = 0x42
_EXT_MSGPACKR_ERROR = 0x65
_EXT_RECORD = 0x72
_EXT_SET = 0x73
_EXT_TYPED = 0x74
_EXT_REGEXP = 0x78
_EXT_TIMESTAMP = 0xFF
#: Fixext 1 types that are tags followed by a value (never itself a fixext 1).
_TAGS_WITH_VALUE = frozenset((TAG_HANDLE, TAG_MAP, TAG_ERROR, TAG_ENDPOINT, TAG_FUNCTION, TAG_NO_PROTOTYPE, TAG_URL,
                              _EXT_MSGPACKR_ERROR, _EXT_SET, _EXT_REGEXP))
HANDLE_TAGS = (TAG_HANDLE, TAG_ENDPOINT, TAG_FUNCTION)

#: The nesting limit of the wire (PROTOCOL §9, as src/codec/depth.ts): a payload nests arrays and
#: maps at most this deep; a tag and its value count as the value alone (a Map is its one array, an
#: Error its record's map, a RegExp its [source, flags]). ``[[1]]`` is 2 deep: 512 nested arrays
#: are accepted, 513 refused, by the encoder (UnsupportedValueError, before anything is sent) and
#: the decoder (LimitExceededError, which closes only that link) alike.
MAX_NESTING_DEPTH = 512
MAX_ENCODE_DEPTH = MAX_NESTING_DEPTH
MAX_DECODE_DEPTH = MAX_NESTING_DEPTH
#: Python frames the codec may use per level (a tagged container inside a container takes three;
#: one to spare), so that a value within the limit never meets the interpreter's recursion limit.
_FRAMES_PER_LEVEL = 4


class Handle:
    """Base of every object that travels as a capability (Sender, Receiver, endpoints). The layers
    above subclass it; ``_ipfi_tag`` is the payload tag it is written with."""

    __slots__ = ()
    _ipfi_tag = TAG_HANDLE


HandleReader = Callable[[int, int], Any]


class Encoded(NamedTuple):
    payload: bytes
    #: The handles found, in the order the payload refers to them (by index).
    handles: List[Handle]


# ------------------------------------------------------------------------------------------ encoding

_pack_B = struct.Struct(">B").pack
_pack_BB = struct.Struct(">BB").pack
_pack_BH = struct.Struct(">BH").pack
_pack_BI = struct.Struct(">BI").pack
_pack_Bb = struct.Struct(">Bb").pack
_pack_Bh = struct.Struct(">Bh").pack
_pack_Bi = struct.Struct(">Bi").pack
_pack_Bq = struct.Struct(">Bq").pack
_pack_BQ = struct.Struct(">BQ").pack
_pack_Bd = struct.Struct(">Bd").pack
_pack_I = struct.Struct(">I").pack
_pack_q = struct.Struct(">q").pack
_pack_II = struct.Struct(">II").pack
_pack_Iq = struct.Struct(">Iq").pack

_LITTLE = sys.byteorder == "little"
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _typed_codes() -> "tuple[dict, dict]":
    enc = {"b": 0, "B": 1, "h": 3, "H": 4, "f": 7, "d": 8, "q": 9, "Q": 10}
    for tc in ("i", "l"):
        size = array.array(tc).itemsize
        enc[tc] = 5 if size == 4 else 9 if size == 8 else -1
        enc[tc.upper()] = 6 if size == 4 else 10 if size == 8 else -1
    if array.array("h").itemsize != 2:
        enc["h"] = enc["H"] = -1
    dec = {}
    for tc, code in enc.items():
        if code >= 0 and code not in dec:
            dec[code] = tc
    return enc, dec


_TYPED_ENCODE, _TYPED_DECODE = _typed_codes()
_BINARY_CODES = {"Uint8ClampedArray": 2, "ArrayBuffer": 16, "DataView": 17}
_BINARY_KINDS = {v: k for k, v in _BINARY_CODES.items()}


#: Binaries at least this large are not copied into the output as it is built, but joined in once.
_BIG = 64 * 1024


class _Packer:
    __slots__ = ("out", "handles", "in_error", "plain", "splices")

    def __init__(self, plain: bool) -> None:
        self.out = bytearray()
        self.handles: List[Handle] = []
        self.in_error = 0
        self.plain = plain
        #: (offset in out, big binary): where each big binary goes.
        self.splices: "list[tuple[int, Any]]" = []

    def result(self) -> bytes:
        if not self.splices:
            return bytes(self.out)
        view = memoryview(self.out)
        pieces: list = []
        at = 0
        for offset, data in self.splices:
            pieces.append(view[at:offset])
            pieces.append(data)
            at = offset
        pieces.append(view[at:])
        return b"".join(pieces)

    def pack(self, v: Any, depth: int) -> None:  # noqa: C901 - one dispatch, ordered by frequency
        out = self.out
        t = type(v)
        if t is str:
            b = v.encode("utf-8", "surrogatepass")
            n = len(b)
            if n < 32:
                out.append(0xA0 | n)
            elif n < 0x100:
                out += _pack_BB(0xD9, n)
            elif n < 0x10000:
                out += _pack_BH(0xDA, n)
            else:
                out += _pack_BI(0xDB, n)
            out += b
        elif t is int:
            self.pack_int(v)
        elif t is dict:
            if depth >= MAX_ENCODE_DEPTH:
                raise _too_deep()
            start = len(out)
            found = len(self.handles)
            spliced = len(self.splices)
            self.map_header(len(v))
            d = depth + 1
            pack = self.pack
            for k, x in v.items():
                if type(k) is not str:
                    del out[start:]  # a key an object cannot have: send a Map
                    del self.handles[found:]
                    del self.splices[spliced:]
                    self.pack_map_tag(v, depth)
                    return
                # The common key and value inline: a short string, a small non-negative int.
                kb = k.encode("utf-8", "surrogatepass")
                if len(kb) < 32:
                    out.append(0xA0 | len(kb))
                    out += kb
                else:
                    pack(k, d)
                if type(x) is int and 0 <= x < 0x80:
                    out.append(x)
                else:
                    pack(x, d)
        elif t is list or t is tuple:
            if depth >= MAX_ENCODE_DEPTH:
                raise _too_deep()
            self.array_header(len(v))
            for x in v:
                self.pack(x, depth + 1)
        elif t is bool:
            out.append(0xC3 if v else 0xC2)
        elif v is None:
            out.append(0xC0)
        elif t is float:
            out += _pack_Bd(0xCB, v)
        elif t is bytes or t is bytearray or t is memoryview:
            if t is memoryview:
                v = v.tobytes()
            n = len(v)
            if n < 0x100:
                out += _pack_BB(0xC4, n)
            elif n < 0x10000:
                out += _pack_BH(0xC5, n)
            else:
                out += _pack_BI(0xC6, n)
            if n >= _BIG:
                self.splices.append((len(out), v))
            else:
                out += v
        elif isinstance(v, Handle):
            if self.plain:
                raise UnsupportedValueError("a handle cannot be sent here")
            if self.in_error:
                raise UnsupportedValueError("a handle inside an exception cannot be sent (put it next to the exception instead)")
            self.handles.append(v)
            out += b"\xd4" + _pack_B(v._ipfi_tag) + b"\x00"
            self.pack_int(len(self.handles) - 1)
        elif t is Map:
            if depth >= MAX_ENCODE_DEPTH:
                raise _too_deep()
            self.pack_map_tag(v, depth)
        else:
            self.pack_other(v, t, depth)

    def pack_int(self, v: int) -> None:
        out = self.out
        if 0 <= v < 0x80:
            out.append(v)
        elif -0x20 <= v < 0:
            out.append(v & 0xFF)
        elif 0 <= v < 0x100000000 and type(v) is not BigInt:
            if v < 0x100:
                out += _pack_BB(0xCC, v)
            elif v < 0x10000:
                out += _pack_BH(0xCD, v)
            else:
                out += _pack_BI(0xCE, v)
        elif -0x80000000 <= v < 0 and type(v) is not BigInt:
            if v >= -0x80:
                out += _pack_Bb(0xD0, v)
            elif v >= -0x8000:
                out += _pack_Bh(0xD1, v)
            else:
                out += _pack_Bi(0xD2, v)
        else:
            self.pack_bigint(v)

    def pack_bigint(self, v: int) -> None:
        out = self.out
        # A BigInt is always written in 64 bits or more, as JavaScript writes it (5n is d3 00..05).
        if -0x8000000000000000 <= v < 0x8000000000000000:
            out += _pack_Bq(0xD3, v)
        elif 0 < v < 0x10000000000000000:
            out += _pack_BQ(0xCF, v)
        else:
            # Big-endian two's complement in whole 64-bit words, as msgpackr writes it.
            n = 8
            while not (-(1 << (8 * n - 1)) <= v < (1 << (8 * n - 1))):
                n += 8
            self.ext(_EXT_BIGINT, int(v).to_bytes(n, "big", signed=True))

    def array_header(self, n: int) -> None:
        if n < 16:
            self.out.append(0x90 | n)
        elif n < 0x10000:
            self.out += _pack_BH(0xDC, n)
        else:
            self.out += _pack_BI(0xDD, n)

    def map_header(self, n: int) -> None:
        # msgpackr writes objects as map16 whatever their size; so do we, so both write the same bytes.
        if n < 0x10000:
            self.out += _pack_BH(0xDE, n)
        else:
            self.out += _pack_BI(0xDF, n)

    def tag(self, tag: int) -> None:
        self.out += b"\xd4" + _pack_B(tag) + b"\x00"

    def pack_map_tag(self, m: dict, depth: int) -> None:
        self.tag(TAG_MAP)
        items = m.pairs() if type(m) is Map else m.items()
        self.array_header(2 * len(items))
        for k, x in items:
            self.pack(k, depth + 1)
            self.pack(x, depth + 1)

    def ext(self, type_: int, data: bytes) -> None:
        n = len(data)
        out = self.out
        fixed = {1: 0xD4, 2: 0xD5, 4: 0xD6, 8: 0xD7, 16: 0xD8}.get(n)
        if fixed is not None:
            out += _pack_BB(fixed, type_)
        elif n < 0x100:
            out += _pack_BB(0xC7, n) + _pack_B(type_)
        elif n < 0x10000:
            out += _pack_BH(0xC8, n) + _pack_B(type_)
        else:
            out += _pack_BI(0xC9, n) + _pack_B(type_)
        out += data

    def typed(self, code: int, data: bytes) -> None:
        # Typed arrays always as ext 8/16/32 (msgpackr's layout): code byte, then the raw bytes.
        n = len(data) + 1
        out = self.out
        if n < 0x100:
            out += _pack_BB(0xC7, n)
        elif n < 0x10000:
            out += _pack_BH(0xC8, n)
        else:
            out += _pack_BI(0xC9, n)
        out += _pack_BB(_EXT_TYPED, code)
        out += data

    def pack_other(self, v: Any, t: type, depth: int) -> None:  # noqa: C901
        # `depth`: the arrays and maps around v; v may be one more only under MAX_ENCODE_DEPTH.
        if t is BigInt:
            self.pack_bigint(v)
        elif t is Undefined:
            self.out += b"\xd4\x00\x00"
        elif t is NullProtoDict:
            if depth >= MAX_ENCODE_DEPTH:
                raise _too_deep()
            self.tag(TAG_NO_PROTOTYPE)
            self.map_header(len(v))
            for k, x in v.items():
                if type(k) is not str:
                    raise UnsupportedValueError(f"a NullProtoDict key must be a str, not {type(k).__name__}")
                self.pack(k, depth + 1)
                self.pack(x, depth + 1)
        elif t is set or t is frozenset or t is JsSet:
            if depth >= MAX_ENCODE_DEPTH:
                raise _too_deep()
            if t is JsSet:
                v = v.ordered()
            self.tag(_EXT_SET)
            self.array_header(len(v))
            for x in v:
                self.pack(x, depth + 1)
        elif t is datetime:
            self.pack_datetime(v)
        elif t is JsDate:
            self.pack_jsdate(v)
        elif t is ObjectKey:
            self.pack(v.value, depth)
        elif t is URL:
            self.tag(TAG_URL)
            self.pack(str(v), depth + 1)
        elif t is RegExp:
            if depth >= MAX_ENCODE_DEPTH:
                raise _too_deep()
            self.tag(_EXT_REGEXP)
            self.array_header(2)
            self.pack(v.source, depth + 1)
            self.pack(v.flags, depth + 1)
        elif t is array.array:
            code = _TYPED_ENCODE.get(v.typecode, -1)
            if code < 0:
                raise UnsupportedValueError(f"an array.array of typecode {v.typecode!r} has no JavaScript typed array")
            a = v
            if not _LITTLE and v.itemsize > 1:
                a = array.array(v.typecode, v)
                a.byteswap()
            self.typed(code, a.tobytes())
        elif t is JsBinary:
            self.typed(_BINARY_CODES[v.kind], v.data)
        elif isinstance(v, BaseException):
            self.tag(TAG_ERROR)
            self.in_error += 1
            try:
                self.pack(error_to_record(v), depth)  # the record's map, in the error's place
            finally:
                self.in_error -= 1
        else:
            raise _unsupported(v)

    def pack_datetime(self, v: datetime) -> None:
        if v.tzinfo is None or v.utcoffset() is None:
            raise UnsupportedValueError("a naive datetime cannot be sent: it names no moment (give it a tzinfo, e.g. timezone.utc)")
        delta = v - _EPOCH
        us = (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds
        self.pack_timestamp(*divmod(us, 1_000_000), ns_per=1000)

    def pack_jsdate(self, v: JsDate) -> None:
        if not v.valid or math.isinf(v.ms):
            self.out += b"\xd4\xff\xff"  # msgpackr's invalid Date
            return
        ms = math.floor(v.ms)
        s, ms_part = divmod(int(ms), 1000)
        self.pack_timestamp(s, ms_part, ns_per=1_000_000)

    def pack_timestamp(self, s: int, part: int, ns_per: int) -> None:
        ns = part * ns_per
        if ns == 0 and 0 <= s < 0x100000000:
            self.out += b"\xd6\xff" + _pack_I(s)
        elif 0 <= s < 0x100000000:
            self.out += b"\xd7\xff" + _pack_II((ns << 2) | (s >> 32), s & 0xFFFFFFFF)
        elif -0x8000000000000000 <= s < 0x8000000000000000:
            self.out += b"\xc7\x0c\xff" + _pack_Iq(ns, s)
        else:
            raise UnsupportedValueError("a date too far from 1970 to be a timestamp")


#: Payloads this short cannot nest deep enough to need _Headroom (each level takes a byte or more).
_SHALLOW = 200


def _nested_too_deep() -> LimitExceededError:
    return LimitExceededError(f"undecodable message: arrays and maps nested deeper than {MAX_NESTING_DEPTH} levels (MAX_NESTING_DEPTH)")


def _too_deep() -> UnsupportedValueError:
    return UnsupportedValueError(f"value is nested deeper than {MAX_ENCODE_DEPTH} levels, or is cyclic")


def _unsupported(v: Any) -> UnsupportedValueError:
    t = type(v)
    if callable(v) and not isinstance(v, type):
        return UnsupportedValueError("a function cannot be sent through a channel")
    for base in (dict, list, tuple, int, float, str, bytes, set, frozenset, datetime):
        if isinstance(v, base):
            return UnsupportedValueError(
                f"a {t.__name__} (a subclass of {base.__name__}) cannot be sent: it would arrive as a plain "
                f"{base.__name__}, without its class. Send a plain {base.__name__} instead")
    return UnsupportedValueError(
        f"a {t.__module__}.{t.__qualname__} cannot be sent through a channel: it would arrive without its class. "
        "Send plain data instead (None, bool, int, float, str, bytes, list, dict, set, datetime, exceptions, "
        "handles, and ipfi's value types)")


class _Headroom:
    """Room on the interpreter's stack for MAX_NESTING_DEPTH levels of the codec, whatever the
    recursion limit (default 1,000): raised for the call, then put back."""

    __slots__ = ("saved",)

    def __enter__(self) -> None:
        self.saved = sys.getrecursionlimit()  # the stack is under it now: room for the levels on top
        sys.setrecursionlimit(self.saved + _FRAMES_PER_LEVEL * MAX_NESTING_DEPTH + 100)

    def __exit__(self, *exc: Any) -> None:
        sys.setrecursionlimit(self.saved)


def encode(value: Any) -> Encoded:
    """Encode one payload. Handles are collected (not moved: the caller moves them once the whole
    message is known to be sendable) and written as their index."""
    p = _Packer(False)
    try:
        p.pack(value, 0)
    except RecursionError:  # nested deep, in containers under the limit but not their own level (cycles)
        with _Headroom():
            p = _Packer(False)
            try:
                p.pack(value, 0)
            except RecursionError as e:
                raise _too_deep() from e
    return Encoded(p.result(), p.handles)


def encode_plain(value: Any) -> bytes:
    """Plain MessagePack (control frames, caps): no handles."""
    p = _Packer(True)
    p.pack(value, 0)
    return p.result()


# ------------------------------------------------------------------------------------------ decoding

_S_H = struct.Struct(">H").unpack_from
_S_I = struct.Struct(">I").unpack_from
_S_Q = struct.Struct(">Q").unpack_from
_S_b = struct.Struct(">b").unpack_from
_S_h = struct.Struct(">h").unpack_from
_S_i = struct.Struct(">i").unpack_from
_S_q = struct.Struct(">q").unpack_from
_S_f = struct.Struct(">f").unpack_from
_S_d = struct.Struct(">d").unpack_from
_S_II = struct.Struct(">II").unpack_from
_S_Iq = struct.Struct(">Iq").unpack_from

_DATETIME_MIN_US = (datetime(1, 1, 1, tzinfo=timezone.utc) - _EPOCH) // timedelta(microseconds=1)
_DATETIME_MAX_US = (datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc) - _EPOCH) // timedelta(microseconds=1)
#: JavaScript's Date range: 8.64e15 ms either side of 1970.
_JS_DATE_MAX_MS = 8.64e15


class _Reader:
    __slots__ = ("buf", "pos", "end", "on_handle")

    def __init__(self, buf: bytes, pos: int, end: int, on_handle: Optional[HandleReader]) -> None:
        self.buf = buf
        self.pos = pos
        self.end = end
        self.on_handle = on_handle

    def need(self, n: int) -> int:
        """Take `n` bytes: their start."""
        p = self.pos
        if p + n > self.end:
            raise ProtocolError("undecodable message: it ends in the middle of a value")
        self.pos = p + n
        return p

    def read(self, depth: int) -> Any:
        """One value. Containers are read here, not in a helper: one Python frame per level."""
        buf = self.buf
        p = self.pos
        if p >= self.end:
            raise ProtocolError("undecodable message: it ends in the middle of a value")
        b = buf[p]
        self.pos = p + 1
        if b < 0x80:
            return b
        if b >= 0xE0:
            return b - 0x100
        if b >= 0xA0 and b <= 0xBF:
            return self.str(b & 0x1F)
        if b <= 0x9F:
            n = b & 0x0F
            is_map = b < 0x90
        elif 0xDC <= b <= 0xDF:
            n = _S_H(buf, self.need(2))[0] if b & 1 == 0 else _S_I(buf, self.need(4))[0]
            is_map = b >= 0xDE
        elif b == 0xD4:
            return self.fixext1(depth)
        else:
            return self.scalar(b, depth)
        if depth >= MAX_DECODE_DEPTH:
            raise _nested_too_deep()
        if (2 * n if is_map else n) > self.end - self.pos:  # each element takes a byte at least
            raise ProtocolError("undecodable message: a container longer than the message")
        read = self.read
        d = depth + 1
        if is_map:
            out: dict = {}
            end = self.end
            for _ in range(n):
                # The common key and value inline: a fixstr, a positive fixint (else read()).
                q = self.pos
                kb = buf[q] if q < end else 0
                if 0xA0 <= kb <= 0xBF:
                    e = q + 1 + (kb & 0x1F)
                    if e > end:
                        raise ProtocolError("undecodable message: it ends in the middle of a value")
                    k = str(buf[q + 1:e], "utf-8", "replace")
                    q = self.pos = e
                else:
                    k = read(d)
                    if type(k) is not str:
                        k = _property_name(k)
                    q = self.pos
                if q < end and buf[q] < 0x80:
                    self.pos = q + 1
                    out[k] = buf[q]
                else:
                    out[k] = read(d)
            return out
        items: list = []
        append = items.append
        for _ in range(n):
            append(read(d))
        return items

    def scalar(self, b: int, depth: int) -> Any:  # noqa: C901 - one dispatch on the type byte
        buf = self.buf
        if b == 0xC0:
            return None
        if b == 0xC2:
            return False
        if b == 0xC3:
            return True
        if b == 0xCC:
            return buf[self.need(1)]
        if b == 0xCD:
            return _S_H(buf, self.need(2))[0]
        if b == 0xCE:
            return _S_I(buf, self.need(4))[0]
        if b == 0xCF:
            return BigInt(_S_Q(buf, self.need(8))[0])
        if b == 0xD0:
            return _S_b(buf, self.need(1))[0]
        if b == 0xD1:
            return _S_h(buf, self.need(2))[0]
        if b == 0xD2:
            return _S_i(buf, self.need(4))[0]
        if b == 0xD3:
            return BigInt(_S_q(buf, self.need(8))[0])
        if b == 0xCA:
            return _S_f(buf, self.need(4))[0]
        if b == 0xCB:
            return _S_d(buf, self.need(8))[0]
        if b == 0xD9:
            return self.str(buf[self.need(1)])
        if b == 0xDA:
            return self.str(_S_H(buf, self.need(2))[0])
        if b == 0xDB:
            return self.str(_S_I(buf, self.need(4))[0])
        if b == 0xC4:
            return self.bin(buf[self.need(1)])
        if b == 0xC5:
            return self.bin(_S_H(buf, self.need(2))[0])
        if b == 0xC6:
            return self.bin(_S_I(buf, self.need(4))[0])
        if b == 0xD4:
            return self.fixext1(depth)
        if 0xD5 <= b <= 0xD8:
            return self.ext(1 << (b - 0xD4))
        if b == 0xC7:
            return self.ext(buf[self.need(1)])
        if b == 0xC8:
            return self.ext(_S_H(buf, self.need(2))[0])
        if b == 0xC9:
            return self.ext(_S_I(buf, self.need(4))[0])
        raise ProtocolError("undecodable message: reserved byte 0xc1")

    def str(self, n: int) -> str:
        p = self.need(n)
        return str(self.buf[p:p + n], "utf-8", "replace")  # invalid UTF-8 reads as U+FFFD, as in JavaScript

    def bin(self, n: int) -> bytes:
        p = self.need(n)
        return self.buf[p:p + n]

    def fixext1(self, depth: int) -> Any:
        # A tag and its value count as the value alone: the value is read at the tag's depth.
        p = self.need(2)
        t = self.buf[p]
        if t == _EXT_UNDEFINED:
            return UNDEFINED
        if t in _TAGS_WITH_VALUE and self.pos < self.end and self.buf[self.pos] == 0xD4:
            raise ProtocolError(f"undecodable message: the value of tag {t:#04x} is another tag")
        if t in HANDLE_TAGS:
            i = self.read(depth)
            if type(i) is float and i.is_integer() and i >= 0:
                i = int(i)  # a whole float is that index, as in JS (PROTOCOL.md §9.12)
            if type(i) is not int or i < 0:
                raise ProtocolError("malformed handle reference")
            if self.on_handle is None:
                raise ProtocolError("a handle reference where none may appear")
            return self.on_handle(i, t)
        if t == TAG_MAP:
            a = self.read(depth)
            if type(a) is not list or len(a) % 2:
                raise ProtocolError("malformed Map")
            return Map.from_pairs([(_hashable(a[i]), a[i + 1]) for i in range(0, len(a), 2)])
        if t == TAG_ERROR:
            r = self.read(depth)
            if type(r) is not dict:
                raise ProtocolError("malformed error record (not a map)")
            return record_to_error(r)
        if t == TAG_NO_PROTOTYPE:
            r = self.read(depth)
            if type(r) is not dict:
                raise ProtocolError("malformed object without prototype")
            return NullProtoDict(r)
        if t == TAG_URL:
            href = self.read(depth)
            if type(href) is not str:
                raise ProtocolError("malformed URL")
            try:
                return URL(href)
            except ValueError:
                raise ProtocolError("malformed URL") from None
        if t == _EXT_MSGPACKR_ERROR:
            a = self.read(depth)
            if type(a) is not list:
                raise ProtocolError("malformed error")
            rec = {"name": a[0] if a else None, "message": a[1] if len(a) > 1 else None}
            if len(a) > 2 and a[2] is not UNDEFINED:
                rec["cause"] = a[2]
            return record_to_error(rec)
        if t == _EXT_SET:
            a = self.read(depth)
            if type(a) is not list:
                raise ProtocolError("malformed Set")
            return JsSet([_hashable(x) for x in a])
        if t == _EXT_REGEXP:
            a = self.read(depth)
            if type(a) is not list or len(a) != 2 or type(a[0]) is not str or type(a[1]) is not str:
                raise ProtocolError("malformed RegExp")
            return RegExp(a[0], a[1])
        if t == _EXT_RECORD:
            raise ProtocolError("msgpackr record extension is not part of the ipfi protocol")
        return self.ext_data(t, p + 1, 1)  # an extension with one byte of data

    def ext(self, n: int) -> Any:
        p = self.need(1 + n)
        t = self.buf[p]
        if t == _EXT_RECORD:
            raise ProtocolError("msgpackr record extension is not part of the ipfi protocol")
        return self.ext_data(t, p + 1, n)

    def ext_data(self, t: int, p: int, n: int) -> Any:
        buf = self.buf
        if t == _EXT_UNDEFINED:
            return UNDEFINED
        if t == _EXT_TIMESTAMP:
            return _timestamp(buf, p, n)
        if t == _EXT_BIGINT and n >= 1:
            return BigInt(int.from_bytes(buf[p:p + n], "big", signed=True))
        if t == _EXT_TYPED and n >= 1:
            return _typed_array(buf[p], buf[p + 1:p + n])
        raise ProtocolError(f"undecodable message: extension type {t} (length {n}) is not part of the ipfi protocol")


def _timestamp(buf: bytes, p: int, n: int) -> Union[datetime, JsDate]:
    if n == 4:
        s, ns = _S_I(buf, p)[0], 0
    elif n == 8:
        hi, lo = _S_II(buf, p)
        ns, s = hi >> 2, ((hi & 3) << 32) | lo
    elif n == 12:
        ns, s = _S_Iq(buf, p)
    else:
        return JsDate(math.nan)
    us = s * 1_000_000 + ns // 1000
    if _DATETIME_MIN_US <= us <= _DATETIME_MAX_US:
        return _EPOCH + timedelta(microseconds=us)
    ms = s * 1000 + ns / 1_000_000
    return JsDate(ms if abs(ms) <= _JS_DATE_MAX_MS else math.nan)


def _typed_array(code: int, data: bytes) -> Union[array.array, JsBinary]:
    kind = _BINARY_KINDS.get(code)
    if kind is not None:
        return JsBinary(kind, data)
    tc = _TYPED_DECODE.get(code)
    if tc is None:
        raise ProtocolError(f"undecodable message: unknown typed array code {code}")
    a = array.array(tc)
    if len(data) % a.itemsize:
        raise ProtocolError("undecodable message: a typed array whose length is not a whole number of elements")
    a.frombytes(data)
    if not _LITTLE and a.itemsize > 1:
        a.byteswap()
    return a


def _js_number(x: float) -> str:
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == int(x) and abs(x) < 1e21:
        return str(int(x))
    r = repr(x)
    if "e" in r:
        mant, exp = r.split("e")
        sign = "-" if exp[0] == "-" else "+"
        r = f"{mant}e{sign}{int(exp.lstrip('+-'))}"
    return r


def _property_name(k: Any) -> str:
    """A map key as JavaScript makes it a property name; other key types are refused."""
    t = type(k)
    if t is bool:
        return "true" if k else "false"
    if k is None:
        return "null"
    if k is UNDEFINED:
        return "undefined"
    if t is int or t is BigInt:
        try:
            return str(int(k))
        except ValueError:  # more digits than this interpreter converts (sys.set_int_max_str_digits)
            raise ProtocolError("undecodable message: a map key that is a BigInt too large to be a property name") from None
    if t is float:
        return _js_number(k)
    raise ProtocolError("undecodable message: a map key must be a string, a number, a boolean, nil or a BigInt")


def _hashable(k: Any) -> Any:
    """A Map key or Set item as a Python dict key: lists become tuples, sets frozensets, and
    anything else Python cannot hash (objects, Maps, typed arrays) an ObjectKey, distinct by
    identity as object keys are in JavaScript."""
    try:
        hash(k)
        return k
    except TypeError:
        pass
    if type(k) is list:
        return tuple(_hashable(x) for x in k)
    if type(k) is set or type(k) is JsSet:
        return frozenset(k)
    return ObjectKey(k)


def decode(buf: bytes, on_handle: Optional[HandleReader] = None, start: int = 0, end: Optional[int] = None) -> Any:
    """Decode exactly one value from ``buf[start:end]``. ``on_handle(index, tag)`` supplies the
    object for a handle reference; without it, a handle reference is a protocol error. Anything
    malformed raises :class:`ProtocolError`."""
    if end is None:
        end = len(buf)
    if start >= end:
        raise ProtocolError("undecodable message: empty")
    r = _Reader(buf, start, end, on_handle)
    try:
        if end - start > _SHALLOW:
            with _Headroom():
                v = r.read(0)
        else:
            v = r.read(0)
    except RecursionError:  # not within the limit's headroom (a recursion limit lowered meanwhile)
        raise _nested_too_deep() from None
    if r.pos != end:
        raise ProtocolError("undecodable message: bytes after the value")
    return v


def decode_plain(buf: bytes, start: int = 0, end: Optional[int] = None) -> Any:
    return decode(buf, None, start, end)


# ------------------------------------------------------------------------------- in-process delivery

_LEAVES = frozenset((str, int, float, bool, type(None), bytes, BigInt, Undefined, URL, RegExp, JsDate, JsBinary))


def walk_local(value: Any, replace: Callable[[Handle], Any]) -> Any:
    """What an in-process send delivers: the value itself, checked to be sendable exactly as the
    encoder would, with each handle replaced by ``replace(handle)``. Containers are copied only on
    the path to a handle, so a value without handles comes back as the very same object."""
    calls = 0

    def counted(h: Handle) -> Any:
        nonlocal calls
        calls += 1
        return replace(h)

    try:
        return _walk(value, counted, 0)
    except RecursionError:
        if calls:  # handles were replaced already: cannot walk again
            raise _too_deep() from None
    with _Headroom():
        try:
            return _walk(value, replace, 0)
        except RecursionError:
            raise _too_deep() from None


def _walk(v: Any, replace: Callable[[Handle], Any], depth: int) -> Any:  # noqa: C901
    t = type(v)
    if t in _LEAVES:
        if t is RegExp and depth >= MAX_ENCODE_DEPTH:  # written as an array
            raise _too_deep()
        return v
    if isinstance(v, Handle):
        return replace(v)
    if t is ObjectKey:
        w = _walk(v.value, replace, depth)
        return v if w is v.value else ObjectKey(w)
    if depth >= MAX_ENCODE_DEPTH and t is not bytearray and t is not memoryview and t is not array.array and t is not datetime:
        raise _too_deep()
    d = depth + 1
    if t is list or t is tuple:
        out = None
        for i, x in enumerate(v):
            y = _walk(x, replace, d)
            if y is not x and out is None:
                out = list(v[:i])
            if out is not None:
                out.append(y)
        return v if out is None else (out if t is list else tuple(out))
    if t is dict or t is Map or t is NullProtoDict:
        changed = False
        items = []
        for k, x in (v.pairs() if t is Map else v.items()):
            if t is NullProtoDict and type(k) is not str:
                raise UnsupportedValueError(f"a NullProtoDict key must be a str, not {type(k).__name__}")
            k2 = _walk(k, replace, d)
            x2 = _walk(x, replace, d)
            changed = changed or k2 is not k or x2 is not x
            items.append((k2, x2))
        if not changed:
            return v
        return Map.from_pairs(items) if t is Map else t(items)
    if t is set or t is frozenset or t is JsSet:
        items1 = v.ordered() if t is JsSet else list(v)
        items2 = [_walk(x, replace, d) for x in items1]
        return t(items2) if any(a is not b for a, b in zip(items2, items1)) else v
    if t is bytearray or t is memoryview or t is array.array:
        if t is array.array and _TYPED_ENCODE.get(v.typecode, -1) < 0:
            raise UnsupportedValueError(f"an array.array of typecode {v.typecode!r} has no JavaScript typed array")
        return v
    if t is datetime:
        if v.tzinfo is None or v.utcoffset() is None:
            raise UnsupportedValueError("a naive datetime cannot be sent: it names no moment (give it a tzinfo, e.g. timezone.utc)")
        return v
    if isinstance(v, BaseException):
        p = _Packer(False)
        p.in_error = 1
        p.pack(error_to_record(v), depth)  # refuses what the record could not carry, handles included
        return v
    raise _unsupported(v)
