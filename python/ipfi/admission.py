"""Admission (PROTOCOL §3): the exchange a ``listen()`` server and a ``connect()`` client run on a
fresh connection before any link exists. It says whether the server takes the client (it may be
full) and, with a shared secret, proves on both sides that the other knows it by challenge and
response: the secret never crosses the wire; proofs are compared in constant time.

    server -> client  OFFER    "IPFA" 01 status flags nonceS[32]          39 bytes
    client -> server  ANSWER   "IPFA" 01 flags proofC[32] nonceC[32]      70 bytes
    server -> client  VERDICT  "IPFA" 01 status proofS[32]                38 bytes
"""
from __future__ import annotations

import hashlib
import hmac
import os
from typing import Optional, Union

from .errors import AuthenticationError
from .wire import Wire

__all__ = ["admit_client", "seek_admission", "secret_bytes", "STATUS_OK", "STATUS_BAD_SECRET",
           "STATUS_SECRET_REQUIRED", "STATUS_FULL", "STATUS_NOT_IPFI"]

MAGIC = b"IPFA"
VERSION = 1
NONCE = 32
PROOF = 32
OFFER_LEN = 4 + 1 + 1 + 1 + NONCE
ANSWER_LEN = 4 + 1 + 1 + PROOF + NONCE
VERDICT_LEN = 4 + 1 + 1 + PROOF
STATUS_OK = 0
STATUS_BAD_SECRET = 1
STATUS_SECRET_REQUIRED = 2
STATUS_FULL = 3
STATUS_NOT_IPFI = 4
FLAG_SECRET = 1
_ZERO = bytes(PROOF)

_STATUS_TEXT = {
    STATUS_BAD_SECRET: "the server refused the shared secret",
    STATUS_SECRET_REQUIRED: "the server requires a shared secret, and none was given",
    STATUS_FULL: "the server has its maximum number of clients",
    STATUS_NOT_IPFI: "the server did not understand the handshake",
}


def secret_bytes(secret: Union[str, bytes, None]) -> Optional[bytes]:
    if secret is None:
        return None
    b = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
    if not b:
        raise ValueError("a shared secret must not be empty")
    return b


def _proof(secret: bytes, label: bytes, a: bytes, b: bytes) -> bytes:
    return hmac.new(secret, label + a + b, hashlib.sha256).digest()


async def _read(wire: Wire, n: int, what: str) -> bytes:
    try:
        return await wire.read_exactly(n)
    except (EOFError, OSError) as e:
        raise AuthenticationError(f"the connection closed during the handshake (waiting for {what})", e) from None


def _refused(status: int) -> AuthenticationError:
    return AuthenticationError(_STATUS_TEXT.get(status, f"the server refused the connection (status {status})"))


async def admit_client(wire: Wire, secret: Optional[bytes], full: bool) -> None:
    """The server's side. Returns once the client is admitted; raises AuthenticationError (having
    told the client and closed the wire) otherwise."""
    nonce_s = os.urandom(NONCE)
    wire.write([MAGIC + bytes([VERSION, STATUS_FULL if full else STATUS_OK, FLAG_SECRET if secret else 0]) + nonce_s])
    if full:
        wire.close()
        raise AuthenticationError(_STATUS_TEXT[STATUS_FULL])
    answer = await _read(wire, ANSWER_LEN, "the client's answer")

    def refuse(status: int, message: str) -> AuthenticationError:
        wire.write([MAGIC + bytes([VERSION, status]) + _ZERO])
        wire.close()
        return AuthenticationError(message)

    if answer[:4] != MAGIC or answer[4] != VERSION:
        raise refuse(STATUS_NOT_IPFI, "the client did not send an ipfi handshake")
    flags, proof_c, nonce_c = answer[5], answer[6:6 + PROOF], answer[6 + PROOF:]
    mine = _ZERO
    if secret is not None:
        if not flags & FLAG_SECRET:
            raise refuse(STATUS_SECRET_REQUIRED, "the client gave no shared secret")
        if not hmac.compare_digest(proof_c, _proof(secret, b"ipfi client", nonce_s, nonce_c)):
            raise refuse(STATUS_BAD_SECRET, "the client gave a wrong shared secret")
        mine = _proof(secret, b"ipfi server", nonce_c, nonce_s)
    wire.write([MAGIC + bytes([VERSION, STATUS_OK]) + mine])


async def seek_admission(wire: Wire, secret: Optional[bytes]) -> None:
    """The client's side. Returns once the server admitted us (and, with a secret, proved it knows it)."""
    offer = await _read(wire, OFFER_LEN, "the server's offer")
    if offer[:4] != MAGIC or offer[4] != VERSION:
        raise AuthenticationError("the server did not answer with an ipfi handshake (is it an ipfi listen() server?)")
    if offer[5] != STATUS_OK:
        raise _refused(offer[5])
    nonce_s = offer[7:]
    if secret is not None and not offer[6] & FLAG_SECRET:
        raise AuthenticationError("a shared secret was given but the server does not check one: refusing an unauthenticated server")
    nonce_c = os.urandom(NONCE)
    mine = _proof(secret, b"ipfi client", nonce_s, nonce_c) if secret is not None else _ZERO
    wire.write([MAGIC + bytes([VERSION, FLAG_SECRET if secret is not None else 0]) + mine + nonce_c])
    verdict = await _read(wire, VERDICT_LEN, "the server's verdict")
    if verdict[:4] != MAGIC or verdict[4] != VERSION:
        raise AuthenticationError("malformed handshake from the server")
    if verdict[5] != STATUS_OK:
        raise _refused(verdict[5])
    if secret is not None and not hmac.compare_digest(verdict[6:], _proof(secret, b"ipfi server", nonce_c, nonce_s)):
        raise AuthenticationError("the server could not prove it knows the shared secret")
