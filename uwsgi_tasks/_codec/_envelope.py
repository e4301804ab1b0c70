"""TaskSpec <-> JSON bytes: one encoder for a whole spec and for a send, and the checked decoder.

A spec's own fields go through cattrs (`_converter`), the user's values through `_values`. Encoding
writes the spec's own fields as one JSON text and splices the values in after them (`_spliced`).
A task's sends share that text: a `Template` encodes the fixed fields once, so that each send only
writes its per-send fields and its arguments. A whole spec (a retry, a re-dispatch: `outgoing`)
goes the same way, every field of it in the text.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping
from typing import Any, Final

import attrs

from .._exceptions import DecodeError, EncodeError
from .._retry import RetryPolicy
from .._spec import LAST_SECOND, PRIORITIES, MuleTarget, TaskSpec
from ._converter import VALUE_FIELDS, converter
from ._json import json_bytes, json_object, to_json
from ._values import Encoder, decode, json_pieces, quote, scalar_text


@attrs.define  # not frozen: made on every send, and a frozen attrs __init__ costs more
class Outgoing:
    """A task ready to send: its encoded spec, and what routing and the handle need to know."""

    task_id: str
    function: str
    data: bytes
    pickled: tuple[str, ...]
    attempt: int = 1
    at: int | None = None
    priority: int | None = None
    spooler: str | None = None
    mule: MuleTarget | None = None
    store_result: bool = True


# What changes from one send of a task to the next; the rest of its spec is encoded once.
_PER_SEND: Final = ("task_id", "enqueued_at", "working_dir", "at")


def _fields_text(spec: TaskSpec, leave_out: Collection[str]) -> str:
    """The JSON object of *spec*'s own fields but *leave_out*, left open for more members.

    "function" is always there (it has no default): the object is never empty, so what is spliced
    after it starts with a comma. Text, not bytes: a send's head is made as one string.
    """
    tree = converter.unstructure(spec)
    for name in leave_out:
        tree.pop(name, None)
    return to_json(tree)[:-1]


class Template:
    """A task's fixed fields encoded once, so that each send only encodes what changes.

    *prototype* holds the fixed fields of a first attempt (function, retry policy, priority,
    spooler, mule, ...); its per-send fields (task id, enqueue time, working directory, ``at``) and
    its values are ignored.
    """

    __slots__ = ("_fields", "_prototype")

    def __init__(self, prototype: TaskSpec) -> None:
        self._prototype = prototype
        self._fields = _fields_text(prototype, _PER_SEND)

    def outgoing(
        self,
        task_id: str,
        enqueued_at: float,
        working_dir: str | None,
        at: int | None,
        args: tuple[Any, ...],
        kwargs: Mapping[str, Any],
    ) -> Outgoing:
        # task_id is ours (hex) and enqueued_at a finite float: both are their own JSON.
        head = f'{self._fields},"task_id":"{task_id}","enqueued_at":{enqueued_at!r}'
        if working_dir is not None:
            head = f'{head},"working_dir":{quote(working_dir)}'
        if at is not None:
            head = f'{head},"at":{at:d}'
        data, pickled = _spliced(head, args, kwargs, None)
        p = self._prototype
        return Outgoing(
            task_id, p.function, data, pickled, 1, at, p.priority, p.spooler, p.mule, p.store_result
        )


def outgoing(spec: TaskSpec) -> Outgoing:
    """*spec* ready to send, every field of it (a retry's attempt number, a re-dispatch's buffer)."""
    data, pickled = _spliced(_fields_text(spec, ()), spec.args, spec.kwargs, spec.buffer)
    return Outgoing(
        spec.task_id,
        spec.function,
        data,
        pickled,
        spec.attempt,
        spec.at,
        spec.priority,
        spec.spooler,
        spec.mule,
        spec.store_result,
    )


def _spliced(
    head: str, args: tuple[Any, ...], kwargs: Mapping[str, Any], buffer: Mapping[Any, Any] | None
) -> tuple[bytes, tuple[str, ...]]:
    """The JSON object *head* starts (its fields, left open) with the values spliced in, and where
    they had to be pickled.

    A send (*buffer* None) has ``args``, then ``kwargs`` unless there are none; a whole spec has its
    ``kwargs`` even when empty, then its ``buffer``. Both layouts are the wire format as released,
    pinned byte for byte by tests/unit/test_envelope.py.
    """
    text = _scalar_arguments(args, kwargs)
    if text is not None and buffer is None:  # a send of plain scalars, the commonest: one text
        return f"{head}{text}}}".encode("utf-8", "surrogatepass"), ()
    encoder: Encoder | None = None  # only for values that are not plain scalars
    try:
        if text is not None:  # a whole spec's plain scalars
            parts = [f"{head}{text}".encode("utf-8", "surrogatepass")]
            if not kwargs:
                parts.append(b',"kwargs":{}')
        else:
            parts = [head.encode("utf-8", "surrogatepass"), b',"args":[']
            for i, value in enumerate(args):
                pieces = json_pieces(value)
                if pieces is None:
                    encoder = encoder or Encoder()
                    pieces = (json_bytes(encoder.encode(value, f"args[{i}]")),)
                if i:
                    parts.append(b",")
                parts += pieces
            parts.append(b"]")
            if kwargs or buffer is not None:
                parts.append(b',"kwargs":{')
                for i, (key, value) in enumerate(kwargs.items()):
                    pieces = json_pieces(value)
                    if pieces is None:
                        encoder = encoder or Encoder()
                        pieces = (json_bytes(encoder.encode(value, key)),)
                    parts += (b"," if i else b"", quote(key).encode("utf-8", "surrogatepass"), b":")
                    parts += pieces
                parts.append(b"}")
        if buffer:
            encoder = encoder or Encoder()
            parts += (b',"buffer":', json_bytes(encoder.encode(dict(buffer), "buffer")))
        elif buffer is not None:
            parts.append(b',"buffer":{}')
    except RecursionError:
        raise EncodeError("the arguments are nested too deeply to be sent") from None
    parts.append(b"}")
    return b"".join(parts), () if encoder is None else tuple(encoder.pickled)


def _scalar_arguments(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> str | None:
    """The ``"args"`` and ``"kwargs"`` members as one text when every value is a plain scalar or small
    bytes (the common case: no `Encoder`, no bytes pieces to join); None otherwise. No ``"kwargs"``
    when there are none."""
    texts = []
    for value in args:
        text = quote(value) if type(value) is str else scalar_text(value)  # str: the commonest, inline
        if text is None:
            return None
        texts.append(text)
    joined = ',"args":[' + ",".join(texts) + "]"
    if not kwargs:
        return joined
    items = []
    for key, value in kwargs.items():
        text = scalar_text(value)
        if text is None or type(key) is not str:
            return None
        items.append(f"{quote(key)}:{text}")
    return joined + ',"kwargs":{' + ",".join(items) + "}"


_CONTAINERS: Final = frozenset({list, dict})
_NONE: Final = type(None)

# The spec's own scalar fields and the exact JSON types each may hold (bool is not an int here).
# Checked by hand rather than by cattrs: it is every task's decode, and cattrs converts where a
# hostile or broken file should be refused ("3" is not an attempt number).
_SCALARS: Final[dict[str, tuple[type, ...]]] = {
    "function": (str,),
    "task_id": (str,),
    "enqueued_at": (float, int),
    "attempt": (int,),
    "at": (int, _NONE),
    "priority": (int, _NONE),
    "spooler": (str, _NONE),
    "mule": (int, str, _NONE),
    "working_dir": (str, _NONE),
    "spooler_return": (bool,),
    "store_result": (bool,),
}
_SPEC_KEYS: Final = frozenset(field.name for field in attrs.fields(TaskSpec))
assert {*_SCALARS, *VALUE_FIELDS, "retry"} == _SPEC_KEYS, "a TaskSpec field the decoder doesn't know"

# A decoded spec is made by filling its instance dict, as TaskSpec's own __init__ does but without the
# keyword call (half the cost of a decode's structuring). That is only the same thing while TaskSpec
# keeps a dict, plain defaults and no validators, converters or post-init: checked here.
_REQUIRED: Final = frozenset(f.name for f in attrs.fields(TaskSpec) if f.default is attrs.NOTHING)
_DEFAULTS: Final = {k: v for k, v in vars(TaskSpec("", "", 0.0)).items() if k not in _REQUIRED}
assert not hasattr(TaskSpec, "__slots__") and not hasattr(TaskSpec, "__attrs_post_init__")
assert not any(f.validator or f.converter for f in attrs.fields(TaskSpec))
assert _REQUIRED | _DEFAULTS.keys() == _SPEC_KEYS
assert {k for k, v in _DEFAULTS.items() if isinstance(v, dict)} == {"kwargs", "buffer"}  # made afresh


#: More attempts than any retry policy asks for is a forged or broken count.
MOST_ATTEMPTS: Final = 1_000_000


def _check_scalars(tree: dict[str, Any]) -> None:
    """The spec's own fields: exact JSON types, then values a task can have (a file that parses is
    not yet a task: ``"attempt": 10**30`` or an ``at`` past year 9999 would fail far from here)."""
    if not tree.keys() <= _SPEC_KEYS:
        raise DecodeError(f"not a valid task: unknown fields {sorted(tree.keys() - _SPEC_KEYS)}")
    for name, value in tree.items():
        kinds = _SCALARS.get(name)
        if kinds is not None and type(value) not in kinds:
            raise DecodeError(f"not a valid task: {name} is {type(value).__name__} {value!r:.80}")
    problem = None
    task_id, attempt = tree.get("task_id", "0"), tree.get("attempt", 1)
    enqueued_at, at = tree.get("enqueued_at", 0.0), tree.get("at")
    priority, mule = tree.get("priority"), tree.get("mule")
    if not (0 < len(task_id) <= 64 and task_id.isascii() and task_id.isalnum()):
        problem = f"task_id {task_id[:80]!r} is not a task id"
    elif not 1 <= attempt <= MOST_ATTEMPTS:
        problem = f"attempt {str(attempt)[:80]} is not an attempt number"
    elif not (isinstance(enqueued_at, int) or math.isfinite(enqueued_at)):
        problem = f"enqueued_at {enqueued_at} is not a time"
    elif at is not None and not 0 <= at <= LAST_SECOND:
        problem = f"at={str(at)[:80]} is not a unix second before year 10000"
    elif priority is not None and not 0 <= priority < PRIORITIES:
        problem = f"priority {str(priority)[:80]} is not a spooler priority (0 or more)"
    elif (type(mule) is int and mule < 0) or mule == "":
        problem = f"mule {mule!r} is not a mule or farm"
    if problem is not None:
        raise DecodeError(f"not a valid task: {problem}")


def _structure_spec(tree: dict[str, Any]) -> TaskSpec:
    """A TaskSpec from its JSON object (checked by `_check_scalars`), the user's values decoded."""
    enqueued_at = tree.get("enqueued_at")
    if type(enqueued_at) is int:  # a producer that wrote whole seconds
        tree["enqueued_at"] = float(enqueued_at)
    retry = tree.get("retry")
    if retry is not None:
        tree["retry"] = converter.structure(retry, RetryPolicy)
    if not tree.keys() >= _REQUIRED:
        raise DecodeError(f"not a valid task: missing fields {sorted(_REQUIRED - tree.keys())}")
    spec: TaskSpec = object.__new__(TaskSpec)
    fields = spec.__dict__
    fields.update(_DEFAULTS)
    fields["kwargs"], fields["buffer"] = {}, {}
    fields.update(tree)
    return spec


def loads(data: bytes, admit: Callable[[str], object] | None = None) -> TaskSpec:
    """The spec in *data*; `DecodeError` for anything but a valid spec.

    *admit* is called with the function path once the spec's own fields are checked, before any
    value is decoded (see `_codec.Admit`); what it raises leaves here as it is.
    """
    tree = json_object(data, "the task")
    args, kwargs = tree.get("args"), tree.get("kwargs", {})
    if not (type(args) is list and type(kwargs) is dict):
        raise DecodeError("not a valid task: args must be a JSON array and kwargs an object")
    _check_scalars(tree)
    if admit is not None and "function" in tree:
        admit(tree["function"])
    try:
        # Scalars are their own value: only containers and tags need decoding.
        tree["args"] = tuple([decode(v) if type(v) in _CONTAINERS else v for v in args])
        if kwargs:
            tree["kwargs"] = {k: decode(v) if type(v) in _CONTAINERS else v for k, v in kwargs.items()}
        if "buffer" in tree:  # absent: the default; present, it must be a dict (null is not)
            tree["buffer"] = decode(tree["buffer"])
            if type(tree["buffer"]) is not dict:
                raise DecodeError("not a valid task: the buffer is not a dict")
        return _structure_spec(tree)
    except DecodeError:
        raise
    except Exception as e:  # whatever a broken retry policy makes cattrs raise: never "try again"
        raise DecodeError(f"not a valid task: {e!r}") from e
