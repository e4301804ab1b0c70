"""Signatures: the one place where they are made and checked.

Pickles are signed always; tasks, outcome records, notes and start markers whenever a secret is
configured. Every MAC is ``HMAC-SHA256(key, kind + context + data)``, its *kind* byte saying what is
signed, so that nothing signed as one thing verifies as another:

- ``\\x01`` a pickle: ``b"\\x01" + MAC + pickle``;
- ``\\x02`` a mule message's task JSON;
- ``\\x03`` a spool message: uWSGI's own keys that change what runs and when (``at``, ``priority``,
  ``spooler``; each absent or its exact bytes) and then the task JSON;
- ``\\x04`` an outcome record and ``\\x05`` a note, bound to their task id (and the note's kind):
  stored as ``b"S" + MAC + data``, so a record can't be moved to another task's name;
- ``\\x06`` a start marker (see `_starts`), bound to its task id.

Verification tries the current secret and every old one, so keys can be rotated; nothing is unpickled,
imported or run before it verifies.
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
_SPOOLED: Final = b"\x03"
_RECORD: Final = b"\x04"
_NOTE: Final = b"\x05"
_START: Final = b"\x06"
_SEALED: Final = b"S"


def _mac(key: bytes, data: bytes, kind: bytes = _VERSION) -> bytes:
    return hmac.new(key, kind + data, hashlib.sha256).digest()


def _context(*parts: bytes | None) -> bytes:
    """Length-prefixed *parts*, an absent one distinct from an empty one: no two lists collide."""
    return b"".join(b"-" if p is None else b"%d:%s" % (len(p), p) for p in parts)


def _verifies(signature: bytes, data: bytes, kind: bytes, keys: tuple[bytes, ...]) -> bool:
    return any(hmac.compare_digest(signature, _mac(key, data, kind)) for key in keys)


def sign_task(data: bytes) -> bytes | None:
    """The signature of a mule message's task JSON; None when no secret is configured."""
    keys = signing_keys()
    return _mac(keys[0], data, _TASK) if keys else None


def sign_spooled(
    data: bytes, at: bytes | None, priority: bytes | None, spooler: bytes | None
) -> bytes | None:
    """The signature of a spool message: its task JSON and uWSGI's keys as they will be written."""
    keys = signing_keys()
    return _mac(keys[0], _context(at, priority, spooler) + data, _SPOOLED) if keys else None


def verify_task(data: bytes, signature: bytes | None) -> None:
    """With a secret configured, a mule message's task must carry a signature that verifies."""
    _verify(data, signature, _TASK)


def verify_spooled(
    data: bytes, signature: bytes | None, at: bytes | None, priority: bytes | None, spooler: bytes | None
) -> None:
    """With a secret configured, a spool message must carry a signature of its task and of uWSGI's
    keys as found in the file (an ``at`` or ``priority`` changed after signing does not verify)."""
    _verify(_context(at, priority, spooler) + data, signature, _SPOOLED)


def _verify(data: bytes, signature: bytes | None, kind: bytes) -> None:
    """DecodeError unless *signature* verifies; without a secret, tasks are accepted unsigned (they
    can only name registered tasks, see `_registry`)."""
    keys = signing_keys()
    if not keys:
        return
    if signature is None:
        raise DecodeError("refusing an unsigned task: a secret is configured, so every task must be signed")
    if not _verifies(signature, data, kind, keys):
        raise DecodeError("refusing a task whose signature does not verify with any configured secret")


def seal_record(task_id: str, data: bytes) -> bytes:
    """An outcome record as stored: signed and bound to *task_id* when a secret is configured."""
    return _seal(_RECORD, _context(task_id.encode()), data)


def open_record(task_id: str, stored: bytes) -> bytes | None:
    """The record `seal_record` made for *task_id*; None if it isn't one (unsigned with a secret,
    signed for another task or with an unknown key)."""
    return _open(_RECORD, _context(task_id.encode()), stored)


def seal_note(task_id: str, kind: str, data: bytes) -> bytes:
    return _seal(_NOTE, _context(task_id.encode(), kind.encode()), data)


def open_note(task_id: str, kind: str, stored: bytes) -> bytes | None:
    return _open(_NOTE, _context(task_id.encode(), kind.encode()), stored)


def seal_start(task_id: str, data: bytes) -> bytes:
    return _seal(_START, _context(task_id.encode()), data)


def open_start(task_id: str, stored: bytes) -> bytes | None:
    return _open(_START, _context(task_id.encode()), stored)


def _seal(kind: bytes, context: bytes, data: bytes) -> bytes:
    keys = signing_keys()
    return _SEALED + _mac(keys[0], context + data, kind) + data if keys else data


def _open(kind: bytes, context: bytes, stored: bytes) -> bytes | None:
    sealed = stored[:1] == _SEALED
    data = stored[1 + _MAC_SIZE :] if sealed else stored
    keys = signing_keys()
    if not keys:
        return data  # nothing can be verified without a secret: what is stored is trusted
    if not sealed or len(stored) < 1 + _MAC_SIZE:
        return None
    return data if _verifies(stored[1 : 1 + _MAC_SIZE], context + data, kind, keys) else None


def unsealed(stored: bytes) -> bytes:
    """What a sealed record or note holds, unverified: for showing to people, never for decoding."""
    return stored[1 + _MAC_SIZE :] if stored[:1] == _SEALED else stored


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
