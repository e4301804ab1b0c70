"""Signatures: pickles are signed always, whole tasks whenever a secret is configured.

A signed pickle is ``b"\\x01" + HMAC-SHA256(key, b"\\x01" + pickle) + pickle``; a task's signature is
``HMAC-SHA256(key, b"\\x02" + its JSON)``. Verification tries the current secret and every old one, so
keys can be rotated; nothing is unpickled, or run, before it verifies.
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


_TASK: Final = b"\x02"


def _mac(key: bytes, data: bytes, kind: bytes = _VERSION) -> bytes:
    return hmac.new(key, kind + data, hashlib.sha256).digest()


def sign_task(data: bytes) -> bytes | None:
    """The signature of a task's JSON with the current secret; None when no secret is configured."""
    keys = signing_keys()
    return _mac(keys[0], data, _TASK) if keys else None


def verify_task(data: bytes, signature: bytes | None) -> None:
    """With a secret configured, every task must carry a signature that verifies; DecodeError if not.

    Without one, tasks are JSON naming @task functions, and are accepted unsigned.
    """
    keys = signing_keys()
    if not keys:
        return
    if signature is None:
        raise DecodeError("refusing an unsigned task: a secret is configured, so every task must be signed")
    if not any(hmac.compare_digest(signature, _mac(key, data, _TASK)) for key in keys):
        raise DecodeError("refusing a task whose signature does not verify with any configured secret")


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
