"""Signed pickles: the only way a pickle enters or leaves uwsgi_tasks.

A signed blob is ``b"\\x01" + HMAC-SHA256(key, b"\\x01" + pickle) + pickle``. Verification tries the
current secret and every old one, so keys can be rotated; nothing is unpickled before it verifies.
"""

from __future__ import annotations

import hashlib
import hmac
import pickle
from typing import Final

from .._config import SECRET_ENV, signing_keys
from .._exceptions import DecodeError, EncodeError

_VERSION: Final = b"\x01"
_MAC_SIZE: Final = hashlib.sha256().digest_size
# Protocol 4 is read by every Python we support, so a rolling upgrade can mix interpreters.
_PROTOCOL: Final = 4

NO_SECRET_HELP: Final = (
    f"set a secret with uwsgi_tasks.configure(secret=...) or the {SECRET_ENV} environment variable "
    "(the same in every process that sends or runs tasks)"
)


def _mac(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, _VERSION + data, hashlib.sha256).digest()


def dumps(value: object, where: str) -> bytes:
    """Pickle and sign *value*; raise `EncodeError` naming *where* if that is not possible."""
    keys = signing_keys()
    if not keys:
        raise EncodeError(
            f"{where} ({type(value).__qualname__}) can't be sent as JSON and the pickle fallback "
            f"needs a secret to sign it: {NO_SECRET_HELP}, or pass JSON-friendly values"
        )
    try:
        data = pickle.dumps(value, protocol=_PROTOCOL)
    except Exception as e:
        raise EncodeError(f"{where} can be sent neither as JSON nor as a pickle: {e!r}") from e
    return _VERSION + _mac(keys[0], data) + data


def loads(blob: bytes) -> object:
    """Verify and unpickle a blob made by `dumps`; raise `DecodeError` unless it verifies."""
    if blob[:1] != _VERSION or len(blob) < 1 + _MAC_SIZE:
        raise DecodeError("not a signed uwsgi_tasks pickle")
    mac, data = blob[1 : 1 + _MAC_SIZE], blob[1 + _MAC_SIZE :]
    keys = signing_keys()
    if not keys:
        raise DecodeError(f"refusing a signed pickle: no secret configured to verify it; {NO_SECRET_HELP}")
    if not any(hmac.compare_digest(mac, _mac(key, data)) for key in keys):
        raise DecodeError("refusing a pickle whose signature does not verify with any configured secret")
    try:
        return pickle.loads(data)
    except Exception as e:
        raise DecodeError(f"a signed pickle failed to load: {e!r}") from e
