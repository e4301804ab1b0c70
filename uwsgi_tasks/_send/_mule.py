"""Handing a task to a mule or a farm: ``uwsgi.mule_msg()``, checked so that nothing is dropped or
truncated in silence."""

from __future__ import annotations

from typing import Any

from .. import _codec, _uwsgi
from .._exceptions import ConfigurationError, EncodeError, SpoolError
from .._handle import TaskHandle
from .._options import TaskExecutor
from .._outcomes._where import instance_store
from .._spec import MuleTarget


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
    return TaskHandle._sent(out, TaskExecutor.MULE, instance_store())
