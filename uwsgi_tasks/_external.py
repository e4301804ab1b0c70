"""Sending to spoolers beyond this instance: another uWSGI's over the network, or a spool directory
written directly.

`Remote`: uWSGI's spooler request plugin (modifier1 17) writes a uwsgi packet that arrives on a uwsgi
socket (``--socket``, not ``--http-socket``) into that instance's spooler, as ``uwsgi.spool()`` would,
and answers with 4 bytes ``|255|0 0|status|``: 1 spooled, 0 refused (no such spooler directory, no
spooler). The packet has no body, and must fit the receiver's ``--buffer-size``. uWSGI closes the
connection after its answer (a second packet on the same connection gets nothing, verified with
2.0.31), so there is nothing to reuse or pool: every send is one connection.

`SpoolDirectory`: a spool directory on this host written without uWSGI (``--spooler-external``'s
trick): the file is written under a name the spooler ignores, then renamed into place, and a due note
wakes the spooler (see `_waker`).

Either works from a worker, a mule, a spooler task or a plain Python process. With a shared result
store, the sender records the task QUEUED (or SCHEDULED) before sending it, so its handle sees it from
the start; the receiving spooler records the rest.
"""

from __future__ import annotations

import os
import socket
import struct
import time
from typing import Any, Final

from . import _codec, _results, _waker
from ._config import result_ttl
from ._exceptions import SpoolError
from ._handle import TaskHandle
from ._options import TaskExecutor
from ._outcome import Outcome, TaskStatus
from ._targets import URL, Remote, SpoolDirectory

_REPLY: Final = struct.Struct("<BHB")


def _exchange(address: str, packet: bytes, timeout: float) -> int:
    """Send *packet* to *address*; uWSGI's status byte (1: spooled, 0: refused)."""
    match = URL.fullmatch(address)
    assert match is not None  # checked by Remote
    host = match["host"].strip("[]")
    with socket.create_connection((host, int(match["port"])), timeout=timeout) as conn:
        conn.sendall(packet)
        reply = b""
        while len(reply) < _REPLY.size:
            chunk = conn.recv(_REPLY.size - len(reply))
            if not chunk:
                break
            reply += chunk
    if len(reply) != _REPLY.size:
        raise ConnectionError(f"the connection closed after {len(reply)} of the 4 answer bytes")
    modifier1, _, status = _REPLY.unpack(reply)
    if modifier1 != 255:
        raise ConnectionError(f"not a spooler answer (modifier1 {modifier1}): is this a uwsgi socket?")
    return int(status)


def _deliver(remote: Remote, packet: bytes, what: str) -> None:
    failures = []
    for address in remote._order():
        try:
            if _exchange(address, packet, remote.timeout) == 1:
                return
            where = f"spooler {remote.spooler!r}" if remote.spooler else "a spooler"
            failures.append(f"{address} refused it (it has no {where})")
        except OSError as e:
            failures.append(f"{address}: {e}")
    raise SpoolError(f"{what} was not spooled: {'; '.join(failures)}")


def send(target: Remote | SpoolDirectory, out: _codec.Outgoing) -> TaskHandle[Any]:
    """Send *out* to *target*; SpoolError (or EncodeError for a packet that can't fit) at the call,
    never a silent drop."""
    store = _results.shared()
    what = f"task {out.task_id} ({out.function})"
    if store is not None and out.store_result:
        now = time.time()
        status = TaskStatus.QUEUED if out.at is None or out.at <= now else TaskStatus.SCHEDULED
        store.put(Outcome(out.task_id, status, out.attempt, now, now, at=out.at))  # before: see module doc
    try:
        if isinstance(target, Remote):
            _to_remote(target, out, store, what)
            spool_file = None
        else:
            spool_file = _to_directory(target.path, out)
    except BaseException:
        if store is not None and out.store_result:
            store.discard(out.task_id)
        raise
    where = store if isinstance(target, Remote) else _results.store_for(target.path)
    return TaskHandle._sent(out, TaskExecutor.SPOOLER, where, spool_file)


def _to_remote(remote: Remote, out: _codec.Outgoing, store: _results.SharedStore | None, what: str) -> None:
    # The receiving spooler re-spools a task that is not due yet, noting when it is due, so it starts
    # on time (uWSGI alone would start it at its next scan): so no "at" in the packet.
    message = _codec.spool_message(out, with_at=False)
    packet = _codec.network_packet(message)
    if packet is None or len(packet) - _REPLY.size > remote.buffer_size:
        size = _codec.packet_size(message)
        if store is None:
            raise SpoolError(
                f"{what}: its packet is {size} bytes, over the receiver's buffer-size of "
                f"{remote.buffer_size} bytes (Remote(buffer_size=...) must match its --buffer-size); "
                "configure a shared result store to send large tasks by reference"
            )
        ttl = result_ttl() + max((out.at or 0) - time.time(), 0)
        store.put_payload(out.task_id, out.data, ttl)
        packet = _codec.network_packet(_codec.by_reference(message, out.task_id))
        assert packet is not None  # a reference is a few dozen bytes
    _deliver(remote, packet, what)


def _to_directory(directory: str, out: _codec.Outgoing) -> str:
    """Write the spool file under a name the spooler ignores, rename it into place, and leave a
    due note so that the spooler is woken (now, or at ``at``)."""
    message = _codec.spool_message(out)
    if not os.path.isdir(directory):  # never create it: no spooler would ever look there
        raise SpoolError(f"task {out.task_id} ({out.function}): no spool directory {directory}")
    target = directory if out.priority is None else os.path.join(directory, str(out.priority))
    name = f"uwsgi_spoolfile_on_{socket.gethostname()}_{os.getpid()}_{out.task_id}"
    temporary = os.path.join(target, f".{name}.tmp")
    try:
        os.makedirs(target, exist_ok=True)
        with open(temporary, "wb") as f:
            f.write(_codec.pack_spool_file(message))
        if out.at is not None:
            os.utime(temporary, (out.at, out.at))
        final = os.path.join(target, name)
        os.rename(temporary, final)
        _waker.note_due(directory, out.at if out.at is not None else int(time.time()))
    except OSError as e:
        raise SpoolError(f"task {out.task_id} ({out.function}): can't write into {directory}: {e}") from e
    return final
