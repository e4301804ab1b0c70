"""The mule executor: sending a task to a mule or a farm, and running it there."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import attrs

from . import _codec, _registry, _uwsgi
from ._exceptions import ConfigurationError, DecodeError, EncodeError, SpoolError, TaskNotFound
from ._execute import execute
from ._handle import TaskHandle
from ._options import TaskExecutor
from ._outcome import Outcome, TaskStatus
from ._results import ResultStore, file_store, shared
from ._spec import MuleTarget, TaskSpec

logger = logging.getLogger("uwsgi_tasks")


def check_size(function: str, payload: bytes, limit: int) -> None:
    """uWSGI silently truncates a mule message over its limit: refuse it here instead."""
    if len(payload) > limit:
        raise EncodeError(
            f"{function}: the mule message would be {len(payload)} bytes, over the {limit} bytes a "
            "mule receives whole; send large arguments through the spooler, or by reference"
        )


def check_target(function: str, mule: MuleTarget | None) -> MuleTarget:
    target = 0 if mule is None else mule
    if isinstance(target, int) and target > _uwsgi.mule_count():
        # uWSGI's own bounds check is broken: an id out of range fails or crashes the worker.
        raise ConfigurationError(
            f"{function}: mule={target}, but this instance has {_uwsgi.mule_count()} mule(s)"
        )
    return target


def result_store() -> ResultStore | None:
    """Where mule tasks record outcomes: the shared store, else the first spooler directory's."""
    dirs = _uwsgi.spooler_dirs()
    return shared() or (file_store(dirs[0]) if dirs else None)


def send(spec: TaskSpec) -> TaskHandle[Any]:
    """Send *spec* to its mule (a retry); see `deliver`."""
    return deliver(_codec.outgoing(spec))


def deliver(out: _codec.Outgoing) -> TaskHandle[Any]:
    """Send *out* to the mule or farm it names; errors at the call, never a silent drop."""
    target = check_target(out.function, out.mule)
    message = _codec.mule_message(out)
    check_size(out.function, message, _uwsgi.mule_message_limit())
    try:
        delivered = _uwsgi.mule_msg(message, target)
    except ValueError as e:  # "unknown farm", "invalid mule", "no mule configured"
        raise ConfigurationError(f"{out.function}: can't send to mule {target!r}: {e}") from e
    if not delivered:
        raise SpoolError(
            f"{out.function}: mule {target!r} did not take task {out.task_id} "
            "(its queue is full, or the mule is gone; see --mule-msg-size)"
        )
    return TaskHandle._sent(out, TaskExecutor.MULE, result_store())


def _record(outcome: Outcome) -> None:
    store = result_store()
    if store is None:
        return
    try:
        store.put(outcome)
    except Exception:
        logger.exception("task %s: can't record its outcome", outcome.task_id)


def run_message(message: bytes) -> None:
    """Run one mule message; nothing escapes, so the mule keeps serving."""
    try:
        _run_message(message)
    except BaseException:  # nothing may end the mule
        logger.exception("mule %d: unexpected error in a %d-byte message", _uwsgi.mule_id(), len(message))


def _run_message(message: bytes) -> None:
    _registry.pin_import_path()
    try:
        if _codec.is_mule_message(message):
            spec = _codec.decode_mule(message, _registry.resolve)
        else:
            spec = _codec.decode_legacy_mule(message)
    except (DecodeError, TaskNotFound) as e:
        # Dropped, with nothing recorded: a mule message can't be set aside, and with a secret no
        # outcome is written from a message that did not verify.
        logger.error(
            "mule %d: dropped a uwsgi_tasks message (%d bytes) it can't run: %s",
            _uwsgi.mule_id(),
            len(message),
            e,
        )
        return
    if spec.store_result:  # store_result=False: fire and forget, only failures are recorded
        started = time.time()
        _record(Outcome(spec.task_id, TaskStatus.RUNNING, spec.attempt, started, started))
    ran = execute(spec)  # and back: the mule's next message, or its other code, runs where it was
    if spec.store_result or ran.outcome.status is not TaskStatus.SUCCEEDED:
        _record(ran.outcome.for_store(spec.store_result))
    if ran.next_attempt is not None:
        try:
            _send_retry(ran.next_attempt)
        except Exception as e:
            logger.error("task %s: can't send its retry: %s", spec.task_id, e)


def _send_retry(spec: TaskSpec) -> None:
    """A mule has no ``at``: a delayed retry waits in the spooler when there is one, which hands it
    back to a mule when due; without a spooler it waits in a timer thread of this mule (and is lost
    if the mule restarts meanwhile, like any message in a mule's queue)."""
    if spec.at is None:
        send(spec)
    elif _uwsgi.has_spooler():
        from . import _spooler  # here: _spooler imports this module

        _spooler.send(spec)
    else:
        timer = threading.Timer(max(spec.at - time.time(), 0), _send_later, (spec,))
        timer.daemon = True
        timer.start()


def _send_later(spec: TaskSpec) -> None:
    try:
        send(attrs.evolve(spec, at=None))
    except Exception as e:
        logger.error("task %s: can't send its retry: %s", spec.task_id, e)
