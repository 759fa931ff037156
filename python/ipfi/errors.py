"""The errors ipfi raises, mirroring the JavaScript package's (src/errors.ts): same names, same
``code`` strings. ``cause`` holds why (any value: an exception, an exit status); when it is an
exception it is also the ``__cause__``, so tracebacks show it.

Errors that arrive *inside messages* (a peer sent an error as a value) are :class:`RemoteError`
instances; one named like an ipfi error is also an instance of that class (see ``codec``).
"""
from __future__ import annotations

import builtins
from typing import Any, Optional

__all__ = [
    "IpfiError",
    "DisconnectedError",
    "ConnectionLostError",
    "ProtocolError",
    "LimitExceededError",
    "TimeoutError",
    "HandleError",
    "UnsupportedValueError",
    "AuthenticationError",
    "AddressInUseError",
    "RemoteError",
    "describe_cause",
]

_MISSING: Any = object()


class IpfiError(Exception):
    """Base of every error ipfi raises. ``code`` names the kind, as in JavaScript."""

    code = "ERR_IPFI"

    def __init__(self, message: str = "", cause: Any = _MISSING) -> None:
        super().__init__(message)
        self.message = message
        self.cause: Any = None if cause is _MISSING else cause
        self.has_cause = cause is not _MISSING
        if isinstance(cause, BaseException):
            self.__cause__ = cause

    def __str__(self) -> str:
        return self.message


class DisconnectedError(IpfiError):
    """The other end of a channel is gone: every sender closed, or the receiver closed, or the link
    it crossed ended in order (``cause`` says how)."""

    code = "ERR_IPFI_DISCONNECTED"


class ConnectionLostError(DisconnectedError):
    """The link a channel crossed was lost: the peer crashed, was killed, broke the protocol, or
    went silent. ``cause`` says why. It is a :class:`DisconnectedError` too."""

    code = "ERR_IPFI_CONNECTION_LOST"


class ProtocolError(IpfiError):
    """The peer sent something that breaks the protocol; the link it came over is closed."""

    code = "ERR_IPFI_PROTOCOL"


class LimitExceededError(IpfiError):
    """A limit was exceeded (frame size, handles per message, table sizes, queued bytes...)."""

    code = "ERR_IPFI_LIMIT_EXCEEDED"


class TimeoutError(IpfiError, builtins.TimeoutError):  # noqa: A001 - the JS name, and a builtin TimeoutError too
    """A ``recv``, ``select`` or ``accept`` did not complete within its ``timeout``."""

    code = "ERR_IPFI_TIMEOUT"


class HandleError(IpfiError, TypeError):
    """A handle was used after it was moved or closed, or cannot move now."""

    code = "ERR_IPFI_HANDLE"


class UnsupportedValueError(IpfiError, TypeError):
    """A value cannot be sent (a class instance, a function, a cycle, a naive datetime...)."""

    code = "ERR_IPFI_UNSUPPORTED_VALUE"


class AuthenticationError(IpfiError):
    """A server and a client did not accept each other (secret, TLS, server full); nothing linked."""

    code = "ERR_IPFI_AUTH"


class AddressInUseError(IpfiError):
    """A server cannot listen where asked: a live server is there, or a file that is not a socket."""

    code = "EADDRINUSE"


class RemoteError(Exception):
    """An error that arrived inside a message. ``name``, ``message``, ``stack`` and ``fields`` are
    as the sender wrote them (``fields`` holds its other own properties, such as ``code``);
    ``cause`` is any value. Sent on, it travels as it came."""

    def __init__(self, name: str = "Error", message: str = "", stack: Optional[str] = None,
                 fields: Optional[dict] = None, cause: Any = _MISSING, errors: Optional[list] = None) -> None:
        super().__init__(message)
        self.name = name
        self.message = message
        self.stack = stack if stack is not None else f"{name}: {message}"
        self.fields: dict = fields if fields is not None else {}
        self.cause: Any = None if cause is _MISSING else cause
        self.has_cause = cause is not _MISSING
        self.errors = errors
        if isinstance(self.cause, BaseException):
            self.__cause__ = self.cause

    @property
    def code(self) -> Any:  # type: ignore[override]
        if "code" in self.fields:
            return self.fields["code"]
        for klass in type(self).__mro__:  # a remote DisconnectedError without a code field: the class's
            c = klass.__dict__.get("code")
            if isinstance(c, str):
                return c
        return None

    def __str__(self) -> str:
        return f"{self.name}: {self.message}" if self.message else self.name

    def __repr__(self) -> str:
        return f"RemoteError({self.name!r}, {self.message!r})"


def describe_cause(cause: Any) -> str:
    """A cause as a line of text (an exit status reads as 'process 42 exited with code 1')."""
    if isinstance(cause, IpfiError):
        return cause.message
    if isinstance(cause, BaseException):
        return str(cause) or type(cause).__name__
    describe = getattr(cause, "describe", None)
    if callable(describe):
        return str(describe())
    return str(cause)
