"""Checking that values survive the codec: what a task receives is what was sent."""

from __future__ import annotations

import dataclasses
import math
from datetime import datetime, time
from typing import Any, TypeVar

import attrs
from typing_extensions import ParamSpec

from .. import _codec
from .._exceptions import SpoolError
from .._options import TaskExecutor
from .._outcomes._where import shared
from .._run._in_place import through_codec
from .._send._route import new_spec
from .._targets import Remote
from .._task import Task

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")


def round_trip(value: T) -> T:
    """*value* as a task receives it: encoded the way arguments travel, then decoded.

    Raises `EncodeError` if it can't travel (e.g. it needs the signed pickle fallback and no secret
    is configured).
    """
    decoded: T = _codec.decode_value(_codec.encode_value(value, "the value").message)
    return decoded


def check_call(task: Task[P, R], /, *args: P.args, **kwargs: P.kwargs) -> tuple[str, ...]:
    """Check that this call's arguments arrive unchanged (equal, and of the same types) where *task*
    runs, encoded for its executor (a mule's size limit included; for a `Remote` spooler without a
    shared store, the receiver's buffer-size: a `SpoolError`); nothing is sent or run. Returns
    the names of the arguments that travel as signed pickles rather than JSON (``("args[0]",)``), so
    ``assert not check_call(...)`` pins a call to JSON.

    Raises `EncodeError` if they can't travel, AssertionError naming the first argument that changed.
    """
    executor = TaskExecutor.MULE if task.config.executor is TaskExecutor.MULE else TaskExecutor.SPOOLER
    spec = new_spec(task.path, task.config, args, kwargs)
    received, pickled = through_codec(spec, executor)
    target = task.config.spooler
    if isinstance(target, Remote) and shared() is None:
        size = _codec.packet_size(_codec.spool_message(_codec.outgoing(spec), with_at=False))
        if size > target.buffer_size:
            raise SpoolError(
                f"{task.path}: its packet would be {size} bytes, over the receiver's buffer-size of "
                f"{target.buffer_size} bytes, and no shared store is configured to send it by reference"
            )
    difference = first_difference(tuple(args), received.args, "args") or first_difference(
        dict(kwargs), dict(received.kwargs), "kwargs"
    )
    if difference is not None:
        raise AssertionError(f"{task.path}: {difference} changed on its way to the {executor.name.lower()}")
    return pickled


def first_difference(sent: Any, received: Any, where: str = "value") -> str | None:
    """Where *received* first differs from *sent*, or None: equal, and of the same type all the way
    down (``1``, ``True`` and ``1.0`` differ here; NaN equals NaN; datetimes keep zone and fold)."""
    if type(sent) is not type(received):
        return f"{where} ({type(sent).__name__} became {type(received).__name__})"
    if isinstance(sent, float) and math.isnan(sent):
        return None if math.isnan(received) else f"{where} (nan became {received!r})"
    if isinstance(sent, list | tuple):
        if len(sent) != len(received):
            return f"{where} (length {len(sent)} became {len(received)})"
        for i, (a, b) in enumerate(zip(sent, received, strict=True)):
            found = first_difference(a, b, f"{where}[{i}]")
            if found:
                return found
        return None
    if isinstance(sent, dict):
        if sent.keys() != received.keys():
            return f"{where} (keys {sorted(map(repr, sent))} became {sorted(map(repr, received))})"
        keys = {k: k for k in received}
        for key, value in sent.items():
            found = first_difference(key, keys[key], f"{where} key {key!r}") or first_difference(
                value, received[key], f"{where}[{key!r}]"
            )
            if found:
                return found
        return None
    if isinstance(sent, set | frozenset):
        if sent != received or sorted(type(v).__name__ for v in sent) != sorted(
            type(v).__name__ for v in received
        ):
            return f"{where} ({sent!r} became {received!r})"
        return None
    if isinstance(sent, datetime | time):
        same = (sent.fold, sent.utcoffset(), sent.tzname()) == (
            received.fold,
            received.utcoffset(),
            received.tzname(),
        )
        return None if sent == received and same else f"{where} ({sent!r} became {received!r})"
    if attrs.has(type(sent)) or (dataclasses.is_dataclass(sent) and not isinstance(sent, type)):
        names = [
            f.name for f in (attrs.fields(type(sent)) if attrs.has(type(sent)) else dataclasses.fields(sent))
        ]
        for name in names:
            found = first_difference(getattr(sent, name), getattr(received, name), f"{where}.{name}")
            if found:
                return found
        return None
    return None if sent == received else f"{where} ({sent!r} became {received!r})"
