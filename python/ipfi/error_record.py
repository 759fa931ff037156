"""Errors as values (PROTOCOL §9, tag 0x03): an exception becomes a record ``{name, message,
stack?, cause?, errors?, fields?}`` and a record becomes an exception again, without ever looking a
class up by a name the peer chose, except among the classes the application registered and ipfi's
own error names. Fields never become attributes that could change how the object behaves."""
from __future__ import annotations

import traceback
from typing import Any, Dict, Optional, Type

from . import errors as E
from .errors import RemoteError

__all__ = ["register_error_class", "error_to_record", "record_to_error"]

_registered: Dict[str, Type[BaseException]] = {}


def register_error_class(cls: Type[BaseException], name: Optional[str] = None) -> None:
    """Let errors named ``name`` (default ``cls.__name__``) arrive as instances of ``cls``. Its
    ``__init__`` is not called; the instance gets ``args = (message,)``, ``stack``, ``fields``,
    and the fields that are public names ``cls`` does not define, as attributes."""
    if not (isinstance(cls, type) and issubclass(cls, BaseException)):
        raise TypeError("register_error_class takes an exception class")
    key = name if name is not None else cls.__name__
    if not key:
        raise TypeError("register_error_class: the class needs a name")
    _registered[key] = cls


def _remote_kind(base: Type[E.IpfiError]) -> Type[RemoteError]:
    return type("Remote" + base.__name__, (RemoteError, base), {"__module__": __name__})


# An error named like one of ipfi's arrives as that class too (and as a RemoteError, to tell it from
# this process's own). A fixed table: nothing else is looked up by name.
_REMOTE_KINDS: Dict[str, Type[RemoteError]] = {
    c.__name__: _remote_kind(c)
    for c in (E.DisconnectedError, E.ConnectionLostError, E.ProtocolError, E.LimitExceededError,
              E.TimeoutError, E.HandleError, E.UnsupportedValueError, E.AuthenticationError)
}
_REMOTE_KINDS["TypeError"] = type("RemoteTypeError", (RemoteError, TypeError), {"__module__": __name__})

_PY_NAMES = {Exception: "Error"}
_OWN = frozenset(("message", "cause", "has_cause", "name", "stack", "fields", "errors"))


def error_to_record(e: BaseException) -> Dict[str, Any]:
    if isinstance(e, RemoteError):
        record: Dict[str, Any] = {"name": e.name, "message": e.message, "stack": e.stack}
        if e.has_cause:
            record["cause"] = e.cause
        if e.errors is not None:
            record["errors"] = list(e.errors)
        if e.fields:
            record["fields"] = dict(e.fields)
        return record
    cls = type(e)
    name = _PY_NAMES.get(cls, cls.__name__)
    if isinstance(e, E.IpfiError):
        message = e.message
    elif len(e.args) == 1 and isinstance(e.args[0], str):
        message = e.args[0]
    else:
        message = str(e)
    record = {"name": name, "message": message}
    if e.__traceback__ is not None:
        record["stack"] = "".join(traceback.format_exception(cls, e, e.__traceback__)).rstrip("\n")
    else:
        record["stack"] = f"{name}: {message}"
    if isinstance(e, E.IpfiError) and e.has_cause:
        record["cause"] = e.cause
    elif e.__cause__ is not None:
        record["cause"] = e.__cause__
    fields: Dict[str, Any] = {}
    code = getattr(e, "code", None)
    if isinstance(code, (str, int)) and not isinstance(code, bool):
        fields["code"] = code
    for k, v in getattr(e, "__dict__", {}).items():
        if k.startswith("_") or k in _OWN or callable(v):
            continue
        fields[k] = v
    if fields:
        record["fields"] = fields
    return record


def record_to_error(r: Dict[str, Any]) -> BaseException:
    """A decoded record (a dict) as an exception; never runs a constructor chosen by the peer."""
    name = r.get("name")
    name = name if isinstance(name, str) else "Error"
    message = r.get("message")
    message = message if isinstance(message, str) else ""
    stack = r.get("stack")
    stack = stack if isinstance(stack, str) else f"{name}: {message}"
    raw_fields = r.get("fields")
    fields: Dict[str, Any] = dict(raw_fields) if isinstance(raw_fields, dict) else {}
    errs = r.get("errors")
    errs = list(errs) if isinstance(errs, list) else None
    has_cause = "cause" in r
    custom = _registered.get(name)
    if custom is not None:
        e = custom.__new__(custom)
        e.args = (message,)
        d = getattr(e, "__dict__", None)
        if d is not None:
            d.update(name=name, message=message, stack=stack, fields=fields, errors=errs)
            for k, v in fields.items():
                if isinstance(k, str) and k.isidentifier() and not k.startswith("_") and not hasattr(custom, k):
                    d[k] = v
            if has_cause:
                d["cause"] = r["cause"]
        if has_cause and isinstance(r["cause"], BaseException):
            e.__cause__ = r["cause"]
        return e
    cls = _REMOTE_KINDS.get(name, RemoteError)
    err = cls.__new__(cls)
    err.args = (message,)
    RemoteError.__init__(err, name, message, stack, fields, r["cause"] if has_cause else E._MISSING, errs)
    return err
