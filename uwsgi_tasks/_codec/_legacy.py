"""Spool files and mule messages written by uwsgi_tasks 0.7.3: unsigned pickles, read only when trusted.

0.7.3 wrote ``function_name`` (a dotted path) and pickled ``args``, ``kwargs`` and ``setup`` (a dict of
its options, with a ``ProxyDict`` buffer), or a pickled ``{"args", "kwargs"}`` body for large ones;
its mule messages are a pickled ``{"uwsgi_tasks.mule_task": MuleTask}``. Unpickling them runs whatever
they name, so they are read only after ``configure(trust_legacy_pickles=True)``: an explicit statement
that whoever can write into the spool directory, or send to the mules, is trusted.
"""

from __future__ import annotations

import pickle
import time
import uuid
from collections.abc import Mapping
from typing import Any, Final

from .._config import legacy_pickles_trusted
from .._exceptions import DecodeError
from .._retry import RetryPolicy
from .._spec import TaskSpec

HELP: Final = (
    "it was written by uwsgi_tasks 0.7.3 as an unsigned pickle; to run such tasks, trust whoever can "
    "write to this spool directory or send to these mules with "
    "uwsgi_tasks.configure(trust_legacy_pickles=True), then requeue it"
)
_MULE_KEY: Final = "uwsgi_tasks.mule_task"


def _loads(data: object, what: str) -> Any:
    if not legacy_pickles_trusted():
        raise DecodeError(HELP)
    if not isinstance(data, bytes):
        raise DecodeError(f"0.7.3 task: {what} is missing")
    try:
        return pickle.loads(data)
    except Exception as e:
        raise DecodeError(f"0.7.3 task: {what} does not unpickle: {e!r}") from e


def _spec(function_name: object, args: object, kwargs: object, setup: object) -> TaskSpec:
    if isinstance(function_name, bytes):
        function_name = function_name.decode("utf-8", "replace")
    if not isinstance(function_name, str) or "." not in function_name:
        raise DecodeError(f"0.7.3 task: bad function_name {function_name!r}")
    if not isinstance(args, tuple | list) or not isinstance(kwargs, dict) or not isinstance(setup, dict):
        raise DecodeError("0.7.3 task: args, kwargs or setup of the wrong type")
    module, _, name = function_name.rpartition(".")
    retry_count, retry_timeout = setup.get("retry_count"), setup.get("retry_timeout")
    try:
        retry = RetryPolicy.from_legacy(retry_count or None, retry_timeout or None) if retry_count else None
    except (TypeError, ValueError) as e:
        raise DecodeError(f"0.7.3 task: bad retry settings: {e}") from e
    working_dir = setup.get("working_dir")
    return TaskSpec(
        function=f"{module}:{name}",
        task_id=uuid.uuid4().hex,
        enqueued_at=time.time(),
        args=tuple(args),
        kwargs=dict(kwargs),
        working_dir=working_dir if isinstance(working_dir, str) else None,
        retry=retry,
        spooler_return=bool(setup.get("spooler_return")),
        buffer=dict(setup.get("buffer") or {}),
    )


def is_spool_message(env: Mapping[Any, bytes]) -> bool:
    return b"function_name" in env and b"uwsgi_tasks" not in env


def decode_spool(env: Mapping[Any, bytes]) -> TaskSpec:
    """The task in a 0.7.3 spool dict; DecodeError (with how to opt in) unless trusted."""
    setup = _loads(env.get(b"setup"), "setup")
    body = env.get("body", env.get(b"body"))
    if body is not None:
        payload = _loads(body, "the body")
        if not isinstance(payload, dict):
            raise DecodeError("0.7.3 task: the body is not a dict")
        args, kwargs = payload.get("args", ()), payload.get("kwargs", {})
    else:
        args, kwargs = _loads(env.get(b"args"), "args"), _loads(env.get(b"kwargs"), "kwargs")
    return _spec(env.get(b"function_name"), args, kwargs, setup)


def is_mule_message(message: bytes) -> bool:
    return message[:1] == b"\x80" and _MULE_KEY.encode() in message[:64]


def decode_mule(message: bytes) -> TaskSpec:
    """The task in a 0.7.3 mule message; DecodeError (with how to opt in) unless trusted."""
    payload = _loads(message, "the message")
    task = payload.get(_MULE_KEY) if isinstance(payload, dict) else None
    state = getattr(task, "__dict__", None)
    if not isinstance(state, dict):
        raise DecodeError("0.7.3 mule message without a task")
    return _spec(
        state.get("function_name"), state.get("args", ()), state.get("kwargs", {}), state.get("setup", {})
    )
