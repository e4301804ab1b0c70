"""Sending to spoolers beyond this instance: another uWSGI's over the network, or a spool directory
written directly.

`Remote`: uWSGI's spooler request plugin (modifier1 17) writes a uwsgi packet that arrives on a uwsgi
socket (``--socket``, not ``--http-socket``) into that instance's spooler, as ``uwsgi.spool()`` would,
and answers with 4 bytes ``|255|0 0|status|``: 1 spooled, 0 refused (no such spooler directory, no
spooler). The packet has no body, and must fit the receiver's ``--buffer-size``. uWSGI closes the
connection after its answer (a second packet on the same connection gets nothing, verified with
2.0.31), so there is nothing to reuse or pool: every send is one connection.

`SpoolDirectory`: a spool directory on this host written without uWSGI (``--spooler-external``'s
trick): the file is written privately (0600) under a name the spooler ignores, then renamed into
place, where the spooler's watchdog finds it (see `_wake`).

Either works from a worker, a mule, a spooler task or a plain Python process. With a shared result
store, the sender records the task QUEUED (or SCHEDULED) before sending it, so its handle sees it from
the start; the receiving spooler records the rest.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import struct
import time
from typing import Any, Final

from .. import _codec
from .._config import result_ttl
from .._exceptions import SpoolError
from .._handle import TaskHandle
from .._options import TaskExecutor
from .._outcomes import _writer
from .._outcomes._model import Outcome, TaskStatus
from .._outcomes._store import SharedStore
from .._outcomes._where import shared, store_for
from .._spooldir import priority_dir, write_private
from .._targets import URL, Remote, SpoolDirectory
from .._uwsgi import SPOOL_FILE_PREFIX

logger = logging.getLogger("uwsgi_tasks")
_REPLY: Final = struct.Struct("<BHB")


class _Ambiguous(Exception):
    """The packet went out and no answer came back: it may have been spooled."""


class _MaybeSpooled(SpoolError):
    """A SpoolError after which the task may still run: what it left behind must stay."""


def _exchange(address: str, packet: bytes, timeout: float) -> int:
    """Send *packet* to *address*; uWSGI's status byte (1: spooled, 0: refused). An OSError means
    nothing was sent; `_Ambiguous`, that it was and the answer is missing."""
    match = URL.fullmatch(address)
    assert match is not None  # checked by Remote
    with socket.create_connection((match["host"].strip("[]"), int(match["port"])), timeout=timeout) as conn:
        try:
            conn.sendall(packet)
            reply = b""
            while len(reply) < _REPLY.size:
                chunk = conn.recv(_REPLY.size - len(reply))
                if not chunk:
                    break
                reply += chunk
        except OSError as e:
            raise _Ambiguous(str(e)) from e
    if len(reply) != _REPLY.size:
        raise _Ambiguous(f"the connection closed after {len(reply)} of the 4 answer bytes")
    modifier1, _, status = _REPLY.unpack(reply)
    if modifier1 != 255:
        raise _Ambiguous(f"not a spooler's answer (modifier1 {modifier1}): is this a uwsgi socket?")
    return int(status)


def _deliver(remote: Remote, packet: bytes, what: str) -> None:
    """Hand *packet* to the first address that takes it. An address that refuses it or can't be
    reached is skipped; one that got it but didn't answer is not (the next could run it twice)."""
    failures = []
    for address in remote._order():
        try:
            if _exchange(address, packet, remote.timeout) == 1:
                return
        except _Ambiguous as e:
            raise _MaybeSpooled(f"{what} may or may not have been spooled by {address}: {e}") from e
        except OSError as e:
            failures.append(f"{address}: {e}")
        else:
            where = f"spooler {remote.spooler!r}" if remote.spooler else "a spooler"
            failures.append(f"{address} refused it (it has no {where})")
    raise SpoolError(f"{what} was not spooled: {'; '.join(failures)}")


def send(target: Remote | SpoolDirectory, out: _codec.Outgoing) -> TaskHandle[Any]:
    """Send *out* to *target*; SpoolError (or EncodeError for a packet that can't fit) at the call,
    never a silent drop."""
    store = shared()
    what = f"task {out.task_id} ({out.function})"
    queued = None
    if store is not None:
        now = time.time()
        status = TaskStatus.QUEUED if out.at is None or out.at <= now else TaskStatus.SCHEDULED
        waiting = Outcome(out.task_id, status, out.attempt, now, now, at=out.at)
        try:  # before sending: see the module's doc
            queued = waiting if _writer.write(store, waiting, store_result=out.store_result) else None
        except Exception as e:
            raise SpoolError(f"{what} was not sent: can't record it in the shared store: {e!r}") from e
    try:
        if isinstance(target, Remote):
            _to_remote(target, out, store, what)
            spool_file = None
        else:
            spool_file = _to_directory(target.path, out)
    except BaseException:
        if queued is not None and store is not None:
            with contextlib.suppress(Exception):  # the SpoolError says what went wrong
                store.discard(queued)  # unless the receiver has already written its own record
        raise
    where = store if isinstance(target, Remote) else store_for(target.path)
    return TaskHandle._sent(out, TaskExecutor.SPOOLER, where, spool_file)


def _to_remote(remote: Remote, out: _codec.Outgoing, store: SharedStore | None, what: str) -> None:
    # The receiving spooler re-spools a task that is not due yet, noting when it is due, so it starts
    # on time (uWSGI alone would start it at its next scan): so no "at" in the packet.
    message = _codec.spool_message(out, with_at=False)
    packet = _codec.network_packet(message)
    if packet is not None and _codec.packet_size(message) <= remote.buffer_size:
        _deliver(remote, packet, what)
        return
    if store is None:
        raise SpoolError(
            f"{what}: its packet is {_codec.packet_size(message)} bytes, over the receiver's buffer-size "
            f"of {remote.buffer_size} bytes (Remote(buffer_size=...) must match its --buffer-size); "
            "configure a shared result store to send large tasks by reference"
        )
    try:
        store.put_payload(out.task_id, out.data, result_ttl() + max((out.at or 0) - time.time(), 0))
    except Exception as e:
        raise SpoolError(f"{what} was not sent: can't put it in the shared store: {e!r}") from e
    reference = _codec.network_packet(_codec.by_reference(message, out.task_id))
    assert reference is not None  # a reference is a few dozen bytes
    try:
        _deliver(remote, reference, what)
    except _MaybeSpooled:
        raise
    except SpoolError:
        with contextlib.suppress(Exception):
            store.discard_payload(out.task_id)
        raise


def _to_directory(directory: str, out: _codec.Outgoing) -> str:
    """Write the spool file under a name the spooler ignores and rename it into place (its mtime is
    its ``at``, as uWSGI's own are)."""
    message = _codec.spool_message(out)
    if not os.path.isdir(directory):  # never create it: no spooler would ever look there
        raise SpoolError(f"task {out.task_id} ({out.function}): no spool directory {directory}")
    name = f"{SPOOL_FILE_PREFIX}{socket.gethostname()}_{os.getpid()}_{out.task_id}"
    try:
        target = directory
        if out.priority is not None:
            target = priority_dir(directory, out.priority)
        # Private, as uWSGI's own spool files are: whoever reads one can run it again.
        write_private(os.path.join(target, name), _codec.pack_spool_file(message), 0o600, mtime=out.at)
    except OSError as e:
        raise SpoolError(f"task {out.task_id} ({out.function}): can't write into {directory}: {e}") from e
    return os.path.join(target, name)
