"""Servers for many clients over Unix sockets, TCP and TLS: :func:`listen` and :func:`connect`.
Each client is admitted first (capacity, shared secret: PROTOCOL §3), then gets a link of its own
and arrives as a :class:`Peer`. Both sides ask for heartbeats, so a peer that vanished without
closing its socket is noticed (``idle_timeout``, 30 s by default)."""
from __future__ import annotations

import asyncio
import os
import socket
import ssl
from typing import Any, Callable, Dict, List, Optional, Set, Union

from .address import Address, format_address, parse_address, prepare_socket_path
from .admission import admit_client, secret_bytes, seek_admission
from .connection import Connection
from .errors import AuthenticationError, DisconnectedError, TimeoutError
from .link import Link
from .wire import FdWire, StreamWire, Wire

__all__ = ["listen", "connect", "Server", "Peer", "DEFAULT_MAX_CLIENTS", "DEFAULT_IDLE_TIMEOUT"]

DEFAULT_MAX_CLIENTS = 1024
DEFAULT_IDLE_TIMEOUT = 30.0
Secret = Union[str, bytes, None]


class Peer(Connection[Any, Any]):
    """One client of a server, or the server as a client sees it. ``remote`` says who: the Unix
    socket path, or ``{"address", "port"}`` (and for TLS the peer's certificate, if it sent one)."""

    def __init__(self, link: Link, remote: Dict[str, Any]) -> None:
        super().__init__(link)
        self.remote = remote


def _tls_remote(writer: asyncio.StreamWriter) -> Dict[str, Any]:
    obj = writer.get_extra_info("ssl_object")
    cert = obj.getpeercert() if obj is not None else None
    return {"certificate": cert} if cert else {}


class Server:
    """A listening server. ``async for peer in server`` (or ``await server.accept()``) gives each
    admitted client; ``close()`` (or ``async with``) stops accepting and closes every peer's link
    in order."""

    def __init__(self, sock: socket.socket, address: str, unix_path: Optional[str], settings: Dict[str, Any]) -> None:
        self.address = address
        self._sock = sock
        self._unix_path = unix_path
        self._settings = settings
        self._loop = asyncio.get_running_loop()
        self.peers: Set[Peer] = set()
        self._ready: List[Peer] = []
        self._waiters: List["asyncio.Future[Peer]"] = []
        self._clients = 0
        self._welcomes: Set["asyncio.Task[None]"] = set()
        #: Accepted sockets no wire owns yet (a welcome cancelled before it ran must still close its socket).
        self._unowned: Set[socket.socket] = set()
        self._closing: Optional["asyncio.Task[None]"] = None
        self._acceptor = self._loop.create_task(self._accept_loop())

    @property
    def clients(self) -> int:
        """Connections counted in now (being admitted, or linked)."""
        return self._clients

    async def _accept_loop(self) -> None:
        while True:
            try:
                conn, remote = await self._loop.sock_accept(self._sock)
            except asyncio.CancelledError:
                return
            except OSError:
                if self._closing is not None:
                    return
                await asyncio.sleep(0.05)  # EMFILE and friends: try again shortly
                continue
            self._unowned.add(conn)
            t = self._loop.create_task(self._welcome(conn, remote))
            self._welcomes.add(t)
            t.add_done_callback(self._welcomes.discard)

    async def _welcome(self, conn: socket.socket, remote: Any) -> None:
        s = self._settings
        who: Dict[str, Any] = {"address": self._unix_path} if self._unix_path else {"address": remote[0], "port": remote[1]}
        full = self._clients >= s["max_clients"] or self._closing is not None
        counted = not full
        if counted:
            self._clients += 1
        wire: Optional[Wire] = None
        link: Optional[Link] = None
        try:
            async def admit() -> Link:
                nonlocal wire
                conn.setblocking(False)
                self._unowned.discard(conn)
                if s["tls"] is not None:
                    reader = asyncio.StreamReader()
                    protocol = asyncio.StreamReaderProtocol(reader)
                    transport, _ = await self._loop.connect_accepted_socket(
                        lambda: protocol, conn, ssl=s["tls"], ssl_handshake_timeout=s["handshake_timeout"])
                    writer = asyncio.StreamWriter(transport, protocol, reader, self._loop)
                    who.update(_tls_remote(writer))
                    wire = StreamWire(reader, writer)
                else:
                    wire = FdWire(conn.detach(), is_socket=True)
                await admit_client(wire, s["secret"], full)
                name = f"client on {self._unix_path}" if self._unix_path else f"client {who['address']}:{who['port']}"
                new = Link(wire, name=name, limits=s["limits"], idle_timeout=s["idle_timeout"])
                await new.ready
                return new

            link = await asyncio.wait_for(admit(), s["handshake_timeout"])
        except BaseException as e:  # noqa: BLE001 - refused, timed out, TLS failure: this connection only
            if counted:
                self._clients -= 1
            if link is not None:
                link.fail(e)
            if wire is not None:
                wire.abort()
            else:
                conn.close()
            if isinstance(e, asyncio.CancelledError):
                raise
            if isinstance(e, asyncio.TimeoutError) and not isinstance(e, TimeoutError):
                e = TimeoutError(f"no handshake within {s['handshake_timeout']:g} s")
            if s["on_reject"] is not None:
                s["on_reject"](e, who)
            return
        link.closed.add_done_callback(lambda _: self._left())
        self._add(Peer(link, who))

    def _left(self) -> None:
        self._clients -= 1

    def _add(self, peer: Peer) -> None:
        if self._closing is not None:
            peer.close("the server is closing")
            return
        self.peers.add(peer)

        def gone(_: Any) -> None:
            self.peers.discard(peer)
            # A client that left before it was accepted is still handed out if it sent anything.
            if peer in self._ready and not peer.link.inbox.queue:
                self._ready.remove(peer)

        peer.link.closed.add_done_callback(gone)
        while self._waiters:
            w = self._waiters.pop(0)
            if not w.done():
                w.set_result(peer)
                return
        self._ready.append(peer)

    async def accept(self, timeout: Optional[float] = None) -> Peer:
        """The next client. Raises DisconnectedError once the server is closed, ipfi.TimeoutError
        after ``timeout`` seconds."""
        if self._ready:
            return self._ready.pop(0)
        if self._closing is not None:
            raise DisconnectedError("the server is closed")
        fut: "asyncio.Future[Peer]" = self._loop.create_future()
        self._waiters.append(fut)
        timer = None
        if timeout is not None:
            timer = self._loop.call_later(timeout, lambda: fut.done() or fut.set_exception(
                TimeoutError(f"accept timed out after {timeout:g} s")))
        try:
            return await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled() and fut.exception() is None:
                self._ready.insert(0, fut.result())  # handed to us just before the cancel: not lost
            raise
        finally:
            if timer is not None:
                timer.cancel()
            if fut in self._waiters:
                self._waiters.remove(fut)

    def __aiter__(self) -> "Server":
        return self

    async def __anext__(self) -> Peer:
        try:
            return await self.accept()
        except DisconnectedError:
            if self._closing is not None:
                raise StopAsyncIteration from None
            raise

    async def close(self) -> None:
        """Stop accepting and close every peer's link in order; returns once every connection is
        gone and the socket file removed."""
        if self._closing is None:
            self._closing = self._loop.create_task(self._close())
        await asyncio.shield(self._closing)

    async def _close(self) -> None:
        self._acceptor.cancel()
        self._sock.close()
        for w in self._waiters:
            if not w.done():
                w.set_exception(DisconnectedError("the server is closed"))
        self._waiters.clear()
        for t in list(self._welcomes):
            t.cancel()
        peers = list(self.peers)
        for p in peers:
            p.close("the server is closing")
        await asyncio.gather(*(p.link.closed for p in peers), *self._welcomes, return_exceptions=True)
        for conn in self._unowned:
            conn.close()
        self._unowned.clear()
        if self._unix_path:
            try:
                os.unlink(self._unix_path)
            except OSError:
                pass

    async def __aenter__(self) -> "Server":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()


async def listen(address: str, *, secret: Secret = None, tls: Optional[ssl.SSLContext] = None,
                 max_clients: int = DEFAULT_MAX_CLIENTS, handshake_timeout: float = 10.0,
                 idle_timeout: Optional[float] = DEFAULT_IDLE_TIMEOUT, limits: Any = None,
                 on_reject: Optional[Callable[[BaseException, Dict[str, Any]], None]] = None) -> Server:
    """Listen for clients at ``address`` (``unix:/path``, ``tcp://host:port``, ``tls://host:port``;
    TCP and TLS bind to loopback unless the address names another host, port 0 picks a free one).
    ``secret``: admit only clients that prove they know it. ``tls``: a server ``ssl.SSLContext``
    (required for ``tls://``; client certificates are checked by it). ``idle_timeout``: a client
    silent that long (heartbeats included) is lost; None turns it off."""
    a = parse_address(address)
    if not (isinstance(max_clients, int) and max_clients >= 1):
        raise ValueError(f"max_clients must be a positive integer, got {max_clients!r}")
    if a.kind == "tls" and not isinstance(tls, ssl.SSLContext):
        raise TypeError("a tls:// address needs tls=ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER) with a certificate loaded")
    settings = {"secret": secret_bytes(secret), "tls": tls if a.kind == "tls" else None, "max_clients": max_clients,
                "handshake_timeout": handshake_timeout, "idle_timeout": idle_timeout or None, "limits": limits,
                "on_reject": on_reject}
    unix_path: Optional[str] = None
    if a.kind == "unix":
        unix_path = prepare_socket_path(a.path or "")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(unix_path)
            os.chmod(unix_path, 0o600)
        except BaseException:
            sock.close()
            raise
        actual = Address("unix", path=unix_path)
    else:
        infos = await asyncio.get_running_loop().getaddrinfo(a.host, a.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, _, _, _, sockaddr = infos[0]
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(sockaddr)
        except BaseException:
            sock.close()
            raise
        host, port = sock.getsockname()[:2]
        actual = Address(a.kind, host=host, port=port)
    sock.listen(min(max_clients, 511))
    sock.setblocking(False)
    return Server(sock, format_address(actual), unix_path, settings)


async def connect(address: str, *, secret: Secret = None, tls: Union[ssl.SSLContext, bool, None] = None,
                  server_hostname: Optional[str] = None, timeout: float = 10.0,
                  idle_timeout: Optional[float] = DEFAULT_IDLE_TIMEOUT, limits: Any = None) -> Peer:
    """Connect to a ``listen()`` server (of either language). Returns the server as a Peer once the
    link is up. ``tls``: an ``ssl.SSLContext`` for ``tls://`` (default: the system's trust store).
    Raises AuthenticationError if the server refused us (or we it), DisconnectedError if nothing
    listens there, ipfi.TimeoutError after ``timeout`` seconds."""
    a = parse_address(address)
    key = secret_bytes(secret)
    loop = asyncio.get_running_loop()
    wire: Optional[Wire] = None

    async def attempt() -> Peer:
        nonlocal wire
        try:
            if a.kind == "tls":
                ctx = tls if isinstance(tls, ssl.SSLContext) else ssl.create_default_context()
                reader, writer = await asyncio.open_connection(a.host, a.port, ssl=ctx, server_hostname=server_hostname or a.host)
                wire = StreamWire(reader, writer)
            elif a.kind == "unix":
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.setblocking(False)
                try:
                    await loop.sock_connect(sock, a.path)
                except BaseException:
                    sock.close()
                    raise
                wire = FdWire(sock.detach(), is_socket=True)
            else:
                infos = await loop.getaddrinfo(a.host, a.port, type=socket.SOCK_STREAM)
                family, _, _, _, sockaddr = infos[0]
                sock = socket.socket(family, socket.SOCK_STREAM)
                sock.setblocking(False)
                try:
                    await loop.sock_connect(sock, sockaddr)
                except BaseException:
                    sock.close()
                    raise
                wire = FdWire(sock.detach(), is_socket=True)
        except ssl.SSLError as e:
            raise AuthenticationError(f"TLS handshake with {address} failed: {e}", e) from None
        except OSError as e:
            raise DisconnectedError(f"cannot connect to {address}: {e.strerror or e}", e) from None
        await seek_admission(wire, key)
        link = Link(wire, name=f"server {address}", limits=limits, idle_timeout=idle_timeout or None)
        await link.ready
        remote: Dict[str, Any] = {"address": a.path} if a.kind == "unix" else {"address": a.host, "port": a.port}
        return Peer(link, remote)

    try:
        return await asyncio.wait_for(attempt(), timeout)
    except BaseException as e:
        if wire is not None:
            wire.abort()
        if isinstance(e, asyncio.TimeoutError) and not isinstance(e, TimeoutError):
            raise TimeoutError(f"connecting to {address} took more than {timeout:g} s") from None
        raise
