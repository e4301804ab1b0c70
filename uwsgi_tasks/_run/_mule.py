"""Running a mule message in the mule: decode and verify it, run the attempt, record what it came to,
and send its retry (see `_send._again`). A mule message can't be kept or set aside: one that can't
run is logged and dropped."""

from __future__ import annotations

import logging
import time

from .. import _codec, _registry, _uwsgi
from .._exceptions import DecodeError, TaskNotFound
from .._outcomes import _writer
from .._outcomes._model import Outcome, TaskStatus
from .._outcomes._where import instance_store
from .._send._again import send_spec
from ._attempt import execute

logger = logging.getLogger("uwsgi_tasks")


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
    store = instance_store()
    started = time.time()
    running = Outcome(spec.task_id, TaskStatus.RUNNING, spec.attempt, started, started)
    _writer.record(store, running, store_result=spec.store_result)
    ran = execute(spec)  # and back: the mule's next message, or its other code, runs where it was
    _writer.record(store, ran.outcome, store_result=spec.store_result)
    if ran.next_attempt is not None:
        try:
            send_spec(ran.next_attempt)
        except Exception as e:
            logger.error("task %s: can't send its retry: %s", spec.task_id, e)
