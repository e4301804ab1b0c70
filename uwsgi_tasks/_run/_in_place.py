"""Running a task in place: outside uWSGI (tests, scripts), as ``executor=RUNTIME``, or under
`uwsgi_tasks.testing.InPlace`. Its arguments go through the real codec first, so that what would fail
in production fails here too; every attempt runs through the same pipeline as in a spooler
(`_attempt`), retries at once, without their delay.
"""

from __future__ import annotations

from typing import Any

import attrs

from .. import _codec, _uwsgi
from .._exceptions import SerializationError
from .._handle import TaskHandle
from .._options import TaskExecutor
from .._outcomes import _writer
from .._outcomes._memory import IN_PROCESS
from .._outcomes._model import TaskStatus
from .._outcomes._where import instance_store
from .._send import _route
from .._send._mule import check_size
from .._spec import TaskSpec
from ._attempt import Ran, execute


def through_codec(spec: TaskSpec, requested: TaskExecutor) -> tuple[TaskSpec, tuple[str, ...]]:
    """*spec* as the executor would receive it, and the arguments that had to be pickled."""
    if requested is TaskExecutor.MULE:
        encoded = _codec.encode_mule(spec)
        check_size(spec.function, encoded.message, _uwsgi.MULE_MESSAGE_LIMIT)
        return _codec.decode_mule(encoded.message), encoded.pickled
    message = _codec.encode_spool(spec)
    return _codec.decode_spool(message.message), message.pickled


def _run_all(spec: TaskSpec, requested: TaskExecutor) -> tuple[Ran, tuple[str, ...]]:
    """Every attempt of *spec*, here and now."""
    received, pickled = through_codec(spec, requested)
    ran = execute(received)
    while ran.next_attempt is not None:
        ran = execute(through_codec(ran.next_attempt, requested)[0])
    outcome = ran.outcome
    if outcome.status is TaskStatus.SUCCEEDED and received.store_result:
        # The value as a handle in another process would read it back.
        try:
            value = _codec.decode_value(_codec.encode_value(outcome.value).message)
        except SerializationError as e:
            return attrs.evolve(ran, outcome=outcome.failed_by(e), error=e), pickled
        outcome = attrs.evolve(outcome, value=value)
    elif outcome.status is TaskStatus.SUCCEEDED:
        outcome = attrs.evolve(outcome, value=None, has_value=False)
    return attrs.evolve(ran, outcome=outcome), pickled


def run_sent(spec: TaskSpec, requested: TaskExecutor) -> TaskHandle[Any]:
    """Run a task sent with *requested* in place; its handle, already done."""
    ran, pickled = _run_all(spec, requested)
    # Inside a uWSGI instance with a spooler directory the outcome goes where every process sees it.
    store = instance_store() or IN_PROCESS
    _writer.write(store, ran.outcome, store_result=spec.store_result)
    if isinstance(ran.error, KeyboardInterrupt):
        raise ran.error  # recorded FAILED (it did fail), then re-raised: whoever pressed ^C stops
    handle: TaskHandle[Any] = TaskHandle(
        spec.task_id,
        function=spec.function,
        executor=TaskExecutor.RUNTIME,
        pickled=pickled,
        outcome=ran.outcome,
        error=ran.error,
        store=store,
    )
    mode = _route.forced
    if mode is not None:
        mode.sent(handle)
        if mode.raise_failures and ran.outcome.status is TaskStatus.FAILED:
            if ran.error is not None:
                raise ran.error  # what the function raised, with its traceback
            ran.outcome.raise_for_status()  # the retries it asked for ran out
    return handle


def run_here(spec: TaskSpec) -> Any:
    """`Task.run`: in place, returning what the function returned and raising what it raised."""
    ran, _ = _run_all(spec, TaskExecutor.RUNTIME)
    if ran.error is not None:
        raise ran.error
    ran.outcome.raise_for_status()
    return ran.outcome.value
