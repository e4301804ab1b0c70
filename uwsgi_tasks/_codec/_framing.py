"""Spool dicts and mule messages: the frame around a task's JSON (see `_envelope`).

A spool dict (``dict[bytes, bytes]``, as uWSGI requires on Python 3)::

    b"uwsgi_tasks": b"1"          format version; its absence means "not ours" (0.7.3 or foreign)
    b"task": <JSON TaskSpec>      or, when the packet would pass 64 KiB, the JSON is the raw body
    b"sig": <32 bytes>            when a secret is configured, HMAC-SHA256 of the JSON and of the
                                  three uWSGI keys below (see `_signing`)
    b"at", b"priority", b"spooler"  uWSGI's own keys, written the way it parses them
    b"ref": <task id>             instead of b"task", for a task sent to another host by reference:
                                  its JSON waits in the shared store (the signature still covers it)

A mule message is ``b"uwsgi_tasks:1\\n"``, then ``b"S"`` and the 32-byte signature (or ``b"-"``
without a secret), then the same JSON.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any, Final, Generic, TypeVar

import attrs

from .._config import max_task_size, signing_keys
from .._exceptions import DecodeError
from .._spec import TaskSpec
from . import _envelope, _packet, _signing
from ._envelope import Outgoing, outgoing
from ._json import json_bytes, json_object

VERSION_KEY: Final = b"uwsgi_tasks"
VERSION: Final = b"1"
SPEC_KEY: Final = b"task"
SIGNATURE_KEY: Final = b"sig"
REF_KEY: Final = b"ref"
MULE_MAGIC: Final = b"uwsgi_tasks:1\n"
_MARK: Final = len(MULE_MAGIC)  # where a mule message says whether it is signed

#: uWSGI rejects an args packet over 0xFFFF bytes and silently truncates any single longer value.
PACKET_LIMIT: Final = 0xFFFF
# A task this small fits in a packet with the other keys but a spooler path (the others take < 200 bytes).
_SURELY_FITS: Final = PACKET_LIMIT - 1024


M = TypeVar("M", dict[bytes, bytes], bytes)


@attrs.frozen
class Encoded(Generic[M]):
    """A message ready for uWSGI, and where values had to be pickled (``"args[1]"``, ``"when"``)."""

    message: M
    pickled: tuple[str, ...]


def packet_size(message: Mapping[bytes, bytes]) -> int:
    """Bytes uWSGI's args packet takes for *message*: a u16 length before every key and value."""
    return sum(4 + len(k) + len(v) for k, v in message.items())


def spool_message(out: Outgoing, *, with_at: bool = True) -> dict[bytes, bytes]:
    """The spool dict for *out*; the JSON moves to ``body`` when the packet would pass 64 KiB.

    *with_at* False leaves uWSGI's ``at`` out (the spec keeps it): for another host's spooler, which
    re-spools an early task itself so that it starts on time.
    """
    at = b"%d" % out.at if out.at is not None and with_at else None
    priority = b"%d" % out.priority if out.priority is not None else None
    spooler = os.fsencode(out.spooler) if out.spooler is not None else None
    signature = _signing.sign_spooled(out.data, at, priority, spooler)
    message = (
        {VERSION_KEY: VERSION} if signature is None else {VERSION_KEY: VERSION, SIGNATURE_KEY: signature}
    )
    if at is not None:
        message[b"at"] = at
    if priority is not None:
        message[b"priority"] = priority
    if spooler is not None:
        message[b"spooler"] = spooler
    data = out.data
    # A u16 length before every key and value: the packet uWSGI will build, without building it.
    if (len(data) < _SURELY_FITS and out.spooler is None) or (
        packet_size(message) + 4 + len(SPEC_KEY) + len(data) <= PACKET_LIMIT
    ):
        message[SPEC_KEY] = data
    else:
        message[b"body"] = data
    return message


def by_reference(message: Mapping[bytes, bytes], task_id: str) -> dict[bytes, bytes]:
    """*message* with its task replaced by a reference to the shared store's copy."""
    small = {k: v for k, v in message.items() if k not in (SPEC_KEY, b"body")}
    small[REF_KEY] = task_id.encode("ascii")
    return small


def network_packet(message: Mapping[bytes, bytes]) -> bytes | None:
    """The uwsgi request that spools *message* on another instance (modifier1 17: the same bytes as a
    spool file without a body); None if it can't be one (a body, or over 64 KiB)."""
    if b"body" in message:
        return None
    try:
        return _packet.pack(message)
    except ValueError:
        return None


def mule_message(out: Outgoing) -> bytes:
    signature = _signing.sign_task(out.data)
    return MULE_MAGIC + (b"-" if signature is None else b"S" + signature) + out.data


def encode_spool(spec: TaskSpec) -> Encoded[dict[bytes, bytes]]:
    """The spool dict for *spec*, and where its values had to be pickled."""
    out = outgoing(spec)
    return Encoded(spool_message(out), out.pickled)


def encode_mule(spec: TaskSpec) -> Encoded[bytes]:
    out = outgoing(spec)
    return Encoded(mule_message(out), out.pickled)


def is_spool_message(env: Mapping[Any, bytes]) -> bool:
    return VERSION_KEY in env


def is_by_reference(env: Mapping[Any, bytes]) -> bool:
    """Whether a spool dict refers to a task waiting in the shared store instead of holding it."""
    return REF_KEY in env


def is_mule_message(message: bytes) -> bool:
    return message.startswith(MULE_MAGIC)


#: Called with a task's function path once its signature verified, before its values are decoded:
#: finds (and may import, see `_registry`) the task, so that the types its values name are imported.
Admit = Callable[[str], object]


def decode_spool(
    env: Mapping[Any, bytes],
    fetch: Callable[[str], bytes | None] | None = None,
    admit: Admit | None = None,
) -> TaskSpec:
    """The spec in a spool dict as the spooler callable receives it (body under the str key 'body').

    *fetch* reads the payload of a task sent by reference from the shared store. Whatever *admit*
    raises leaves here as it is.
    """
    version = env.get(VERSION_KEY)
    if version != VERSION:
        raise DecodeError(
            f"unsupported uwsgi_tasks spool format {version!r} (this version reads {VERSION!r})"
        )
    data = _task_bytes(env)
    keys = _uwsgi_keys(env)
    if data is None and REF_KEY in env:
        ref = _reference(env)
        if fetch is None:
            raise DecodeError(
                f"task {ref} was sent by reference, and no shared result store is configured here"
            )
        data = fetch(ref)
        if data is None:
            raise DecodeError(
                f"task {ref} was sent by reference, and its payload is gone (expired, or already run)"
            )
        spec = _verified(data, env.get(SIGNATURE_KEY), keys, admit)
        if spec.task_id != ref:
            raise DecodeError(f"the payload fetched for task {ref} is task {spec.task_id}")
        return spec
    if data is None:
        raise DecodeError("the spool file holds no task (no 'task' key and no body)")
    return _verified(data, env.get(SIGNATURE_KEY), keys, admit)


def decode_mule(message: bytes, admit: Admit | None = None) -> TaskSpec:
    if not is_mule_message(message):
        raise DecodeError("not a uwsgi_tasks mule message")
    check_size(len(message), "the mule message")
    mark = message[_MARK : _MARK + 1]  # sliced once each: a message is copied by every slice
    if mark == b"S":
        signature, data = message[_MARK + 1 : _MARK + 33], message[_MARK + 33 :]
    elif mark == b"-":
        signature, data = None, message[_MARK + 1 :]
    else:
        raise DecodeError("a uwsgi_tasks mule message without its signature mark")
    _signing.verify_task(data, signature)
    return _envelope.loads(data, admit)


UwsgiKeys = tuple[bytes | None, bytes | None, bytes | None]


def _task_bytes(message: Mapping[Any, bytes]) -> bytes | None:
    """The task JSON of a spool dict: under ``task``, or the body (the str key ``"body"`` as the
    spooler callable receives it, ``b"body"`` as a parsed file has it)."""
    data = message.get(SPEC_KEY)
    if data is None:
        data = message.get("body", message.get(b"body"))
    return None if data is None else bytes(data)


def _uwsgi_keys(message: Mapping[Any, bytes]) -> UwsgiKeys:
    """uWSGI's own keys that the signature covers, as found: ``at``, ``priority``, ``spooler``."""
    at, priority, spooler = (message.get(key) for key in (b"at", b"priority", b"spooler"))
    return (
        None if at is None else bytes(at),
        None if priority is None else bytes(priority),
        None if spooler is None else bytes(spooler),
    )


def _verified(data: bytes, signature: bytes | None, keys: UwsgiKeys, admit: Admit | None) -> TaskSpec:
    check_size(len(data), "the task")
    _signing.verify_spooled(data, signature, *keys)
    return _envelope.loads(data, admit)


def check_size(size: int, what: str) -> None:
    """DecodeError for anything over `max_task_size`, before it is parsed."""
    limit = max_task_size()
    if size > limit:
        raise DecodeError(
            f"{what} is {size} bytes, over the {limit}-byte limit (configure(max_task_size=...))"
        )


def _reference(env: Mapping[Any, bytes]) -> str:
    ref = bytes(env[REF_KEY]).decode("ascii", "replace")
    if not (ref.isalnum() and ref.isascii()):
        raise DecodeError(f"a task sent by reference names no task id: {ref[:40]!r}")
    return ref


def spec_tree(message: Mapping[Any, bytes]) -> dict[str, Any]:
    """The spec of a spool dict as plain JSON, values left encoded: nothing imported or unpickled."""
    version = message.get(VERSION_KEY)
    if version != VERSION:
        raise DecodeError(f"unsupported uwsgi_tasks spool format {version!r}")
    data = _task_bytes(message)
    if data is None and REF_KEY in message:
        return {"task_id": _reference(message)}  # the rest waits in the shared store
    if data is None:
        raise DecodeError("the spool file holds no task")
    return json_object(data, "the task")


def claimed_identity(message: Mapping[Any, bytes]) -> tuple[str, int] | None:
    """The task id and attempt a spool dict names, if the id is one (the attempt defaults to 1): read,
    not verified. DecodeError if the message is not a readable task at all."""
    tree = spec_tree(message)
    task_id, attempt = tree.get("task_id"), tree.get("attempt", 1)
    if not (isinstance(task_id, str) and 0 < len(task_id) <= 64 and task_id.isalnum() and task_id.isascii()):
        return None
    if type(attempt) is not int or not 1 <= attempt <= 1_000_000:
        attempt = 1
    return task_id, attempt


def due_now(message: Mapping[bytes, bytes]) -> dict[bytes, bytes]:
    """Spool *message* (one of ours, read from a file) with its ``at`` removed, signed again with this
    process's secret: a requeued task is due now (its signed ``at`` would otherwise stand)."""
    tree = spec_tree(message)
    if REF_KEY in message or "at" not in tree:
        return dict(message)
    # Never sign what did not verify: a forged file set aside would come back signed.
    signature = message.get(SIGNATURE_KEY)
    if signature is not None and not signing_keys():
        raise DecodeError(
            "the task is signed: requeueing it scheduled for now needs the secret to sign it again"
        )
    data = _task_bytes(message)
    assert data is not None  # spec_tree read it
    _signing.verify_spooled(data, signature, *_uwsgi_keys(message))
    del tree["at"]
    data = json_bytes(tree)
    kept = {
        k: bytes(v) for k, v in message.items() if k not in (b"at", SIGNATURE_KEY, SPEC_KEY, b"body", "body")
    }
    signature = _signing.sign_spooled(data, None, kept.get(b"priority"), kept.get(b"spooler"))
    if signature is not None:
        kept[SIGNATURE_KEY] = signature
    kept[SPEC_KEY if SPEC_KEY in message else b"body"] = data
    return kept
