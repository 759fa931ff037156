"""Tagged JSON (conformance/python/README.md, "Values: tagged JSON"): the language-neutral notation
of values in conformance/values.json, read into Python values, and the deep comparison the roles
judge with. The Python counterpart of conformance/js/lib/tagged.mjs."""
from __future__ import annotations

import array
import math
from datetime import datetime, timedelta, timezone
from typing import Any, List, Optional

import ipfi
from ipfi.codec import _typed_array  # the decoder's own mapping of type codes to array typecodes
from ipfi.error_record import record_to_error

__all__ = ["from_tagged", "difference", "kind_of", "show"]

_TYPED_CODES = {
    "Int8Array": 0, "Uint8Array": 1, "Uint8ClampedArray": 2, "Int16Array": 3, "Uint16Array": 4,
    "Int32Array": 5, "Uint32Array": 6, "Float32Array": 7, "Float64Array": 8, "BigInt64Array": 9,
    "BigUint64Array": 10, "ArrayBuffer": 16, "DataView": 17,
}
_CODE_NAMES = {v: k for k, v in _TYPED_CODES.items()}
_TYPECODE_NAMES = {"b": "Int8Array", "B": "Uint8Array", "h": "Int16Array", "H": "Uint16Array", "f": "Float32Array",
                   "d": "Float64Array", "q": "BigInt64Array", "Q": "BigUint64Array"}
for _tc in ("i", "l"):
    _size = array.array(_tc).itemsize
    if _size in (4, 8):
        _TYPECODE_NAMES[_tc] = "Int32Array" if _size == 4 else "BigInt64Array"
        _TYPECODE_NAMES[_tc.upper()] = "Uint32Array" if _size == 4 else "BigUint64Array"

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MIN_MS = (datetime(1, 1, 1, tzinfo=timezone.utc) - _EPOCH) // timedelta(milliseconds=1)
_MAX_MS = (datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=timezone.utc) - _EPOCH) // timedelta(milliseconds=1)


def _bytes_of(hex_text: str) -> bytes:
    return bytes.fromhex("".join(hex_text.split()))


def _tag_key(o: dict) -> Optional[str]:
    if len(o) == 1:
        (k,) = o.keys()
        if k.startswith("$"):
            return k
    return None


def _hashable(k: Any) -> Any:
    try:
        hash(k)
        return k
    except TypeError:
        pass
    if isinstance(k, list):
        return tuple(_hashable(x) for x in k)
    if isinstance(k, set):
        return frozenset(k)
    raise TypeError(f"a Map key or Set item Python cannot hold: {type(k).__name__}")


def from_tagged(t: Any) -> Any:
    """A Python value (as ipfi for Python represents it) from its tagged-JSON form."""
    if t is None or isinstance(t, (str, bool)):
        return t
    if isinstance(t, int):
        if not -(2 ** 31) <= t < 2 ** 32:
            raise TypeError(f"a plain JSON number must be an integer in [-2^31, 2^32), got {t}")
        return t
    if isinstance(t, float):
        raise TypeError(f"a plain JSON number must be an integer, got {t}: write {{\"$float\": ...}}")
    if isinstance(t, list):
        out = []
        for x in t:  # a loop, not a comprehension: one frame per level (fixtures nest 511 deep)
            out.append(from_tagged(x))
        return out
    if not isinstance(t, dict):
        raise TypeError(f"not tagged JSON: {t!r}")
    tag = _tag_key(t)
    if tag is None:
        return {k: from_tagged(v) for k, v in t.items()}
    v = t[tag]
    if tag == "$undefined":
        return ipfi.UNDEFINED
    if tag == "$float":
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return float(v)
        return {"-0": -0.0, "NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}[v]
    if tag == "$bigint":
        return ipfi.BigInt(int(v))
    if tag == "$bytes":
        return _bytes_of(v)
    if tag == "$typed":
        name, hex_text = v
        return _typed_array(_TYPED_CODES[name], _bytes_of(hex_text))
    if tag == "$map":
        return ipfi.Map.from_pairs([(_hashable(from_tagged(k)), from_tagged(x)) for k, x in v])
    if tag == "$set":
        return ipfi.JsSet([_hashable(from_tagged(x)) for x in v])
    if tag == "$date":
        if v == "invalid":
            return ipfi.JsDate(math.nan)
        if _MIN_MS <= v <= _MAX_MS:
            return _EPOCH + timedelta(milliseconds=v)
        return ipfi.JsDate(v)
    if tag == "$regexp":
        return ipfi.RegExp(v[0], v[1])
    if tag == "$url":
        return ipfi.URL(v)
    if tag == "$nullproto":
        return ipfi.NullProtoDict({k: from_tagged(x) for k, x in v.items()})
    if tag == "$object":
        return {k: from_tagged(x) for k, x in v.items()}
    if tag == "$error":
        record: dict = {"name": v.get("name", "Error"), "message": v.get("message", "")}
        if "fields" in v:
            record["fields"] = {k: from_tagged(x) for k, x in v["fields"].items()}
        if "cause" in v:
            record["cause"] = from_tagged(v["cause"])
        if "errors" in v:
            record["errors"] = [from_tagged(x) for x in v["errors"]]
        return record_to_error(record)
    raise TypeError(f"unknown tag {tag}")


def kind_of(v: Any) -> str:
    """The kind of a value as the protocol carries it."""
    t = type(v)
    if v is None:
        return "null"
    if v is ipfi.UNDEFINED:
        return "undefined"
    if t is bool:
        return "boolean"
    if t is ipfi.BigInt:
        return "bigint"
    if t is int or t is float:
        return "number"
    if t is ipfi.URL:
        return "URL"
    if t is str:
        return "string"
    if t is bytes or t is bytearray:
        return "Buffer"
    if t is list or t is tuple:
        return "Array"
    if t is ipfi.NullProtoDict:
        return "null-prototype object"
    if t is ipfi.Map:
        return "Map"
    if t is dict:
        return "object"
    if t is set or t is frozenset or t is ipfi.JsSet:
        return "Set"
    if t is datetime or t is ipfi.JsDate:
        return "Date"
    if t is ipfi.RegExp:
        return "RegExp"
    if t is array.array:
        return _TYPECODE_NAMES.get(v.typecode, f"array.array({v.typecode})")
    if t is ipfi.JsBinary:
        return v.kind
    if isinstance(v, BaseException):
        return "Error"
    if isinstance(v, ipfi.Receiver):
        return "Receiver"
    if isinstance(v, ipfi.Sender):
        return "Sender"
    return t.__name__


def show(v: Any) -> str:
    try:
        if type(v) is str:
            return repr(v[:40] + "..." if len(v) > 40 else v)
        if type(v) is float and v == 0 and math.copysign(1, v) < 0:
            return "-0"
        if type(v) is ipfi.BigInt:
            return f"{int(v)}n"
        if isinstance(v, (dict, list, tuple, set, frozenset)):
            return kind_of(v)
        return repr(v)
    except Exception:  # noqa: BLE001
        return "?"


def _ms(d: Any) -> float:
    if isinstance(d, ipfi.JsDate):
        return d.ms
    return (d - _EPOCH) / timedelta(milliseconds=1)


def _same_number(a: Any, e: Any) -> bool:
    if isinstance(a, float) and math.isnan(a):
        return isinstance(e, float) and math.isnan(e)
    if isinstance(e, float) and math.isnan(e):
        return False
    if a != e:
        return False
    if a == 0:
        return math.copysign(1, float(a)) == math.copysign(1, float(e))
    return True


def difference(actual: Any, expected: Any, path: str = "$") -> Optional[str]:
    """None when ``actual`` is the same value as ``expected`` (as the protocol carries values),
    else where they differ."""
    ka, ke = kind_of(actual), kind_of(expected)
    if ka != ke:
        shown_a = ka if isinstance(actual, (dict, list, tuple, set, frozenset)) else f"{ka} {show(actual)}"
        shown_e = ke if isinstance(expected, (dict, list, tuple, set, frozenset)) else f"{ke} {show(expected)}"
        return f"{path}: expected {shown_e}, got {shown_a}"
    if ke == "number":
        return None if _same_number(actual, expected) else f"{path}: expected {show(expected)}, got {show(actual)}"
    if ke in ("bigint", "string", "boolean", "undefined", "null", "URL", "Buffer"):
        return None if actual == expected else f"{path}: expected {show(expected)}, got {show(actual)}"
    if ke == "Array":
        if len(actual) != len(expected):
            return f"{path}: expected {len(expected)} items, got {len(actual)}"
        for i, (a, e) in enumerate(zip(actual, expected)):
            d = difference(a, e, f"{path}[{i}]")
            if d:
                return d
        return None
    if ke in ("object", "null-prototype object"):
        return _same_keys(actual, expected, path)
    if ke == "Map":
        if len(actual) != len(expected):
            return f"{path}: expected a Map of {len(expected)}, got {len(actual)}"
        if len(actual.pairs()) != len(expected.pairs()):
            return f"{path}: expected a Map of {len(expected.pairs())} pairs, got {len(actual.pairs())}"
        for i, ((ak, av), (ek, ev)) in enumerate(zip(actual.pairs(), expected.pairs())):
            d = difference(ak, ek, f"{path}.key({i})") or difference(av, ev, f"{path}.get({show(ek)})")
            if d:
                return d
        return None
    if ke == "Set":
        if len(actual) != len(expected):
            return f"{path}: expected a Set of {len(expected)}, got {len(actual)}"
        if isinstance(actual, ipfi.JsSet) and isinstance(expected, ipfi.JsSet):  # both ordered: in order
            for i, (a, e) in enumerate(zip(actual.ordered(), expected.ordered())):
                d = difference(a, e, f"{path}.item({i})")
                if d:
                    return d
            return None
        left: List[Any] = list(actual)
        for i, e in enumerate(expected):
            j = next((j for j, a in enumerate(left) if difference(a, e) is None), None)
            if j is None:
                return f"{path}: expected an item {show(e)} in the Set"
            left.pop(j)
        return None
    if ke == "Date":
        a, e = _ms(actual), _ms(expected)
        if math.isnan(a) and math.isnan(e) or a == e:
            return None
        return f"{path}: expected Date {e}, got {a}"
    if ke == "RegExp":
        return None if actual == expected else f"{path}: expected {expected!r}, got {actual!r}"
    if ke == "Error":
        for k in ("name", "message"):
            av, ev = getattr(actual, k, None), getattr(expected, k, None)
            if av != ev:
                return f"{path}.{k}: expected {show(ev)}, got {show(av)}"
        if type(actual) is not type(expected):
            return f"{path}: expected an instance of {type(expected).__name__}, got {type(actual).__name__}"
        ha, he = getattr(actual, "has_cause", False), getattr(expected, "has_cause", False)
        if ha != he:
            return f"{path}.cause: expected {'one' if he else 'none'}"
        if he:
            d = difference(actual.cause, expected.cause, f"{path}.cause")
            if d:
                return d
        if getattr(expected, "errors", None) is not None or getattr(actual, "errors", None) is not None:
            d = difference(getattr(actual, "errors", None) or [], getattr(expected, "errors", None) or [], f"{path}.errors")
            if d:
                return d
        return _same_keys(getattr(actual, "fields", {}) or {}, getattr(expected, "fields", {}) or {}, f"{path}(fields)")
    if isinstance(expected, (array.array, ipfi.JsBinary)):
        ab = actual.data if isinstance(actual, ipfi.JsBinary) else actual.tobytes()
        eb = expected.data if isinstance(expected, ipfi.JsBinary) else expected.tobytes()
        return None if ab == eb else f"{path}: expected bytes {eb.hex()}, got {ab.hex()}"
    return f"{path}: cannot compare {ke}"


def _same_keys(actual: dict, expected: dict, path: str) -> Optional[str]:
    ka, ke = sorted(actual.keys(), key=str), sorted(expected.keys(), key=str)
    if ka != ke:
        return f"{path}: expected keys {ke}, got {ka}"
    for k in ke:
        d = difference(actual[k], expected[k], f"{path}.{k}")
        if d:
            return d
    return None
