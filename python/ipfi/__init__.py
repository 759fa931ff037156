"""ipfi for Python: typed channels whose ends live in other processes or across any byte stream,
with handles that travel inside messages. Speaks docs/PROTOCOL.md with the JavaScript ipfi."""
from .errors import (AddressInUseError, AuthenticationError, ConnectionLostError, DisconnectedError, HandleError,
                     IpfiError, LimitExceededError, ProtocolError, RemoteError, TimeoutError, UnsupportedValueError)
from .error_record import register_error_class
from .values import UNDEFINED, BigInt, JsBinary, JsDate, Map, NullProtoDict, RegExp, Undefined, URL

__version__ = "0.1.0"

__all__ = [
    "IpfiError", "DisconnectedError", "ConnectionLostError", "ProtocolError", "LimitExceededError", "TimeoutError",
    "HandleError", "UnsupportedValueError", "AuthenticationError", "AddressInUseError", "RemoteError",
    "register_error_class",
    "UNDEFINED", "Undefined", "BigInt", "Map", "NullProtoDict", "URL", "RegExp", "JsDate", "JsBinary",
]
