"""Python stand-ins for the JavaScript values that have no exact Python type, so that every value
of PROTOCOL §9 arrives as something that goes back out as the same JavaScript value.

=====================  ===========================================================
JavaScript              Python
=====================  ===========================================================
``undefined``           :data:`UNDEFINED` (the one :class:`Undefined`)
``BigInt``              :class:`BigInt`, an ``int`` (a plain ``int`` outside
                        [-2**31, 2**32) is sent as a BigInt too)
``Map``                 :class:`Map`, a ``dict`` (a plain ``dict`` whose keys are
                        not all ``str`` is sent as a ``Map`` too)
object without          :class:`NullProtoDict`, a ``dict``
prototype
``URL``                 :class:`URL`, a ``str``
``RegExp``              :class:`RegExp` (source and flags; never compiled)
``Date``                an aware ``datetime`` (UTC); :class:`JsDate` for an invalid
                        Date or one outside ``datetime``'s years 1-9999
typed arrays            ``array.array``; :class:`JsBinary` for
                        ``Uint8ClampedArray``, ``ArrayBuffer`` and ``DataView``
=====================  ===========================================================
"""
from __future__ import annotations

import math
import re
from typing import Any, Dict

__all__ = ["Undefined", "UNDEFINED", "BigInt", "Map", "ObjectKey", "JsSet", "NullProtoDict", "URL", "RegExp", "JsDate", "JsBinary"]


class Undefined:
    """JavaScript's ``undefined``: falsy, and distinct from ``None`` (``null``)."""

    _instance: "Undefined | None" = None
    __slots__ = ()

    def __new__(cls) -> "Undefined":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "UNDEFINED"

    def __reduce__(self) -> str:
        return "UNDEFINED"


UNDEFINED = Undefined()


class BigInt(int):
    """An integer that was (or is to be) a JavaScript ``BigInt``. Arithmetic gives plain ints."""

    def __repr__(self) -> str:
        return f"BigInt({int(self)})"


def _js_kind(k: Any) -> type:
    """The JavaScript type a key is: ``True``, ``1``, ``1.0`` and ``BigInt(1)`` are one Python key
    but three JavaScript values (a boolean, a number, a BigInt)."""
    t = type(k)
    return float if t is int else t


def _js_same(a: Any, b: Any) -> bool:
    """Whether two keys Python holds as one are one key in a JavaScript Map or Set too (arrays and
    Sets that arrive as keys are distinct objects there, however equal)."""
    return _js_kind(a) is _js_kind(b) and type(a) is not tuple and type(a) is not frozenset


_NONE: Any = object()


class Map(Dict[Any, Any]):
    """A JavaScript ``Map``: a dict, sent with the Map tag whatever its keys.

    A Map that arrived with keys JavaScript tells apart and Python cannot (``1`` and ``true``, ``5``
    and ``5n``, two equal arrays) holds one dict entry for each Python key, and :meth:`pairs` gives
    every pair in order, as it came; while the dict is not changed, it goes back out that way."""

    _pairs: Any = None  # (pairs as they came, the dict's items then), for such a Map only

    @classmethod
    def from_pairs(cls, pairs: Any) -> "Map":
        """A Map of ``(key, value)`` pairs in order, keeping them all (see :meth:`pairs`)."""
        m = cls()
        kept = list(pairs)
        for k, v in kept:
            m[k] = v
        if len(m) == len(kept):
            return m
        firsts: Dict[Any, Any] = {}  # some keys came twice: were they one key in JavaScript too?
        for k, _ in kept:
            first = firsts.setdefault(k, k)
            if first is not k and not _js_same(first, k):
                m._pairs = (kept, list(dict.items(m)))
                break
        return m

    def pairs(self) -> "list[tuple[Any, Any]]":
        """The Map's pairs as JavaScript has them: all that arrived while the dict is unchanged."""
        if self._pairs is not None:
            kept, then = self._pairs
            now = list(dict.items(self))
            if len(now) == len(then) and all(a[0] is b[0] and a[1] is b[1] for a, b in zip(now, then)):
                return list(kept)
        return list(dict.items(self))

    def __repr__(self) -> str:
        return f"Map({dict.__repr__(self)})"


class ObjectKey:
    """A value Python cannot use as a dict key or set item (a ``dict``, a :class:`Map`, a
    :class:`NullProtoDict`, a typed array) that arrived as a key of a JavaScript ``Map`` or an item of
    a ``Set``: a box holding it, hashed and compared by identity, as JavaScript compares object keys
    (two equal objects are two keys). It goes back out as the value it holds; wrap a value in one to
    send a Map or Set keyed by objects."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f"ObjectKey({self.value!r})"


class JsSet(set):  # type: ignore[type-arg]
    """A JavaScript ``Set`` as it arrived: a ``set`` that also remembers the order of its items
    (and items JavaScript tells apart that Python holds as one, such as ``1`` and ``true``);
    :meth:`ordered` gives them, and while the set is not changed it goes back out in that order.
    A plain ``set`` or ``frozenset`` is sent as a Set too, in its own iteration order."""

    __slots__ = ("_items",)

    def __init__(self, items: Any = ()) -> None:
        kept = list(items)
        super().__init__(kept)
        self._items: Any = (kept, len(self))

    def ordered(self) -> "list[Any]":
        """The items in the order they arrived (all of them, while the set is unchanged)."""
        kept, size = self._items
        if len(self) == size and all(x in self for x in kept):
            return list(kept)
        out, seen = [], set()
        for x in [*kept, *self]:  # changed: what is still there in its order, then what was added
            if x in self and x not in seen:
                out.append(x)
                seen.add(x)
        return out

    def __reduce__(self) -> Any:
        return (JsSet, (self.ordered(),))

    def __repr__(self) -> str:
        return f"JsSet({self.ordered()!r})"


class NullProtoDict(Dict[str, Any]):
    """A JavaScript object without a prototype (``Object.create(null)``): a dict of str keys."""

    def __repr__(self) -> str:
        return f"NullProtoDict({dict.__repr__(self)})"


_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")


class URL(str):
    """A JavaScript ``URL``, as its ``href``. Only checked to begin with a scheme (``https:``...):
    Python has no WHATWG URL parser, so a JavaScript peer may still refuse one it cannot parse."""

    def __new__(cls, href: str) -> "URL":
        if not isinstance(href, str) or not _SCHEME.match(href):
            raise ValueError(f"not an absolute URL: {href!r}")
        return super().__new__(cls, href)

    def __repr__(self) -> str:
        return f"URL({str.__repr__(self)})"


class RegExp:
    """A JavaScript regular expression, kept as text: ipfi never compiles what a peer sent."""

    __slots__ = ("source", "flags")

    def __init__(self, source: str, flags: str = "") -> None:
        if not isinstance(source, str) or not isinstance(flags, str):
            raise TypeError("RegExp source and flags are strings")
        self.source = source
        self.flags = flags

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RegExp) and (self.source, self.flags) == (other.source, other.flags)

    def __hash__(self) -> int:
        return hash((RegExp, self.source, self.flags))

    def __repr__(self) -> str:
        return f"RegExp({self.source!r}, {self.flags!r})"


class JsDate:
    """A JavaScript ``Date`` that ``datetime`` cannot hold: invalid (``ms`` is NaN), or outside
    the years 1-9999. ``ms`` is milliseconds since 1970 (UTC), as ``Date.getTime()``."""

    __slots__ = ("ms",)

    def __init__(self, ms: float) -> None:
        self.ms = float(ms)

    @property
    def valid(self) -> bool:
        return not math.isnan(self.ms)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, JsDate):
            return NotImplemented
        return self.ms == other.ms or (not self.valid and not other.valid)

    def __hash__(self) -> int:
        return hash((JsDate, self.ms if self.valid else "nan"))

    def __repr__(self) -> str:
        return f"JsDate({self.ms!r})"


class JsBinary:
    """Bytes of a JavaScript ``Uint8ClampedArray``, ``ArrayBuffer`` or ``DataView``."""

    KINDS = ("Uint8ClampedArray", "ArrayBuffer", "DataView")
    __slots__ = ("kind", "data")

    def __init__(self, kind: str, data: bytes) -> None:
        if kind not in JsBinary.KINDS:
            raise ValueError(f"JsBinary kind must be one of {JsBinary.KINDS}, not {kind!r}")
        self.kind = kind
        self.data = bytes(data)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, JsBinary) and (self.kind, self.data) == (other.kind, other.data)

    def __hash__(self) -> int:
        return hash((JsBinary, self.kind, self.data))

    def __repr__(self) -> str:
        return f"JsBinary({self.kind!r}, {self.data!r})"
