"""ipfi for Python: typed channels whose ends live in other processes or across any byte stream,
with handles (senders, receivers) that travel inside messages. It speaks the ipfi wire protocol
(docs/PROTOCOL.md) with the JavaScript ipfi and with itself.

    tx, rx = ipfi.channel()
    tx.send({"hello": "world"})
    print(await rx.recv())

Layers, each importing only from those before it: errors, values -> codec -> wire -> frames ->
port, handles -> link -> channel -> connection, procedures -> process, server -> this module.
"""
from .channel import Empty, Endpoint, FunctionEndpoint, Receiver, ReceiverSet, SelectEvent, Sender, channel
from .connection import Connection, connect_wire
from .error_record import register_error_class
from .errors import (AddressInUseError, AuthenticationError, ConnectionLostError, DisconnectedError, HandleError,
                     IpfiError, LimitExceededError, ProtocolError, RemoteError, TimeoutError, UnsupportedValueError)
from .limits import DEFAULT_LIMITS, Limits
from .link import Link
from .procedures import (DEFAULT_PROCEDURE_LIMITS, AbortError, AbortSignal, CallContext, Callback, ProcedureLimits, Remote,
                         RemoteCall, RemoteFunction, RemoteMethod, ResultStream, ThrownValue, callback, current_call, expose,
                         remote)
from .process import Child, ExitInfo, ParentEnds, spawn, stdio_link
from .server import Peer, Server, connect, listen
from .values import UNDEFINED, BigInt, JsBinary, JsDate, JsSet, Map, NullProtoDict, ObjectKey, RegExp, Undefined, URL
from .wire import FdWire, StreamWire, Wire

__version__ = "0.1.0"

__all__ = [
    # channels
    "channel", "Sender", "Receiver", "ReceiverSet", "SelectEvent", "Empty", "Endpoint", "FunctionEndpoint",
    # links, wires, processes
    "Link", "Limits", "DEFAULT_LIMITS", "Connection", "connect_wire", "Wire", "FdWire", "StreamWire",
    "spawn", "stdio_link", "Child", "ParentEnds", "ExitInfo", "listen", "connect", "Server", "Peer",
    # procedures
    "expose", "remote", "callback", "current_call", "CallContext", "AbortSignal", "Remote", "RemoteMethod",
    "RemoteCall", "ResultStream", "RemoteFunction", "Callback", "ProcedureLimits", "DEFAULT_PROCEDURE_LIMITS",
    # errors
    "IpfiError", "DisconnectedError", "ConnectionLostError", "ProtocolError", "LimitExceededError", "TimeoutError",
    "HandleError", "UnsupportedValueError", "AuthenticationError", "AddressInUseError", "RemoteError",
    "register_error_class", "AbortError", "ThrownValue",
    # values
    "UNDEFINED", "Undefined", "BigInt", "Map", "ObjectKey", "JsSet", "NullProtoDict", "URL", "RegExp", "JsDate", "JsBinary",
]
